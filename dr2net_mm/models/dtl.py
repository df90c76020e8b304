"""``type='dr2net_mm.DTL'``: build the original backbone, freeze it, attach the DTL side network.

Like ``dr2net_mm.Dr2Net`` this returns the original backbone object, so its parameter names (and
model zoo checkpoints) are unchanged; the side network's parameters live under ``dtl_side.``.
"""
from typing import Optional, Sequence

from mmengine.registry import MODELS as ROOT_MODELS
from torch import nn

from ..methods.dtl import to_dtl
from ..registry import MODELS
from .inner import inner_backbone_cfg


@MODELS.register_module(name='DTL')
def build_dtl_backbone(backbone: dict, rank: int, inject_from: int, dwconv_kernel: Optional[int] = None,
                       unfreeze: Sequence[str] = (), init_cfg: Optional[dict] = None,
                       pretrained: Optional[str] = None) -> nn.Module:
    """Build ``backbone`` from its config and apply :func:`dr2net_mm.to_dtl`."""
    backbone = inner_backbone_cfg('DTL', backbone, init_cfg, pretrained)
    return to_dtl(ROOT_MODELS.build(backbone), rank=rank, inject_from=inject_from, dwconv_kernel=dwconv_kernel,
                  unfreeze=unfreeze)
