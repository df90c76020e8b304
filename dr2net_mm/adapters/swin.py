"""Swin Transformer of mmdet and mmseg, and of mmpretrain: each attention branch and each MLP branch is a unit.

``SwinBlock``: ``x = x + attn(norm1(x))``, ``x = ffn(norm2(x), identity=x)`` with drop-path inside
``attn`` and ``ffn``. A stage (``SwinBlockSequence``) is one segment; patch merging is a transition.
The attention unit is recomputed a few windows at a time, the FFN unit a few tokens at a time
(``reversible.pieces``).
"""
from typing import Callable, List, Tuple

import torch
from torch import nn

from ..reversible import Pieces, Unit
from .base import BackboneAdapter, RunUnits, register_adapter
from .layout import SequenceLayout
from .pieces import dropout_active, token_pieces


def ffn_branch(ffn: nn.Module) -> Callable:
    """mmcv ``FFN`` without its identity: ``dropout_layer(gamma2(layers(x)))``."""
    return lambda x: ffn.dropout_layer(ffn.gamma2(ffn.layers(x)))


def ffn_pieces(norm: nn.Module, ffn: nn.Module) -> Pieces:
    """``ffn_branch(ffn)(norm(x))`` a few tokens at a time."""
    return token_pieces(lambda t: ffn.gamma2(ffn.layers(norm(t))), ffn.dropout_layer,
                        ffn.feedforward_channels / ffn.embed_dims, ffn.layers)


def shift_window_mask(msa: nn.Module, padded_hw: Tuple[int, int], device) -> torch.Tensor:
    """``ShiftWindowMSA``'s attention mask for its shifted windows (as its forward builds it)."""
    ws, shift = msa.window_size, msa.shift_size
    img_mask = torch.zeros((1, *padded_hw, 1), device=device)
    slices = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    for count, (h, w) in enumerate((h, w) for h in slices for w in slices):
        img_mask[:, h, w, :] = count
    windows = msa.window_partition(img_mask).view(-1, ws * ws)
    mask = windows.unsqueeze(1) - windows.unsqueeze(2)
    return mask.masked_fill(mask != 0, float(-100.0)).masked_fill(mask == 0, float(0.0))


def padded_to_windows(hw_shape: Tuple[int, int], window: int) -> Tuple[int, int]:
    """The token grid padded (bottom, right) to whole windows, as ``ShiftWindowMSA`` pads it."""
    return tuple(n + (window - n % window) % window for n in hw_shape)


def merge_patches(run_units: RunUnits, x, layout: SequenceLayout, downsample: nn.Module, hw_shape):
    """Patch merging as a transition alone (recomputed in the backward, not stored by autograd):
    the merged tokens and their grid."""
    out_shape = []

    def merge(t):
        out, out_shape[:] = downsample(t, hw_shape)
        return out

    x = run_units(x, [], layout, transition=Unit(merge, [downsample]))
    return x, tuple(out_shape)


def window_pieces(norm: nn.Module, w_msa: nn.Module, drop: nn.Module, hw_shape: Tuple[int, int], window: int,
                  shift: int, partition: Callable, reverse: Callable, mask) -> Pieces:
    """Shifted-window attention ``drop(attention(norm(x)))`` as norm, pad, shift and window partition
    (split), window attention (core, independent per window) and window reverse, unshift, crop and
    drop-path (merge). ``partition(x)`` / ``reverse(windows, H, W)``: the module's own window helpers;
    ``mask``: the stage's shift mask (one for all its shifted blocks, as they share window and shift)."""
    H, W = hw_shape
    ws = window
    padded = padded_to_windows(hw_shape, ws)
    pad_b, pad_r = padded[0] - H, padded[1] - W

    def split(x):
        q = nn.functional.pad(norm(x).view(x.shape[0], H, W, -1), (0, 0, 0, pad_r, 0, pad_b))
        if shift > 0:
            q = torch.roll(q, shifts=(-shift, -shift), dims=(1, 2))
        windows = partition(q)
        return windows.view(x.shape[0], -1, ws * ws, windows.shape[-1])    # B, windows, tokens, C

    def core(windows, start, end):
        out = w_msa(windows.reshape(-1, *windows.shape[2:]), mask=None if mask is None else mask[start:end])
        return out.view(windows.shape)

    def merge(out, x):
        y = reverse(out.reshape(-1, ws, ws, out.shape[-1]), *padded)
        if shift > 0:
            y = torch.roll(y, shifts=(shift, shift), dims=(1, 2))
        if pad_r > 0 or pad_b:
            y = y[:, :H, :W, :].contiguous()
        return drop(y.view(x.shape))

    return Pieces(split, core, merge, expansion=3 * w_msa.num_heads * ws * ws / w_msa.embed_dims + 4,
                  active=lambda: not dropout_active(w_msa))


def shift_window_pieces(norm: nn.Module, msa: nn.Module, hw_shape: Tuple[int, int], mask) -> Pieces:
    """``msa(norm(x), hw_shape)`` of mmdet's / mmseg's ``ShiftWindowMSA`` in pieces (``window_pieces``)."""
    return window_pieces(norm, msa.w_msa, msa.drop, hw_shape, msa.window_size, msa.shift_size,
                         msa.window_partition, msa.window_reverse, mask)


