"""Per-backbone adapters: one small file per block family."""
from . import beit, convnext, mit, mvit, resnet, swin, swin3d, vit  # noqa: F401  (register)
from .base import BackboneAdapter, find_adapter, register_adapter, supported_backbones

__all__ = ['BackboneAdapter', 'find_adapter', 'register_adapter', 'supported_backbones']
