"""Tiny data and pretrained checkpoints in the *real* formats the shipped COCO / ADE20K / Kinetics-400 /
Something-Something V2 / VTAB-1k configs read, so that those configs can be trained unchanged but for
data paths and batch size.

Checkpoints are written where the configs' own loaders look: ``torchvision://`` and ``https://``
names resolve through torch.hub's cache (``$TORCH_HOME/hub/checkpoints/<file name of the URL>``),
the ViT config's local ``pretrain/...`` path relative to the working directory. Each file has the
key layout of the real download (official Swin, mmseg-converted Swin, 2D Swin for Video Swin's
inflation, torchvision ResNet, mmseg ViT, BEiT and MAE, mmseg MiT, whole mmaction2 recognizers, whole
mmpretrain classifiers read through ``prefix='backbone.'``); the weights are random.
"""
import json
import os.path as osp
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlparse

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from dr2net_mm.demo.shapes import random_scene
from dr2net_mm.demo.writers import write_ade, write_coco

SHAPES = ('circle', 'square', 'triangle')


def _coco_names():
    """The 80 COCO category names: the annotation lists them all (as real COCO files do; the evaluator maps
    every predicted label to one), the shapes are written as the first three."""
    from mmdet.datasets import CocoDataset
    return CocoDataset.METAINFO['classes']


def write_coco_sample(root: Path, rng: np.random.RandomState) -> None:
    """``data/coco/{train2017,val2017}/*.jpg`` with ``annotations/instances_{train,val}2017.json``.

    The scenes are cut to wide strips: the COCO pipeline scales every image to fit 1333 x 800, and a
    160 x 32 image becomes 1333 x 267, a third of the pixels (and CPU time) of a square one; 32 rows
    is the configs' ``filter_cfg`` minimum.
    """
    for subset, count in (('train2017', 2), ('val2017', 1)):
        scenes = [_strip(*random_scene(rng, SHAPES, 160, max_objects=1)) for _ in range(count)]
        ann_file = root / 'coco' / 'annotations' / f'instances_{subset}.json'
        write_coco(scenes, _coco_names(), root / 'coco' / subset, ann_file, prefix=subset)


def _strip(img: np.ndarray, instances: list, height: int = 32):
    """The horizontal band of ``height`` rows around the first shape, with its polygon clipped to it."""
    shape = instances[0]
    top = int(np.clip(shape.polygon[:, 1].mean() - height / 2, 0, img.shape[0] - height))
    polygon = shape.polygon.astype(np.float32).copy()
    polygon[:, 1] = np.clip(polygon[:, 1] - top, 0, height - 1)
    return img[top:top + height].copy(), [replace(shape, polygon=polygon)]


def write_ade_sample(root: Path, rng: np.random.RandomState) -> None:
    """``data/ade/ADEChallengeData2016/{images,annotations}/{training,validation}``."""
    base = root / 'ade' / 'ADEChallengeData2016'
    for subset, count in (('training', 2), ('validation', 1)):
        scenes = [random_scene(rng, SHAPES, 96, textured=True) for _ in range(count)]
        write_ade(scenes, base / 'images' / subset, base / 'annotations' / subset, prefix=subset)


