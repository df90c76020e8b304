"""The demo data is deterministic and loads through each codebase's own dataset classes."""
import hashlib
import json
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope

from dr2net_mm.demo import make_demo_data
from dr2net_mm.demo.layout import MOTION_CLASSES, SHAPE_CLASSES

from conftest import CONFIGS


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob('*') if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_generation_is_deterministic(tmp_path):
    a = make_demo_data(tmp_path / 'a', scale=0.02)
    b = make_demo_data(tmp_path / 'b', scale=0.02)
    assert _digest(a) == _digest(b)


def test_coco_annotations_are_consistent(demo_workspace):
    ann = json.loads((demo_workspace / 'data/demo/coco_shapes/finetune/annotations/instances_train.json').read_text())
    assert [c['name'] for c in ann['categories']] == list(SHAPE_CLASSES['finetune'])
    ids = {im['id'] for im in ann['images']}
    assert ann['annotations'] and all(a['image_id'] in ids for a in ann['annotations'])
    for a in ann['annotations']:
        x, y, w, h = a['bbox']
        poly = a['segmentation'][0]
        assert w > 0 and h > 0 and a['area'] > 0 and len(poly) >= 6
        assert min(poly[0::2]) >= x - 0.02 and max(poly[0::2]) <= x + w + 0.02


def _dataset_from_config(config: str, split: str = 'val_dataloader'):
    cfg = Config.fromfile(str(CONFIGS / config))
    init_default_scope(cfg.default_scope)
    return DATASETS.build(cfg[split].dataset)


@pytest.mark.parametrize('config, checks', [
    ('classification/swin-nano_demo-shape-images-finetune.py',
     lambda s: tuple(s['inputs'].shape) == (3, 64, 64)
     and int(s['data_samples'].gt_label) < len(SHAPE_CLASSES['finetune'])),
    ('detection/mask-rcnn_swin-nano_fpn_demo-shapes-finetune.py',
     lambda s: s['data_samples'].gt_instances.masks.masks.shape[0] == len(s['data_samples'].gt_instances.labels) > 0),
    ('segmentation/upernet_swin-nano_demo-shapes-finetune.py',
     lambda s: set(s['data_samples'].gt_sem_seg.data.unique().tolist()) <= {0, 1, 2, 3, 255}),
    ('recognition/swin3d-nano_demo-motion-finetune.py',
     lambda s: tuple(s['inputs'].shape) == (1, 3, 8, 64, 64)
     and int(s['data_samples'].gt_label) < len(MOTION_CLASSES['finetune'])),
    ('tad/swin3d-nano_demo-untrimmed-finetune.py',
     lambda s: tuple(s['inputs'].shape) == (1, 3, 64, 64, 64) and len(s['data_samples'].video_labels) >= 2
     and (s['data_samples'].gt_labels < len(MOTION_CLASSES['finetune'])).all()),
])
@pytest.mark.parametrize('split', ['train_dataloader', 'val_dataloader'])
def test_demo_data_loads_through_codebase_dataset(in_workspace, config, checks, split):
    dataset = _dataset_from_config(config, split)
    assert len(dataset) >= 2
    sample = dataset[0]
    assert checks(sample)


def test_segmentation_labels_follow_ade20k_convention(demo_workspace):
    import cv2
    import numpy as np
    ann = demo_workspace / 'data/demo/ade_shapes/pretrain/annotations/training'
    values = set()
    for path in sorted(ann.glob('*.png'))[:5]:
        values |= set(np.unique(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)).tolist())
    assert 0 not in values and 1 in values and values <= {1, 2, 3, 4}


@pytest.mark.parametrize('motion', sorted(set(MOTION_CLASSES['pretrain']) | set(MOTION_CLASSES['finetune'])))
def test_motion_clips_show_their_class(motion, monkeypatch):
    """A bright disc on a darker background moves (or grows/shrinks) as its label says."""
    import numpy as np

    from dr2net_mm.demo import motion as module
    noisy = module.render_clip(np.random.RandomState(0), motion, 64, 16).astype(np.float32)
    monkeypatch.setattr(module, 'FRAME_NOISE', 0.0)  # the geometry, without the per-frame noise
    clip = module.render_clip(np.random.RandomState(0), motion, 64, 16).astype(np.float32)
    assert 20 < (noisy - clip).std() < 40 and np.abs(np.diff(noisy - clip, axis=0)).mean() > 10
    clip = clip.mean(-1)
    disc = clip > 128  # the disc is brighter than any background pixel
    assert disc.any(axis=(1, 2)).all() and ((clip > 90) & (clip < 160)).mean() < 0.02  # only antialiased rims
    area = disc.sum(axis=(1, 2))
    ys, xs = np.mgrid[0:64, 0:64]
    centre = np.stack([(disc * xs).sum((1, 2)) / area, (disc * ys).sum((1, 2)) / area], 1)
    if motion in module.DIRECTIONS:
        shift = centre[-1] - centre[0]
        direction = np.array(module.DIRECTIONS[motion]) / np.hypot(*module.DIRECTIONS[motion])
        across = np.array([-direction[1], direction[0]])
        assert shift @ direction > 10 and abs(shift @ across) < 2
        assert area.max() - area.min() < 0.1 * area.mean()
    else:
        assert (area[-1] > 2 * area[0]) == (motion == 'grow') and (area[0] > 2 * area[-1]) == (motion == 'shrink')


