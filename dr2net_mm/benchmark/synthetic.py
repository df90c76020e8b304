"""Synthetic batches a whole mmdet, mmseg, mmaction2 or mmpretrain model can train on: no dataset needed.

Inputs are random images or clips of the configured shape; targets are what each codebase's heads
accept (boxes, labels and, where the model predicts masks, masks; a label map; a clip or image label), with
classes drawn below the model's ``num_classes``. The batch goes through the model's own data
preprocessor, so normalisation, padding and shape formatting are the config's.
"""
from typing import Any, Dict, Iterator, Sequence

import numpy as np
import torch
from mmengine.config import Config


def find_key(node: Any, key: str) -> Iterator[Any]:
    """Every value of ``key`` in a nested config (dicts and lists), depth first."""
    if isinstance(node, dict):
        if key in node:
            yield node[key]
        for value in node.values():
            yield from find_key(value, key)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from find_key(value, key)


def num_classes_of(model_cfg: Dict) -> int:
    found = [n for n in find_key(model_cfg, 'num_classes') if isinstance(n, int) and n > 0]
    if not found:
        raise ValueError('the model config names no num_classes: cannot draw synthetic labels')
    return min(found)


def _images(rng: torch.Generator, batch: int, shape: Sequence[int]) -> list:
    return [torch.randint(0, 256, tuple(shape), generator=rng, dtype=torch.uint8) for _ in range(batch)]


def detection_batch(model_cfg: Dict, input_shape: Sequence[int], seed: int = 0, objects: int = 3) -> Dict:
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    batch, channels, height, width = input_shape
    rng = torch.Generator().manual_seed(seed)
    with_masks = any(True for _ in find_key(model_cfg, 'mask_head'))
    classes = num_classes_of(model_cfg)
    samples = []
    for _ in range(batch):
        xy = torch.rand(objects, 2, generator=rng) * torch.tensor([width * 0.6, height * 0.6])
        wh = (0.1 + 0.3 * torch.rand(objects, 2, generator=rng)) * torch.tensor([width, height])
        boxes = torch.cat([xy, xy + wh], 1)
        instances = InstanceData(bboxes=boxes, labels=torch.randint(0, classes, (objects,), generator=rng))
        if with_masks:
            masks = np.zeros((objects, height, width), dtype=np.uint8)
            for m, (x0, y0, x1, y1) in zip(masks, boxes.round().long().tolist(), strict=True):
                m[y0:y1, x0:x1] = 1
            instances.masks = BitmapMasks(masks, height, width)
        sample = DetDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                             pad_shape=(height, width), scale_factor=(1.0, 1.0)))
        sample.gt_instances = instances
        samples.append(sample)
    return dict(inputs=_images(rng, batch, (channels, height, width)), data_samples=samples)


def segmentation_batch(model_cfg: Dict, input_shape: Sequence[int], seed: int = 0) -> Dict:
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    batch, channels, height, width = input_shape
    rng = torch.Generator().manual_seed(seed)
    classes = num_classes_of(model_cfg)
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=(height, width), ori_shape=(height, width),
                                             pad_shape=(height, width)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, classes, (1, height, width), generator=rng))
        samples.append(sample)
    return dict(inputs=_images(rng, batch, (channels, height, width)), data_samples=samples)


def recognition_batch(model_cfg: Dict, input_shape: Sequence[int], seed: int = 0) -> Dict:
    """``input_shape`` is (batch, channels, frames, height, width): one clip per sample for 3D
    recognizers (NCTHW), ``frames`` segments per sample for 2D ones (NCHW)."""
    from mmaction.structures import ActionDataSample
    batch, channels, frames, height, width = input_shape
    rng = torch.Generator().manual_seed(seed)
    classes = num_classes_of(model_cfg)
    layout = model_cfg.get('data_preprocessor', {}).get('format_shape', 'NCTHW')
    if layout == 'NCTHW':
        per_sample = (1, channels, frames, height, width)
    elif layout == 'NCHW':
        per_sample = (frames, channels, height, width)
    else:
        raise ValueError(f'synthetic clips for format_shape={layout!r} are not supported (NCTHW, NCHW are)')
    samples = []
    for _ in range(batch):
        sample = ActionDataSample()
        sample.set_gt_label(int(torch.randint(0, classes, (1,), generator=rng)))
        samples.append(sample)
    return dict(inputs=_images(rng, batch, per_sample), data_samples=samples)


def classification_batch(model_cfg: Dict, input_shape: Sequence[int], seed: int = 0) -> Dict:
    from mmpretrain.structures import DataSample
    batch, channels, height, width = input_shape
    rng = torch.Generator().manual_seed(seed)
    classes = num_classes_of(model_cfg)
    samples = [DataSample().set_gt_label(int(torch.randint(0, classes, (1,), generator=rng))) for _ in range(batch)]
    return dict(inputs=_images(rng, batch, (channels, height, width)), data_samples=samples)


BUILDERS = dict(mmdet=detection_batch, mmseg=segmentation_batch, mmaction=recognition_batch,
                mmpretrain=classification_batch)


def synthetic_batch(cfg: Config, input_shape: Sequence[int], seed: int = 0) -> Dict:
    """A batch for ``cfg.model`` in the layout its data preprocessor takes (before preprocessing)."""
    scope = cfg.get('default_scope')
    if scope not in BUILDERS:
        raise ValueError(f'whole-model benchmarking supports the codebases {sorted(BUILDERS)}; this config '
                         f'has default_scope={scope!r} (use --backbone-only)')
    want = 5 if scope == 'mmaction' else 4
    if len(input_shape) != want:
        raise ValueError(f'--input-shape for a {scope} model has {want} numbers '
                         f'({"N C T H W" if want == 5 else "N C H W"}); got {list(input_shape)}')
    return BUILDERS[scope](cfg.model, tuple(input_shape), seed)


class ModelLoss:
    """The total training loss of a whole model on one fixed, preprocessed synthetic batch."""

    def __init__(self, model, batch: Dict):
        with torch.no_grad():
            self.data = model.data_preprocessor(batch, True)

    def __call__(self, model) -> torch.Tensor:
        losses = model(**self.data, mode='loss')
        loss, _ = model.parse_losses(losses)
        return loss

