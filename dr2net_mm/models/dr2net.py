"""``type='dr2net_mm.Dr2Net'``: build the original backbone, convert it in place, return it.

Not a wrapper module on purpose: the returned object *is* the original backbone (same class, same
parameter names), so model zoo checkpoints, ``init_cfg`` and ``load_from`` land where they always
did. The inner ``type`` (e.g. ``'SwinTransformer'``) resolves in the config's ``default_scope``.
"""
from typing import Optional

from mmengine.registry import MODELS as ROOT_MODELS
from torch import nn

from ..methods.dr2net import to_dr2net
from ..registry import MODELS
from ..reversible import PIECE_WORKING_SET
from .inner import inner_backbone_cfg


@MODELS.register_module(name='Dr2Net')
def build_dr2net_backbone(backbone: dict, alpha: float = 1.0, beta: float = 0.0, grad_mode: str = 'auto',
                          tol: float = 1e-3, piece_working_set: float = PIECE_WORKING_SET,
                          init_cfg: Optional[dict] = None, pretrained: Optional[str] = None) -> nn.Module:
    """Build ``backbone`` from its config and convert it with :func:`dr2net_mm.to_dr2net`."""
    backbone = inner_backbone_cfg('Dr2Net', backbone, init_cfg, pretrained)
    return to_dr2net(ROOT_MODELS.build(backbone), alpha=alpha, beta=beta, grad_mode=grad_mode, tol=tol,
                     piece_working_set=piece_working_set)
