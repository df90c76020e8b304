"""Video Swin (mmaction2 ``SwinTransformer3D``): ``x + drop_path(part1(x))`` and ``x + part2(x)`` are
the two units of a block; a ``BasicLayer`` is one segment sharing one shift mask; patch merging is
a transition."""
from typing import List, Tuple

import numpy as np
from torch import nn

from ..reversible import Unit
from .base import BackboneAdapter, RunUnits, register_adapter
from .layout import ChannelsLastGrid


def swin3d_block_units(block: nn.Module, attn_mask) -> List[Unit]:
    return [Unit(lambda x: block.drop_path(block.forward_part1(x, attn_mask)), [block.norm1, block.attn],
                 block_end=False),
            Unit(block.forward_part2, [block.norm2, block.mlp])]


@register_adapter
class Swin3DAdapter(BackboneAdapter):
    backbones = ('mmaction.models.backbones.swin:SwinTransformer3D',)
    family = 'Video Swin'
    grid_dims = 3

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        return [(f'layers.{i}', layer) for i, layer in enumerate(backbone.layers)]

    def block_channels(self, stage: nn.Module) -> List[int]:
        return [block.norm1.normalized_shape[0] for block in stage.blocks]

    def forward(self, stage: nn.Module, run_units: RunUnits, x, do_downsample: bool = True):
        from einops import rearrange
        from mmaction.models.backbones.swin import compute_mask, get_window_size

        # As BasicLayer.forward: one shift mask for the whole layer.
        B, C, D, H, W = x.shape
        window_size, shift_size = get_window_size((D, H, W), stage.window_size, stage.shift_size)
        x = rearrange(x, 'b c d h w -> b d h w c')
        Dp = int(np.ceil(D / window_size[0])) * window_size[0]
        Hp = int(np.ceil(H / window_size[1])) * window_size[1]
        Wp = int(np.ceil(W / window_size[2])) * window_size[2]
        attn_mask = compute_mask(Dp, Hp, Wp, window_size, shift_size, x.device)
        units = [u for block in stage.blocks for u in swin3d_block_units(block, attn_mask)]
        x = run_units(x, units, ChannelsLastGrid())
        if stage.downsample is not None and do_downsample:
            x = stage.downsample(x)
        return x
