"""``torchvision://NAME`` checkpoints without an importable torchvision.

mmengine resolves ``init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')`` (the
mmdet/mmseg ResNet configs) by importing torchvision only to read its table of model URLs. The
torchvision wheel on PyPI that matches torch 2.13.0 is a CUDA build: with the CPU torch its C
extension needs ``libtorch_cuda.so``, and ``import torchvision`` fails (``operator torchvision::nms
does not exist``); the CPU build lives only on PyTorch's own index. mmengine ships the same table for
the classic names (``mmengine/hub/torchvision_0.12.json``: resnet50, resnext101_32x8d, ...), so when
torchvision cannot be imported we read the URL from there and download as mmengine would. Where
torchvision imports, mmengine's own loader runs unchanged.
"""
import os.path as osp
from typing import Any, Callable, Dict, Optional

import mmengine
from mmengine.runner.checkpoint import CheckpointLoader, load_from_http, load_from_torchvision

PREFIXES = ('modelzoo://', 'torchvision://')


def _bundled_model_urls() -> Dict[str, str]:
    return mmengine.load(osp.join(mmengine.__path__[0], 'hub', 'torchvision_0.12.json'))


def _torchvision_importable() -> bool:
    try:
        import torchvision  # noqa: F401
    except (ImportError, RuntimeError):   # RuntimeError: a CUDA torchvision beside a CPU torch
        return False
    return True


def load_torchvision_checkpoint(filename: str, map_location: Optional[Any] = None,
                                upstream: Callable = load_from_torchvision) -> Any:
    """mmengine's ``torchvision://`` loader, with mmengine's bundled URL table when torchvision is missing."""
    if _torchvision_importable():
        return upstream(filename, map_location=map_location)
    name = filename.split('://', 1)[1]
    urls = _bundled_model_urls()
    if name not in urls:
        raise ValueError(f'{filename}: torchvision is not importable here and mmengine\'s bundled table has no '
                         f'{name!r} (it has {", ".join(sorted(urls))}); install torchvision that matches torch, '
                         f'or point the checkpoint at a local file')
    return load_from_http(urls[name], map_location=map_location)


def allow_torchvision_checkpoints_without_torchvision() -> None:
    CheckpointLoader.register_scheme(prefixes=PREFIXES, loader=load_torchvision_checkpoint, force=True)
