"""The methods compared by the benchmark, each built from one config's backbone.

- ``autograd``: the original backbone, conventional finetuning;
- ``with_cp``: the original backbone with OpenMMLab's own ``with_cp=True``;
- ``with_cp_sdpa``: the same, with mmcv's self-attention run through the fused kernel Dr²Net's ViT
  units use (:func:`fuse_mmcv_attention`): a peer that isolates what that kernel saves, so that
  Dr²Net's difference to it is reversibility alone;
- ``dr2net``: the backbone converted by :func:`dr2net_mm.to_dr2net` at the given coefficients;
- ``dtl``: the backbone frozen with a DTL side network (settings from the config's ``dr2net_mm.DTL``
  wrapper when it has one, else the given ones).

A config whose backbone is already a ``dr2net_mm.*`` wrapper is unwrapped to the original first, so
every method starts from the same pretrained architecture.
"""
import copy
from typing import Dict, Optional, Sequence

WRAPPERS = ('dr2net_mm.Dr2Net', 'dr2net_mm.DTL')
METHODS = ('autograd', 'with_cp', 'with_cp_sdpa', 'dr2net', 'dtl')


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


def wrapper_settings(backbone_cfg: Dict, wrapper: str, keys: Sequence[str]) -> Optional[Dict]:
    """``keys`` of the ``wrapper`` (e.g. ``'dr2net_mm.DTL'``) among a config's wrappers, where they are
    given; None where the config has no such wrapper."""
    cfg = dict(backbone_cfg)
    while cfg.get('type') in WRAPPERS:
        if cfg['type'] == wrapper:
            return {k: cfg[k] for k in keys if k in cfg}
        cfg = dict(cfg['backbone'])
    return None


def dr2net_settings(backbone_cfg: Dict) -> Dict:
    """The settings of a config's Dr2Net wrapper that the benchmark keeps (``tol``, ``piece_working_set``)."""
    return wrapper_settings(backbone_cfg, 'dr2net_mm.Dr2Net', ('tol', 'piece_working_set')) or {}


def dtl_settings(backbone_cfg: Dict, rank: int = 4, inject_from: Optional[int] = None) -> Dict:
    """DTL settings of a config's wrapper, else the given ones (``inject_from=None``: decided later)."""
    settings = wrapper_settings(backbone_cfg, 'dr2net_mm.DTL', ('rank', 'inject_from', 'dwconv_kernel'))
    return dict(rank=rank, inject_from=inject_from) if settings is None else settings


def method_backbone_cfg(backbone_cfg: Dict, method: str, alpha: float, beta: float,
                        grad_mode: str = 'auto', dtl: Optional[Dict] = None, dr2net: Optional[Dict] = None) -> Dict:
    """The backbone config for ``method``; raises :class:`NotApplicable` where it does not apply."""
    original = original_backbone_cfg(backbone_cfg)
    if method == 'dtl':
        settings = dict(dtl or dtl_settings(backbone_cfg))
        if settings.get('inject_from') is None:
            raise NotApplicable('DTL needs inject_from (--dtl-inject-from)')
        return dict(type='dr2net_mm.DTL', backbone=original, **settings)
    if method == 'autograd':
        return original
    if method in ('with_cp', 'with_cp_sdpa'):
        return with_cp_cfg(original)
    if method == 'dr2net':
        return dict(type='dr2net_mm.Dr2Net', backbone=original, alpha=alpha, beta=beta, grad_mode=grad_mode,
                    **{**dr2net_settings(backbone_cfg), **(dr2net or {})})
    raise ValueError(f'unknown method {method!r}; choose from {METHODS}')


def with_cp_cfg(backbone_cfg: Dict) -> Dict:
    """OpenMMLab's ``with_cp=True`` on a backbone config; SlowFast takes it per pathway."""
    pathways = [key for key in ('slow_pathway', 'fast_pathway') if isinstance(backbone_cfg.get(key), dict)]
    if pathways:
        return dict(backbone_cfg, **{key: dict(backbone_cfg[key], with_cp=True) for key in pathways})
    return dict(backbone_cfg, with_cp=True)


def check_with_cp(model) -> Optional[str]:
    """``with_cp`` exists on the blocks of most OpenMMLab backbones; say so when it does not."""
    if not any(getattr(m, 'with_cp', False) for m in model.modules()):
        return 'the backbone has no with_cp option'
    return None


def fuse_mmcv_attention(model) -> int:
    """Run every mmcv ``MultiheadAttention`` of ``model`` that does plain self-attention through the
    packed projection and ``scaled_dot_product_attention`` of Dr²Net's ViT units (other calls run
    mmcv's own forward); returns how many modules were changed."""
    from mmcv.cnn.bricks.transformer import MultiheadAttention

    from ..adapters.vit import mmcv_attention_branch

    def fused(module):
        mmcv_forward, branch = module.forward, mmcv_attention_branch(module)

        def forward(query, key=None, value=None, identity=None, **kwargs):
            if key is not None or value is not None or any(v is not None for v in kwargs.values()):
                return mmcv_forward(query, key, value, identity, **kwargs)
            return (query if identity is None else identity) + branch(query)
        return forward

    modules = [m for m in model.modules() if isinstance(m, MultiheadAttention)]
    for module in modules:
        module.forward = fused(module)
    return len(modules)
