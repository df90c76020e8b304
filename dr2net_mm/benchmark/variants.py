"""The methods compared by the benchmark, each built from one config's backbone.

- ``autograd``: the original backbone, conventional finetuning;
- ``with_cp``: the original backbone with OpenMMLab's own ``with_cp=True``;
- ``dr2net``: the backbone converted by :func:`dr2net_mm.to_dr2net` at the given coefficients;
- ``dtl``: the backbone frozen with a DTL side network (settings from the config's ``dr2net_mm.DTL``
  wrapper when it has one, else the given ones).

A config whose backbone is already a ``dr2net_mm.*`` wrapper is unwrapped to the original first, so
every method starts from the same pretrained architecture.
"""
import copy
from typing import Dict, Optional

WRAPPERS = ('dr2net_mm.Dr2Net', 'dr2net_mm.DTL')
METHODS = ('autograd', 'with_cp', 'dr2net', 'dtl')


class NotApplicable(Exception):
    """A method that does not apply to a backbone (reported, not crashed on)."""


def innermost_backbone_cfg(backbone_cfg: Dict) -> Dict:
    """The original backbone's dict inside any ``dr2net_mm.*`` wrappers, itself (not a copy)."""
    while backbone_cfg.get('type') in WRAPPERS:
        backbone_cfg = backbone_cfg['backbone']
    return backbone_cfg


def original_backbone_cfg(backbone_cfg: Dict) -> Dict:
    """A copy of the original backbone's config, without the wrappers."""
    return copy.deepcopy(dict(innermost_backbone_cfg(backbone_cfg)))


def dtl_settings(backbone_cfg: Dict, rank: int = 4, inject_from: Optional[int] = None) -> Dict:
    """DTL settings of a config's wrapper, else the given ones (``inject_from=None``: decided later)."""
    cfg = dict(backbone_cfg)
    while cfg.get('type') in WRAPPERS:
        if cfg['type'] == 'dr2net_mm.DTL':
            return {k: cfg[k] for k in ('rank', 'inject_from', 'dwconv_kernel') if k in cfg}
        cfg = dict(cfg['backbone'])
    return dict(rank=rank, inject_from=inject_from)


def method_backbone_cfg(backbone_cfg: Dict, method: str, alpha: float, beta: float,
                        grad_mode: str = 'auto', dtl: Optional[Dict] = None) -> Dict:
    """The backbone config for ``method``; raises :class:`NotApplicable` where it does not apply."""
    original = original_backbone_cfg(backbone_cfg)
    if method == 'dtl':
        settings = dict(dtl or dtl_settings(backbone_cfg))
        if settings.get('inject_from') is None:
            raise NotApplicable('DTL needs inject_from (--dtl-inject-from)')
        return dict(type='dr2net_mm.DTL', backbone=original, **settings)
    if method == 'autograd':
        return original
    if method == 'with_cp':
        return dict(original, with_cp=True)
    if method == 'dr2net':
        return dict(type='dr2net_mm.Dr2Net', backbone=original, alpha=alpha, beta=beta, grad_mode=grad_mode)
    raise ValueError(f'unknown method {method!r}; choose from {METHODS}')


def check_with_cp(model) -> Optional[str]:
    """``with_cp`` exists on the blocks of most OpenMMLab backbones; say so when it does not."""
    if not any(getattr(m, 'with_cp', False) for m in model.modules()):
        return 'the backbone has no with_cp option'
    return None