def test_segmentation_shapes_are_filled_with_their_class_texture():
    """Each segmentation class has its own fill pattern (evidence near every pixel), two colours inside."""
    import numpy as np

    from dr2net_mm.demo.shapes import TEXTURES, random_scene, rasterise_labels, texture
    rng = np.random.RandomState(0)
    rows, cols = texture('circle', rng, 32), texture('pentagon', rng, 32)
    assert (rows == rows[:, :1]).all() and not (rows == rows[:1]).all()      # horizontal stripes
    assert (cols == cols[:1]).all() and not (cols == cols[:, :1]).all()      # vertical stripes
    for split_classes in SHAPE_CLASSES.values():
        assert len({TEXTURES[c] for c in split_classes}) == len(split_classes)
        img, instances = random_scene(np.random.RandomState(1), split_classes, 128, textured=True)
        for inst in instances:
            inside = img[rasterise_labels([inst], 128, background_value=0, first_class_value=1) > 0]
            colours = 1 if TEXTURES[split_classes[inst.label]] == 'solid' else 2
            assert len(np.unique(inside, axis=0)) == colours, 'a flat fill, or a pattern in two colours'
    flat, _ = random_scene(np.random.RandomState(1), SHAPE_CLASSES['pretrain'], 128)
    assert not np.array_equal(flat, random_scene(np.random.RandomState(1), SHAPE_CLASSES['pretrain'], 128,
                                                 textured=True)[0])


def test_untrimmed_videos_idle_between_their_actions():
    """2-4 actions of 12-96 frames, same-class pairs a short pause apart; the disc is still outside
    actions (but for one cut per gap between groups), moves or resizes in every action frame."""
    import numpy as np

    from dr2net_mm.demo import untrimmed
    rng = np.random.RandomState(0)
    pairs = 0
    for _ in range(40):
        actions, frames = untrimmed.plan_actions(rng, MOTION_CLASSES['finetune'])
        assert 2 <= len(actions) <= 4 and actions[-1].end < frames
        assert all(12 <= a.end - a.start <= 96 for a in actions)
        for a, b in zip(actions, actions[1:], strict=False):
            gap = b.start - a.end
            if a.group == b.group:
                pairs += 1
                assert a.label == b.label and 4 <= gap <= 8
            else:
                assert gap >= 12
        centres, radii = untrimmed.disc_path(rng, actions, frames, 64)
        assert ((centres - radii[:, None]) >= 0).all() and ((centres + radii[:, None]) <= 64).all()
        change = (np.abs(np.diff(centres, axis=0)).sum(1) + np.abs(np.diff(radii))) > 1e-6
        acting = np.zeros(frames - 1, bool)
        for a in actions:
            acting[a.start:a.end - 1] = True          # frame t to t + 1 inside the action
            assert change[a.start:a.end - 1].all()
        groups = len({a.group for a in actions})
        assert change[~acting].sum() == (groups - 1) + len(actions)   # cuts, and steps into actions
    assert pairs >= 5


def test_a_changed_dataset_version_regenerates_that_dataset_only(tmp_path, monkeypatch):
    from dr2net_mm.demo import make
    root = make.make_demo_data(tmp_path, scale=0.02)
    stamps = {d: make.manifest_path(root, d).stat().st_mtime_ns for d in make.DATA_VERSIONS}
    monkeypatch.setitem(make.DATA_VERSIONS, 'untrimmed', make.DATA_VERSIONS['untrimmed'] + 1)
    assert not make.demo_data_is_current(root, 0.02) and make.dataset_is_current(root, 'motion', 0.02)
    make.make_demo_data(root, scale=0.02)
    assert make.demo_data_is_current(root, 0.02)
    after = {d: make.manifest_path(root, d).stat().st_mtime_ns for d in make.DATA_VERSIONS}
    assert after['untrimmed'] > stamps['untrimmed']
    assert all(after[d] == stamps[d] for d in ('shapes', 'motion'))


@pytest.mark.parametrize('split', ['pretrain', 'finetune'])
def test_shape_images_are_an_image_folder_of_balanced_classes(in_workspace, split):
    """mmpretrain's CustomDataset finds the split's classes from the folder names, every class present."""
    import numpy as np
    stem = 'classification/swin-nano_demo-shape-images'
    for subset in ('train_dataloader', 'val_dataloader'):
        cfg = Config.fromfile(str(CONFIGS / f'{stem}-{split}.py'))
        init_default_scope(cfg.default_scope)
        dataset = DATASETS.build(cfg[subset].dataset)
        assert sorted(dataset.CLASSES) == sorted(SHAPE_CLASSES[split])
        counts = np.bincount(dataset.get_gt_labels(), minlength=len(SHAPE_CLASSES[split]))
        assert counts.min() >= 1 and counts.max() - counts.min() <= 1, counts
