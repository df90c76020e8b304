"""Swin Transformer of mmdet and mmseg: each attention branch and each MLP branch is a unit.

``SwinBlock``: ``x = x + attn(norm1(x))``, ``x = ffn(norm2(x), identity=x)`` with drop-path inside
``attn`` and ``ffn``. A stage (``SwinBlockSequence``) is one segment; patch merging is a transition.
"""
from typing import Callable, List, Tuple

from torch import nn

from ..reversible import Unit
from .base import BackboneAdapter, RunUnits, register_adapter
from .layout import SequenceLayout


def ffn_branch(ffn: nn.Module) -> Callable:
    """mmcv ``FFN`` without its identity: ``dropout_layer(gamma2(layers(x)))``."""
    return lambda x: ffn.dropout_layer(ffn.gamma2(ffn.layers(x)))


def swin_block_units(block: nn.Module, hw_shape) -> List[Unit]:
    ffn = ffn_branch(block.ffn)
    return [Unit(lambda x: block.attn(block.norm1(x), hw_shape), [block.norm1, block.attn], block_end=False),
            Unit(lambda x: ffn(block.norm2(x)), [block.norm2, block.ffn])]


@register_adapter
class SwinAdapter(BackboneAdapter):
    backbones = ('mmdet.models.backbones.swin:SwinTransformer', 'mmseg.models.backbones.swin:SwinTransformer')
    family = 'Swin'

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        return [(f'stages.{i}', stage) for i, stage in enumerate(backbone.stages)]

    def block_channels(self, stage: nn.Module) -> List[int]:
        return [block.norm1.normalized_shape[0] for block in stage.blocks]

    def forward(self, stage: nn.Module, run_units: RunUnits, x, hw_shape):
        units = [u for block in stage.blocks for u in swin_block_units(block, hw_shape)]
        x = run_units(x, units, SequenceLayout(tuple(hw_shape)))
        if stage.downsample:
            x_down, down_hw_shape = stage.downsample(x, hw_shape)
            return x_down, down_hw_shape, x, hw_shape
        return x, hw_shape, x, hw_shape
