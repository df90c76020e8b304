"""DTL: freeze the backbone and learn a compact side network beside it (Fu et al., AAAI 2024).

Per stage, with ``z_0`` the stage input and ``h_0 = 0``, for each residual block ``i``:

    h_i = h_{i-1} + B_i(A_i(z_{i-1}))              # A_i: d -> r, B_i: r -> d (zero-initialised)
    z_i = Block_i(z_{i-1}) + [i >= M] * theta(h_i)  # theta(x) = x * sigmoid(100 x)

``M`` (``inject_from``) counts blocks over the whole backbone, 1-based, as the paper's M (ViT-B:
7 means blocks 7..12 receive side information). Blocks before M see no trainable input, so autograd
records nothing for them; the side network only keeps their inputs for the gradient of ``A_i``.
Side maps are created only in stages that contain a block >= M (elsewhere they would never reach
the loss, which DDP would reject). A block whose input and parameters need no gradient runs without a
graph and a piece at a time where its adapter allows (windows, heads, tokens), so the forward's own
working set (e.g. Video Swin's stage-1 attention matrices) never sets the peak.

DTL+ (``dwconv_kernel=k``) passes ``theta(h_i)`` through a depthwise k x k convolution over the token
grid before it is added, as the official code does: one convolution per stage, shared by the stage's
injecting blocks (``lora_fusions[stage]`` for Swin; ``lora_fusion`` for ViT, whose layers are one
stage here); a class token has no grid position and takes ``theta(h_i)`` unconvolved. Any k >= 1,
even ones too (the official VTAB scripts use 3, 4 and 5), with 'same' padding.
"""
import re
from logging import WARNING
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from ..adapters import find_adapter
from ..reversible.replay import AutocastState
from .rewire import rewire

SIDE_ATTR = 'dtl_side'


def theta(x: Tensor) -> Tensor:
    """The smooth, almost-ReLU of the paper."""
    return x * torch.sigmoid(100.0 * x)


class LowRankMap(nn.Module):
    """``up(down(x))`` over the channel dimension (last for tokens, second for feature maps);
    1x1 convolutions on feature maps. ``up`` starts at zero, so the network starts as pretrained."""

    def __init__(self, channels: int, rank: int, channels_last: bool):
        super().__init__()
        self.channels_last = channels_last
        self.down = nn.Parameter(torch.empty(rank, channels))
        self.up = nn.Parameter(torch.zeros(channels, rank))
        nn.init.kaiming_uniform_(self.down, a=5 ** 0.5)

    def forward(self, x: Tensor) -> Tensor:
        if self.channels_last:
            return nn.functional.linear(nn.functional.linear(x, self.down), self.up)
        low = torch.einsum('bc...,rc->br...', x, self.down)
        return torch.einsum('br...,cr->bc...', low, self.up)


class DepthwiseGridConv(nn.Module):
    """DTL+: a depthwise k x k (x k for video) convolution over the token grid, no bias.

    'same' padding keeps the grid for even k too (one more row and column after than before)."""

    def __init__(self, channels: int, kernel: int, grid_dims: int):
        super().__init__()
        conv = nn.Conv3d if grid_dims == 3 else nn.Conv2d
        self.conv = conv(channels, channels, kernel, padding='same', groups=channels, bias=False)

    def forward(self, x: Tensor, layout) -> Tensor:
        return layout.from_grid(self.conv(layout.to_grid(x)), x)


class DTLStageSide(nn.Module):
    """The side maps of one stage (one per block) and, for DTL+, the stage's one shared conv."""

    def __init__(self, channels: Sequence[int], rank: int, inject: Sequence[bool], channels_last: bool,
                 dwconv_kernel: Optional[int], grid_dims: int):
        super().__init__()
        self.maps = nn.ModuleList(LowRankMap(c, rank, channels_last) for c in channels)
        self.inject = list(inject)
        if dwconv_kernel:
            injected = {c for c, on in zip(channels, inject, strict=True) if on}
            if len(injected) != 1:
                raise ValueError(f'DTL+ shares one convolution per stage, but the injecting blocks of this stage '
                                 f'have different widths {sorted(injected)}')
            self.fusion = DepthwiseGridConv(injected.pop(), dwconv_kernel, grid_dims)
        else:
            self.fusion = None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        old = [k for k in state_dict if k.startswith(prefix + 'convs.')]
        if old:
            raise RuntimeError(f'{old[0]}: this checkpoint has one DTL+ convolution per block, from dr2net-mm before '
                               '2026-11-24; DTL+ now shares one per stage, as the official code does, so those '
                               'weights cannot be loaded. Retrain the side network, or load with plain DTL '
                               '(dwconv_kernel=None) after removing the "dtl_side.*.convs." keys.')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class DTLSideNetwork(nn.Module):
    """All stages' side modules, under the backbone's ``dtl_side`` prefix."""

    def __init__(self, stages: Dict[str, DTLStageSide]):
        super().__init__()
        for name, side in stages.items():   # e.g. dtl_side.stages_2.maps.0.down
            self.add_module(name.replace('.', '_'), side)

    def for_stage(self, name: str) -> Optional[DTLStageSide]:
        return getattr(self, name.replace('.', '_'), None)


