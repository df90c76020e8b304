"""The original backbone's config inside a ``dr2net_mm.*`` wrapper, with what the model passes down."""
from typing import Optional


def inner_backbone_cfg(wrapper: str, backbone: dict, init_cfg: Optional[dict] = None,
                       pretrained: Optional[str] = None) -> dict:
    """``backbone`` with the wrapper's ``init_cfg`` and ``pretrained`` (segmentors pass a model-level
    ``pretrained`` down to their backbone) moved onto it, so checkpoints land where they always did."""
    if not isinstance(backbone, dict) or 'type' not in backbone:
        raise TypeError(f"{wrapper} needs backbone=dict(type='SwinTransformer', ...), the original backbone's config")
    if init_cfg is not None:
        backbone = dict(backbone, init_cfg=init_cfg)
    if pretrained is not None:
        backbone = dict(backbone, pretrained=pretrained)
    return backbone
