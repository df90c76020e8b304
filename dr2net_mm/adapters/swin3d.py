"""Video Swin (mmaction2 ``SwinTransformer3D``): ``x + drop_path(part1(x))`` and ``x + part2(x)`` are
the two units of a block; a ``BasicLayer`` is one segment sharing one shift mask; patch merging is
a transition. The attention unit is recomputed a few windows at a time, the MLP unit a few tokens at
a time (``reversible.pieces``), and the shift mask is held as its few distinct windows
(:class:`ShiftMask`)."""
from typing import List, Optional, Tuple

import numpy as np
import torch
from torch import nn

from ..reversible import Pieces, Unit
from .base import BackboneAdapter, RunUnits, register_adapter
from .layout import ChannelsLastGrid
from .pieces import dropout_active, token_pieces


class ShiftMask:
    """mmaction's shifted-window attention mask (``compute_mask``) without its ``(windows, N, N)`` tensor.

    Along each axis every window but the last lies in one region of the cyclic shift, so a window's
    mask is that of a grid of at most 2 x 2 x 2 windows; those (at most eight) masks are kept with
    an index per window, and ``mask[start:end]`` builds the masks of those windows alone. At 1,024
    frames of 224² the first stage's mask is 2.5 GB as mmaction builds it (and keeps, in an
    ``lru_cache``), a few MB here.
    """

    def __init__(self, padded: Tuple[int, int, int], window_size: Tuple[int, int, int],
                 shift_size: Tuple[int, int, int], device):
        from mmaction.models.backbones.swin import compute_mask

        counts = [n // w for n, w in zip(padded, window_size, strict=True)]
        small = [min(c, 2) for c in counts]              # an interior window and the last, per axis
        compute = getattr(compute_mask, '__wrapped__', compute_mask)     # not its lru_cache
        self.patterns = compute(*(s * w for s, w in zip(small, window_size, strict=True)),
                                tuple(window_size), tuple(shift_size), device) != 0    # bool: 1 byte a pair
        index = torch.zeros((), dtype=torch.long, device=device)
        for count, size in zip(counts, small, strict=True):    # windows in mmaction's (d, h, w) order
            position = (torch.arange(count, device=device) == count - 1).long() if size == 2 else \
                torch.zeros(count, dtype=torch.long, device=device)
            index = index.unsqueeze(-1) * size + position
        self.index = index.flatten()

    def __len__(self) -> int:
        return self.index.numel()

    def __getitem__(self, windows: slice) -> torch.Tensor:
        """The ``(windows, N, N)`` masks of a slice of the windows, as ``compute_mask(...)[windows]``."""
        return torch.where(self.patterns[self.index[windows]], -100.0, 0.0)   # compute_mask's values


def _shifted(block: nn.Module, dhw: Tuple[int, int, int]) -> bool:
    from mmaction.models.backbones.swin import get_window_size
    return any(s > 0 for s in get_window_size(dhw, block.window_size, block.shift_size)[1])


def swin3d_attention_pieces(block: nn.Module, attn_mask: Optional[ShiftMask], dhw: Tuple[int, int, int]
                            ) -> Pieces:
    """``drop_path(forward_part1(x))`` as norm, pad, shift and window partition (split), window attention
    (core, independent per window) and window reverse, unshift, crop and drop-path (merge)."""
    from mmaction.models.backbones.swin import get_window_size, window_partition, window_reverse

    window_size, shift_size = get_window_size(dhw, block.window_size, block.shift_size)
    pads = [(w - n % w) % w for n, w in zip(dhw, window_size, strict=True)]
    padded = [n + p for n, p in zip(dhw, pads, strict=True)]
    shifted = _shifted(block, dhw)
    attn = block.attn

    def split(x):
        x = nn.functional.pad(block.norm1(x), (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
        if shifted:
            x = torch.roll(x, shifts=tuple(-s for s in shift_size), dims=(1, 2, 3))
        windows = window_partition(x, window_size)
        return windows.view(x.shape[0], -1, *windows.shape[1:])          # B, windows, tokens, C

    def core(windows, start, end):
        mask = attn_mask[start:end] if shifted else None
        return attn(windows.reshape(-1, *windows.shape[2:]), mask=mask).view(windows.shape)

    def merge(out, x):
        B, D, H, W, C = x.shape
        y = window_reverse(out.reshape(-1, *window_size, C), window_size, B, *padded)
        if shifted:
            y = torch.roll(y, shifts=tuple(shift_size), dims=(1, 2, 3))
        if any(pads):
            y = y[:, :D, :H, :W, :].contiguous()
        return block.drop_path(y)

    tokens = int(np.prod(window_size))
    return Pieces(split, core, merge, expansion=3 * attn.num_heads * tokens / block.embed_dims + 4,
                  active=lambda: not dropout_active(attn))


def swin3d_block_units(block: nn.Module, attn_mask: ShiftMask, dhw: Tuple[int, int, int]) -> List[Unit]:
    # The whole unit (a recompute with a graph, or pieces turned off) needs every window's mask at once.
    shifted = _shifted(block, dhw)

    def whole_mask():
        return attn_mask[:] if shifted else None

    return [Unit(lambda x: block.drop_path(block.forward_part1(x, whole_mask())), [block.norm1, block.attn],
                 block_end=False, pieces=swin3d_attention_pieces(block, attn_mask, dhw)),
            Unit(block.forward_part2, [block.norm2, block.mlp],
                 pieces=token_pieces(lambda t: block.mlp(block.norm2(t)), block.drop_path,
                                     block.mlp.fc1.out_features / block.embed_dims, block.mlp))]


@register_adapter
class Swin3DAdapter(BackboneAdapter):
    backbones = ('mmaction.models.backbones.swin:SwinTransformer3D',)
    family = 'Video Swin'
    grid_dims = 3

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        return [(f'layers.{i}', layer) for i, layer in enumerate(backbone.layers)]

    def block_channels(self, stage: nn.Module) -> List[int]:
        return [block.norm1.normalized_shape[0] for block in stage.blocks]

    def entries(self, backbone: nn.Module) -> List[Tuple[nn.Module, Tuple[str, ...]]]:
        # Patch merging as well: the backbone's forward calls it itself (out_after_downsample=False).
        return super().entries(backbone) + [(layer.downsample, (name,)) for name, layer in self.stages(backbone)
                                            if layer.downsample is not None]

    def forward(self, entry: nn.Module, run_units: RunUnits, x, do_downsample: bool = True):
        if not hasattr(entry, 'blocks'):
            # Patch merging, a transition alone: recomputed in the backward, not stored by autograd.
            merge_patches = Unit(lambda t: type(entry).forward(entry, t), [entry])
            return run_units(x, [], ChannelsLastGrid(), transition=merge_patches)
        return self._run_layer(entry, run_units, x, do_downsample)

    @staticmethod
    def _run_layer(stage: nn.Module, run_units: RunUnits, x, do_downsample: bool):
        from einops import rearrange
        from mmaction.models.backbones.swin import get_window_size

        # As BasicLayer.forward: one shift mask for the whole layer.
        B, C, D, H, W = x.shape
        window_size, shift_size = get_window_size((D, H, W), stage.window_size, stage.shift_size)
        x = rearrange(x, 'b c d h w -> b d h w c')
        Dp = int(np.ceil(D / window_size[0])) * window_size[0]
        Hp = int(np.ceil(H / window_size[1])) * window_size[1]
        Wp = int(np.ceil(W / window_size[2])) * window_size[2]
        attn_mask = ShiftMask((Dp, Hp, Wp), window_size, shift_size, x.device)
        units = [u for block in stage.blocks for u in swin3d_block_units(block, attn_mask, (D, H, W))]
        x = run_units(x, units, ChannelsLastGrid())
        if stage.downsample is not None and do_downsample:
            x = stage.downsample(x)   # converted too (see entries)
        return x