def _blocks(units) -> List[list]:
    blocks, current = [], []
    for unit in units:
        current.append(unit)
        if unit.block_end:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def run_unit(unit, x: Tensor) -> Tensor:
    """``unit(x)`` at alpha = 1; without a graph (nothing before it trains) its branch runs in pieces."""
    if torch.is_grad_enabled() and (x.requires_grad or unit.trainable_parameters):
        return unit(x, 1.0)
    with torch.no_grad():
        return unit.bounded(x, 1.0, AutocastState.capture(x).reduced_precision)


class DTLMethod:
    """Runs each stage's blocks frozen, with the side network's contribution added from block M on."""

    name = 'DTL'
    with_cp_advice = ('the backbone is frozen, so only the small side network keeps activations for the '
                      'backward; set with_cp=False')

    def __init__(self, side: DTLSideNetwork):
        self.side = side

    def run_units(self, name: str, x: Tensor, units, layout, taps=(), transition=None):
        """The stage's blocks with side information; with ``taps`` (unit counts), the values there.
        A ``transition`` (a frozen shape-changing block) runs first, as in the original stage."""
        if transition is not None:
            x = transition.branch(x)
        stage = self.side.for_stage(name)
        outs, done, h = [], 0, None
        for i, block in enumerate(_blocks(units)):
            if stage is not None:   # else: a stage entirely before M, frozen features
                delta = stage.maps[i](x)
                h = delta if h is None else h + delta
            for unit in block:
                x = run_unit(unit, x)
            if stage is not None and stage.inject[i]:
                side = theta(h)
                x = x + (stage.fusion(side, layout) if stage.fusion is not None else side)
            done += len(block)
            if done in taps:
                outs.append(x)
        return outs if taps else x


def _freeze_norm_statistics(backbone: nn.Module) -> None:
    """``norm_eval = True`` wherever the backbone or a part of it (SlowFast's pathways) has the flag."""
    for name, module in backbone.named_modules():
        if not hasattr(module, 'norm_eval'):
            continue
        partial_bn = getattr(module, 'partial_bn', False)
        if module.norm_eval is False or partial_bn:
            where = f'{type(backbone).__name__}{"." + name if name else ""}'
            print_log(f'DTL: {where} had norm_eval=False{" and partial_bn=True" if partial_bn else ""}; a frozen '
                      'backbone keeps its BatchNorm statistics, so norm_eval is set to True',
                      logger='current', level=WARNING)
        module.norm_eval = True


def to_dtl(backbone: nn.Module, rank: int, inject_from: int, dwconv_kernel: Optional[int] = None,
           unfreeze: Sequence[str] = ()) -> nn.Module:
    """Freeze ``backbone``, attach a DTL side network under ``backbone.dtl_side``, and return it.

    ``unfreeze``: regular expressions of backbone parameter names to leave trainable.
    """
    if not isinstance(rank, int) or rank < 1:
        raise ValueError(f'DTL rank must be an integer >= 1, got {rank!r}')
    if dwconv_kernel is not None and (not isinstance(dwconv_kernel, int) or isinstance(dwconv_kernel, bool)
                                      or dwconv_kernel < 1):
        raise ValueError(f'dwconv_kernel must be an integer >= 1 (or None for plain DTL), got {dwconv_kernel!r}')
    adapter = find_adapter(backbone)
    stages = adapter.stages(backbone)
    channels = {name: adapter.block_channels(stage) for name, stage in stages}
    total = sum(len(c) for c in channels.values())
    if not isinstance(inject_from, int) or not 1 <= inject_from <= total:
        raise ValueError(f'inject_from must be a block number in 1..{total} (this backbone has {total} residual '
                         f'blocks), got {inject_from!r}')
    if hasattr(backbone, SIDE_ATTR):
        raise ValueError('this backbone already has a DTL side network')
    for p in backbone.parameters():
        p.requires_grad_(False)
    patterns = [re.compile(p) for p in unfreeze]
    for n, p in backbone.named_parameters():
        if any(pat.search(n) for pat in patterns):
            p.requires_grad_(True)
    _freeze_norm_statistics(backbone)
    sides, first = {}, 1
    for name, _ in stages:
        inject = [first + i >= inject_from for i in range(len(channels[name]))]
        if any(inject):
            sides[name] = DTLStageSide(channels[name], rank, inject, adapter.channels_last, dwconv_kernel,
                                       adapter.grid_dims)
        first += len(channels[name])
    side = DTLSideNetwork(sides)
    rewire(backbone, DTLMethod(side))
    backbone.add_module(SIDE_ATTR, side)
    trainable = sum(p.numel() for p in backbone.parameters() if p.requires_grad)
    plus = f', DTL+ k={dwconv_kernel}' if dwconv_kernel else ''
    print_log(f'DTL: backbone frozen; {trainable:,} trainable backbone parameters '
              f'({sum(p.numel() for p in side.parameters()):,} in the side network, rank {rank}, blocks '
              f'{inject_from}..{total} receive side information{plus})',
              logger='current')
    return backbone
