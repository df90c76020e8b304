"""The input shape a config trains on, read from its pipeline (overridable on the command line)."""
from typing import Optional, Sequence, Tuple

from mmengine.config import Config


def _pipeline(cfg: Config):
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    while 'dataset' in dataset and 'pipeline' not in dataset:   # RepeatDataset & co.
        dataset = dataset['dataset']
    return dataset.get('pipeline', [])


def _last_size(pipeline) -> Optional[Tuple[int, int]]:
    """(height, width) after the last spatial transform that fixes the size."""
    size = None
    for t in pipeline:
        kind = t.get('type', '')
        if kind in ('RandomCrop', 'CenterCrop', 'RandomResizedCrop') and 'crop_size' in t:
            c = t['crop_size']
            size = (c, c) if isinstance(c, int) else (c[0], c[1])
        elif kind in ('Resize', 'RandomResize') and isinstance(t.get('scale'), (list, tuple)):
            w, h = t['scale']
            if w > 0 and h > 0:
                size = (min(w, h), max(w, h)) if kind == 'RandomResize' else (h, w)
    return size


def _window_frames(cfg: Config) -> Optional[int]:
    """Frames a temporal action detection sample sees: its resized length or its window."""
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    return dataset.get('resize_length') or dataset.get('window_length')


def _img_size(model_cfg) -> Optional[Tuple[int, int]]:
    """(height, width) of the first ``img_size`` in the model config (a wrapped backbone's too)."""
    from .synthetic import find_key
    size = next(find_key(model_cfg, 'img_size'), None)
    if size is None:
        return None
    return (size, size) if isinstance(size, int) else (size[0], size[1])


def config_input_shape(cfg: Config, batch_size: Optional[int] = None) -> Tuple[int, ...]:
    scope = cfg.get('default_scope')
    pipeline = _pipeline(cfg)
    batch = batch_size or cfg.get('train_dataloader', {}).get('batch_size', 2)
    if scope == 'mmseg':
        size = cfg.model.get('data_preprocessor', {}).get('size') or _last_size(pipeline) or (512, 512)
        return (batch, 3, *size)
    if scope == 'mmpretrain':   # images kept at their size (no Resize): the backbone's img_size
        return (batch, 3, *(_last_size(pipeline) or _img_size(cfg.model) or (224, 224)))
    if scope == 'mmaction':
        frames = next((t['clip_len'] * t.get('num_clips', 1) for t in pipeline if t.get('type') == 'SampleFrames'),
                      None) or _window_frames(cfg) or 16
        h, w = _last_size(pipeline) or (224, 224)
        return (batch, 3, frames, h, w)
    h, w = _last_size(pipeline) or (512, 512)
    divisor = cfg.model.get('data_preprocessor', {}).get('pad_size_divisor', 32)
    h, w = -(-h // divisor) * divisor, -(-w // divisor) * divisor
    return (batch, 3, h, w)


def resolve_input_shape(cfg: Config, input_shape: Optional[Sequence[int]],
                        batch_size: Optional[int]) -> Tuple[int, ...]:
    """The benchmark's input: ``--input-shape`` as ``C H W`` (``C T H W`` for video) with ``--batch-size``
    (else the config's), or a whole ``N C H W`` (``N C T H W``); without it, the config's own shape."""
    if not input_shape:
        return config_input_shape(cfg, batch_size)
    video = cfg.get('default_scope') == 'mmaction'
    per_sample = 4 if video else 3
    form = 'C T H W' if video else 'C H W'
    shape = tuple(int(v) for v in input_shape)
    if len(shape) == per_sample:
        batch = batch_size or cfg.get('train_dataloader', {}).get('batch_size', 2)
        shape = (batch, *shape)
    elif len(shape) == per_sample + 1:
        if batch_size is not None and batch_size != shape[0]:
            raise ValueError(f'--input-shape {" ".join(map(str, shape))} has batch {shape[0]} but --batch-size is '
                             f'{batch_size}; give one of them')
    else:
        raise ValueError(f'--input-shape takes {form} (with --batch-size N) or N {form} for this '
                         f'{cfg.get("default_scope")} config; got {len(shape)} numbers')
    if min(shape) < 1:
        raise ValueError(f'--input-shape must be positive, got {shape}')
    return shape