def swin_block_units(block: nn.Module, hw_shape, mask=None) -> List[Unit]:
    """The block's two units; ``mask``: its shift mask (None for an unshifted block)."""
    ffn = ffn_branch(block.ffn)
    return [Unit(lambda x: block.attn(block.norm1(x), hw_shape), [block.norm1, block.attn], block_end=False,
                 pieces=shift_window_pieces(block.norm1, block.attn, tuple(hw_shape), mask)),
            Unit(lambda x: ffn(block.norm2(x)), [block.norm2, block.ffn], pieces=ffn_pieces(block.norm2, block.ffn))]


@register_adapter
class SwinAdapter(BackboneAdapter):
    backbones = ('mmdet.models.backbones.swin:SwinTransformer', 'mmseg.models.backbones.swin:SwinTransformer')
    family = 'Swin'

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        return [(f'stages.{i}', stage) for i, stage in enumerate(backbone.stages)]

    def block_channels(self, stage: nn.Module) -> List[int]:
        return [block.norm1.normalized_shape[0] for block in stage.blocks]

    def forward(self, stage: nn.Module, run_units: RunUnits, x, hw_shape):
        masks = {}   # one per (window, shift) for the whole stage, as ShiftWindowMSA would rebuild it per block

        def mask(msa):
            key = (msa.window_size, msa.shift_size)
            if key not in masks:
                masks[key] = shift_window_mask(msa, padded_to_windows(hw_shape, msa.window_size), x.device)
            return masks[key]

        units = [u for block in stage.blocks
                 for u in swin_block_units(block, hw_shape, mask(block.attn) if block.attn.shift_size > 0 else None)]
        layout = SequenceLayout(tuple(hw_shape))
        x = run_units(x, units, layout)
        if stage.downsample:
            x_down, down_hw_shape = merge_patches(run_units, x, layout, stage.downsample, hw_shape)
            return x_down, down_hw_shape, x, hw_shape
        return x, hw_shape, x, hw_shape


def mmpretrain_shift(msa: nn.Module, hw_shape: Tuple[int, int]) -> int:
    """The shift mmpretrain's ``ShiftWindowMSA`` applies at this size: none where the map is one window
    (unless ``pad_small_map``), as its forward decides."""
    if min(hw_shape) == msa.window_size and not msa.pad_small_map:
        return 0
    return msa.shift_size


def mmpretrain_swin_block_units(block: nn.Module, hw_shape, mask=None) -> List[Unit]:
    """mmpretrain's ``SwinBlock``: ``x + attn(norm1(x))``, ``ffn(norm2(x), identity=x)``."""
    msa, ffn = block.attn, ffn_branch(block.ffn)
    pieces = window_pieces(block.norm1, msa.w_msa, msa.drop, tuple(hw_shape), msa.window_size,
                           mmpretrain_shift(msa, hw_shape), lambda q: msa.window_partition(q, msa.window_size),
                           lambda w, H, W: msa.window_reverse(w, H, W, msa.window_size), mask)
    return [Unit(lambda x: msa(block.norm1(x), hw_shape), [block.norm1, msa], block_end=False, pieces=pieces),
            Unit(lambda x: ffn(block.norm2(x)), [block.norm2, block.ffn], pieces=ffn_pieces(block.norm2, block.ffn))]


@register_adapter
class MMPretrainSwinAdapter(BackboneAdapter):
    """mmpretrain's ``SwinTransformer`` (classification): ``SwinBlockSequence`` stages the backbone calls,
    patch merging after the blocks (a transition) unless the backbone asks to merge later."""
    backbones = ('mmpretrain.models.backbones.swin_transformer:SwinTransformer',)
    family = 'Swin (mmpretrain)'

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        return [(f'stages.{i}', stage) for i, stage in enumerate(backbone.stages)]

    def block_channels(self, stage: nn.Module) -> List[int]:
        return [block.norm1.normalized_shape[0] for block in stage.blocks]

    def forward(self, stage: nn.Module, run_units: RunUnits, x, in_shape, do_downsample=True):
        hw_shape = tuple(in_shape)
        masks = {}

        def mask(msa):
            ws, shift = msa.window_size, mmpretrain_shift(msa, hw_shape)
            if shift == 0:
                return None
            if (ws, shift) not in masks:
                masks[ws, shift] = msa.get_attn_mask(padded_to_windows(hw_shape, ws), window_size=ws, shift_size=shift,
                                                     device=x.device)
            return masks[ws, shift]

        units = [u for block in stage.blocks for u in mmpretrain_swin_block_units(block, hw_shape, mask(block.attn))]
        layout = SequenceLayout(hw_shape)
        x = run_units(x, units, layout)
        if stage.downsample is not None and do_downsample:
            return merge_patches(run_units, x, layout, stage.downsample, hw_shape)
        return x, in_shape
