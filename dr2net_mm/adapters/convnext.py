"""ConvNeXt (mmpretrain ``ConvNeXt``, also what mmdet and mmseg configs use as ``mmpretrain.ConvNeXt``):
each block is one unit, ``x + drop_path(gamma * pwconv2(act(pwconv1(norm(dwconv7x7(x))))))`` (with
ConvNeXt v2's GRN where set). The backbone calls each stage (an ``nn.Sequential`` of blocks) itself,
with the downsampling layers between stages outside them, so each stage is its own entry and has no
transition. A block's depthwise 7 x 7 convolution mixes neighbouring positions, but all after it (norm,
MLP, layer scale) acts on each position alone: the recompute runs the convolution whole (split) and
the rest a few positions at a time (core), drop-path on the whole (merge), for ConvNeXt v1's linear
MLP; a v2 block (GRN normalises over all positions) goes a few samples at a time instead, where it
draws nothing random.
"""
from typing import Callable, List, Optional, Tuple

from torch import Tensor, nn

from ..reversible import Pieces, SamplePieces, Unit
from .base import BackboneAdapter, RunUnits, register_adapter
from .layout import ChannelsFirstGrid
from .pieces import draws_random, dropout_active


def convnext_branch(block: nn.Module) -> Callable[[Tensor], Tensor]:
    """mmpretrain ``ConvNeXtBlock`` without its shortcut."""
    def branch(x):
        y = block.depthwise_conv(x)
        if block.linear_pw_conv:
            y = block.norm(y.permute(0, 2, 3, 1), data_format='channel_last')
            y = block.act(block.pointwise_conv1(y))
            if block.grn is not None:
                y = block.grn(y, data_format='channel_last')
            y = block.pointwise_conv2(y).permute(0, 3, 1, 2)
        else:
            y = block.act(block.pointwise_conv1(block.norm(y, data_format='channel_first')))
            if block.grn is not None:
                y = block.grn(y, data_format='channel_first')
            y = block.pointwise_conv2(y)
        if block.gamma is not None:
            y = y.mul(block.gamma.view(1, -1, 1, 1))
        return block.drop_path(y)
    return branch


def convnext_pieces(block: nn.Module) -> Optional[Pieces]:
    """Positions a few at a time after the depthwise convolution (v1 blocks: linear MLP, no GRN)."""
    if not block.linear_pw_conv or block.grn is not None:
        return None

    def per_position(tokens):
        normed = block.norm(tokens.unsqueeze(1), data_format='channel_last').squeeze(1)   # (B, 1, N, C): 4-d
        y = block.pointwise_conv2(block.act(block.pointwise_conv1(normed)))
        return y if block.gamma is None else y * block.gamma

    def merge(out, x):
        B, C, H, W = x.shape
        return block.drop_path(out.view(B, H, W, C).permute(0, 3, 1, 2))

    ratio = block.pointwise_conv1.out_features / block.pointwise_conv1.in_features
    return Pieces(split=lambda x: block.depthwise_conv(x).permute(0, 2, 3, 1).reshape(x.shape[0], -1, x.shape[1]),
                  core=lambda tokens, start, end: per_position(tokens), merge=merge, expansion=3 * ratio + 2,
                  active=lambda: not dropout_active(block))


def convnext_samples(block: nn.Module) -> SamplePieces:
    """By samples: the hidden layer is ``mlp_ratio`` (4) x wide; its recompute keeps about three hidden-
    sized tensors and three input-sized ones for the backward."""
    ratio = block.pointwise_conv1.out_features / block.pointwise_conv1.in_features \
        if block.linear_pw_conv else block.pointwise_conv1.out_channels / block.pointwise_conv1.in_channels
    return SamplePieces(expansion=3 * ratio + 3, active=lambda: not draws_random(block))


@register_adapter
class ConvNeXtAdapter(BackboneAdapter):
    backbones = ('mmpretrain.models.backbones.convnext:ConvNeXt',)
    family = 'ConvNeXt'
    channels_last = False

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        return [(f'stages.{i}', stage) for i, stage in enumerate(backbone.stages)]

    def block_channels(self, stage: nn.Module) -> List[int]:
        return [block.depthwise_conv.in_channels for block in stage]

    def forward(self, stage: nn.Module, run_units: RunUnits, x):
        units = [Unit(convnext_branch(b), [b], pieces=convnext_pieces(b), samples=convnext_samples(b)) for b in stage]
        return run_units(x, units, ChannelsFirstGrid())
