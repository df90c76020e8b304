"""Import PyPI's torchvision (a CUDA build) beside the CPU torch, without its C++ ops.

The only torchvision wheel on PyPI for torch 2.13.0 is built for CUDA. Its Python parts (transforms,
model definitions, weight tables) run on the CPU, but its C++ extension (``_C.so``: nms, roi_align,
deform_conv2d) links ``libtorch_cuda.so``, which the CPU torch lacks, so it does not load. torchvision
is made to import without it (``torchvision.extension._has_ops()`` is False and every op raises
"Couldn't load custom C++ ops" when called), except that ``torchvision/_meta_registrations.py``
registers fake kernels for ``torchvision::nms`` and ``torchvision::qnms`` unconditionally, which
needs those operators declared: ``RuntimeError: operator torchvision::nms does not exist``. Where the
extension cannot load, we declare the two schemas as torchvision's C++ declares them (no kernel), so
that ``import torchvision`` (mmpretrain, pytorchvideo and mmaction2's ``PytorchVideoWrapper`` import
it) goes through; calling nms still fails loudly, through torchvision's own check. A torchvision
whose extension loads (a build that matches the torch) is left alone.
"""
import importlib.util
import os.path as osp
from typing import Optional

import torch

_DECLARED: Optional[torch.library.Library] = None
SCHEMAS = ('nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor',
           'qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')


def _extension_loads(package_dir: str) -> bool:
    path = osp.join(package_dir, '_C.so')
    if not osp.exists(path):
        return False
    try:
        torch.ops.load_library(path)
    except (ImportError, OSError):
        return False
    return True


def declare_torchvision_ops_without_extension() -> None:
    """Declare ``torchvision::nms``/``qnms`` where torchvision is installed and its extension cannot load."""
    global _DECLARED
    if _DECLARED is not None:
        return
    spec = importlib.util.find_spec('torchvision')
    if spec is None or spec.origin is None or _extension_loads(osp.dirname(spec.origin)):
        return
    library = torch.library.Library('torchvision', 'FRAGMENT')
    for schema in SCHEMAS:
        library.define(schema)
    _DECLARED = library
