"""Registered model builders (the config faces of the methods)."""
from .dr2net import build_dr2net_backbone
from .dtl import build_dtl_backbone

__all__ = ['build_dr2net_backbone', 'build_dtl_backbone']