def _random_video(path: Path, rng: np.random.RandomState, frames: int, fps: float) -> None:
    """An MPEG-4 file of random 80 x 64 frames (decord reads it)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, (80, 64))
    for _ in range(frames):
        writer.write(rng.randint(0, 256, (64, 80, 3), dtype=np.uint8))
    writer.release()


def write_kinetics_sample(root: Path, rng: np.random.RandomState, frames: int = 24) -> None:
    """``data/kinetics400/videos_{train,val}/*.mp4`` (MPEG-4, read by decord) and the video lists."""
    base = root / 'kinetics400'
    for subset, count in (('train', 2), ('val', 1)):
        folder = base / f'videos_{subset}'
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for index in range(count):
            name = f'{subset}_{index:03d}.mp4'
            _random_video(folder / name, rng, frames, 25)
            lines.append(f'{name} {index % 400}')
        (base / f'kinetics400_{subset}_list_videos.txt').write_text('\n'.join(lines) + '\n')


def write_vtab_sample(root: Path, rng: np.random.RandomState) -> None:
    """``data/vtab-1k/cifar/`` as the VTAB-1k release lays a task out: ``images/`` and the lists
    ``train800val200.txt`` and ``test.txt`` ("<path relative to the task folder> <label>")."""
    base = root / 'vtab-1k' / 'cifar'
    (base / 'images').mkdir(parents=True, exist_ok=True)
    for subset, count in (('train800val200', 2), ('test', 1)):
        lines = []
        for index in range(count):
            name = f'images/{subset}_{index}.jpg'
            cv2.imwrite(str(base / name), rng.randint(0, 256, (32, 32, 3), dtype=np.uint8))
            lines.append(f'{name} {(37 * index + 5) % 100}')
        (base / f'{subset}.txt').write_text('\n'.join(lines) + '\n')


def write_sthv2_sample(root: Path, rng: np.random.RandomState, frames: int = 24) -> None:
    """``data/sthv2/videos/*`` and ``data/sthv2/sthv2_{train,val}_list_videos.txt`` (mmaction2's
    Something-Something V2 video lists: file name and label of 174)."""
    base = root / 'sthv2'
    folder = base / 'videos'
    folder.mkdir(parents=True, exist_ok=True)
    for subset, count in (('train', 2), ('val', 1)):
        lines = []
        for index in range(count):
            name = f'{subset}{index}.mp4'
            _random_video(folder / name, rng, frames, 12)
            lines.append(f'{name} {(7 * index) % 174}')
        (base / f'sthv2_{subset}_list_videos.txt').write_text('\n'.join(lines) + '\n')


THUMOS_CLASSES = ('BaseballPitch', 'BasketballDunk', 'Billiards', 'CleanAndJerk', 'CliffDiving', 'CricketBowling',
                  'CricketShot', 'Diving', 'FrisbeeCatch', 'GolfSwing', 'HammerThrow', 'HighJump', 'JavelinThrow',
                  'LongJump', 'PoleVault', 'Shotput', 'SoccerPenalty', 'TennisSwing', 'ThrowDiscus',
                  'VolleyballSpiking')


def write_thumos_sample(root: Path, rng: np.random.RandomState, frames: int = 48, fps: float = 30.0) -> None:
    """``data/thumos-14/raw_data/video/*.mp4`` and ``annotations/{thumos_14_anno.json,category_idx.txt}``
    as OpenTAD ships THUMOS-14: a ``database`` with ``subset``, ``duration``, ``frame`` and segments
    in seconds (an "Ambiguous" one among them, which evaluation ignores)."""
    base = root / 'thumos-14'
    folder = base / 'raw_data' / 'video'
    folder.mkdir(parents=True, exist_ok=True)
    database = {}
    for subset, names in (('validation', ('video_validation_0000051', 'video_validation_0000052')),
                          ('test', ('video_test_0000004',))):
        for index, name in enumerate(names):
            _random_video(folder / f'{name}.mp4', rng, frames, fps)
            database[name] = dict(subset=subset, duration=frames / fps, frame=frames, annotations=[
                dict(label=THUMOS_CLASSES[index], segment=[0.2, 0.9]),
                dict(label='Ambiguous', segment=[1.0, 1.2]),
                dict(label=THUMOS_CLASSES[index + 5], segment=[1.1, 1.5])])
    (base / 'annotations').mkdir(parents=True, exist_ok=True)
    (base / 'annotations' / 'thumos_14_anno.json').write_text(json.dumps(dict(database=database)))
    (base / 'annotations' / 'category_idx.txt').write_text('\n'.join(THUMOS_CLASSES) + '\n')


def write_activitynet_sample(root: Path, rng: np.random.RandomState, frames: int = 30, fps: float = 15.0) -> None:
    """``data/activitynet-1.3/raw_data/Anet_videos_15fps_short256/v_<id>.mp4`` and
    ``annotations/{activity_net.v1-3.min.json,category_idx.txt}``: the official file's layout
    (``version``, ``taxonomy``, a ``database`` whose videos give ``duration`` and ``url`` but no frame
    count or rate), 200 class names."""
    base = root / 'activitynet-1.3'
    folder = base / 'raw_data' / 'Anet_videos_15fps_short256'
    folder.mkdir(parents=True, exist_ok=True)
    classes = [f'Activity {i:03d}' for i in range(200)]
    database = {}
    for subset, names in (('training', ('sJFgo9H6zNo', 'V1zhqaGFY2A')), ('validation', ('JDg--pjY5gg',))):
        for index, name in enumerate(names):
            _random_video(folder / f'v_{name}.mp4', rng, frames, fps)
            database[name] = dict(subset=subset, duration=frames / fps, resolution='80x64',
                                  url=f'https://www.youtube.com/watch?v={name}',
                                  annotations=[dict(label=classes[7 * index], segment=[0.1, 1.2])])
    (base / 'annotations').mkdir(parents=True, exist_ok=True)
    (base / 'annotations' / 'activity_net.v1-3.min.json').write_text(
        json.dumps(dict(version='VERSION 1.3', taxonomy=[], database=database)))
    (base / 'annotations' / 'category_idx.txt').write_text('\n'.join(classes) + '\n')


def _inner_backbone_cfg(cfg: Config) -> dict:
    backbone = cfg.model.backbone
    return dict(backbone.get('backbone', backbone))


def _pretrained_source(cfg: Config) -> str:
    inner = _inner_backbone_cfg(cfg)
    init_cfg = inner.get('init_cfg') or {}
    return (init_cfg.get('checkpoint') or inner.get('pretrained') or cfg.model.get('pretrained')
            or cfg.get('load_from'))


def _official_swin(state: dict) -> dict:
    """mmdet Swin names back to the official Swin release's (what ``swin_converter`` reads)."""
    renames = (('stages.', 'layers.'), ('attn.w_msa.', 'attn.'), ('ffn.layers.0.0.', 'mlp.fc1.'),
               ('ffn.layers.1.', 'mlp.fc2.'), ('patch_embed.projection.', 'patch_embed.proj.'))
    out = {}
    for key, value in state.items():
        if key.startswith('norm'):       # mmdet's per-output norms; the release has one final `norm`
            continue
        for old, new in renames:
            key = key.replace(old, new)
        out[key] = value
    return dict(model=out)


def _swin_2d(state: dict, window: int = 7) -> dict:
    """A Video Swin state dict as the 2D ImageNet release that ``inflate_weights`` reads."""
    out = {}
    for key, value in state.items():
        if 'relative_position_index' in key:
            continue
        if key == 'patch_embed.proj.weight':
            value = value[:, :, 0]
        elif 'relative_position_bias_table' in key:
            value = value[:(2 * window - 1) ** 2]
        out[key.replace('norm3.', 'norm.')] = value
    return dict(model=out)


def write_pretrained(config: Path, workspace: Path, torch_home: Path) -> str:
    """The config's pretrained backbone checkpoint, written where its loader will find it."""
    cfg = Config.fromfile(str(config))
    init_default_scope(cfg.default_scope)
    inner = _inner_backbone_cfg(cfg)
    source = _pretrained_source(cfg)
    for key in ('init_cfg', 'pretrained'):
        inner.pop(key, None)
    if inner['type'] == 'SwinTransformer3D':
        inner['pretrained2d'] = False
    state = {k: v for k, v in MODELS.build(inner).state_dict().items() if 'num_batches_tracked' not in k}
    if source.startswith('torchvision://'):
        contents = dict(state, **{'fc.weight': torch.zeros(1000, 2048), 'fc.bias': torch.zeros(1000)})
        import mmengine
        urls = mmengine.load(osp.join(mmengine.__path__[0], 'hub', 'torchvision_0.12.json'))
        path = torch_home / 'hub' / 'checkpoints' / osp.basename(urlparse(urls[source.split('://')[1]]).path)
    elif source.startswith('http') and source == cfg.get('load_from'):
        # a whole recognizer checkpoint (mmaction2's Kinetics-400 release): backbone.* and cls_head.*
        head = cfg.model.get('cls_head') or dict(in_channels=768)
        contents = dict(state_dict=dict({f'backbone.{k}': v for k, v in state.items()},
                                        **{'cls_head.fc_cls.weight': torch.zeros(400, head['in_channels']),
                                           'cls_head.fc_cls.bias': torch.zeros(400)}))
        path = torch_home / 'hub' / 'checkpoints' / osp.basename(urlparse(source).path)
    elif source.startswith('http') and (cfg.model.backbone.get('backbone', {}).get('init_cfg') or {}).get('prefix'):
        # a whole model's checkpoint read through init_cfg prefix= (mmaction2's MViT release)
        prefix = cfg.model.backbone.backbone.init_cfg.prefix
        contents = dict(state_dict={f'{prefix}{k}': v for k, v in state.items()})
        path = torch_home / 'hub' / 'checkpoints' / osp.basename(urlparse(source).path)
    elif source.startswith('http'):
        if inner['type'] == 'SwinTransformer3D':
            contents = _swin_2d(state)
        elif cfg.default_scope == 'mmdet':
            contents = _official_swin(state)
        else:
            contents = dict(state_dict=state)     # mmseg's converted Swin release
        path = torch_home / 'hub' / 'checkpoints' / osp.basename(urlparse(source).path)
    else:
        contents, path = dict(state_dict=state), workspace / source   # mmseg ViT, converted as the README says
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(contents, path)
    return source
