"""ResNets of mmdet, mmseg (``ResNet``) and mmaction2 (``ResNet`` for TSN, ``ResNet3d`` for I3D/SlowOnly,
``ResNet3dSlowFast``: two ``ResNet3d`` pathways whose lateral connections join between stages).

A bottleneck (or basic block) is one unit: ``relu(F(x) + x)``, so ``post`` is the ReLU; with frozen
BatchNorm (mmdet's ``norm_eval=True``) it is recomputed a few samples at a time. The first
block of a stage, which has a ``downsample``, changes the shape: it is a transition and runs as is.
mmdet/mmseg blocks hold ``conv``/``norm`` pairs, mmaction2 blocks ``ConvModule``s with the norm and
activation inside; blocks with plugins or non-local modules are refused.
"""
from typing import Callable, List, Tuple

import torch
from torch import nn

from ..reversible import SamplePieces, Unit
from .base import BackboneAdapter, RunUnits, _resolve, register_adapter
from .layout import ChannelsFirstGrid
from .pieces import samples_independent


def resnet_branch(block: nn.Module) -> Callable:
    """``F`` of a block, without its identity and final ReLU."""
    if hasattr(block, 'norm1'):      # mmdet / mmseg: conv, norm, relu pairs
        relu = torch.relu
        if hasattr(block, 'conv3'):
            return lambda x: block.norm3(block.conv3(relu(block.norm2(block.conv2(relu(block.norm1(block.conv1(x))))))))
        return lambda x: block.norm2(block.conv2(relu(block.norm1(block.conv1(x)))))
    if hasattr(block, 'conv3'):      # mmaction2: ConvModules (act inside conv1 and conv2)
        return lambda x: block.conv3(block.conv2(block.conv1(x)))
    return lambda x: block.conv2(block.conv1(x))


def resnet_samples(block: nn.Module) -> SamplePieces:
    """A block acts on each sample alone unless its BatchNorm is in train mode (``norm_eval=False``).
    Its recompute keeps ~5.5 (bottleneck: four full-width and six quarter-width maps) or 7 (basic
    block) input-sized tensors for the backward."""
    return SamplePieces(expansion=5.5 if hasattr(block, 'conv3') else 7.0,
                        active=lambda: samples_independent(block))


def _run_blocks(blocks, x):
    for block in blocks:
        x = block(x)
    return x


def _is_transition(block: nn.Module) -> bool:
    return getattr(block, 'downsample', None) is not None


KNOWN_BLOCKS = ('mmdet.models.backbones.resnet:Bottleneck', 'mmdet.models.backbones.resnet:BasicBlock',
                'mmseg.models.backbones.resnet:Bottleneck', 'mmseg.models.backbones.resnet:BasicBlock',
                'mmaction.models.backbones.resnet:Bottleneck', 'mmaction.models.backbones.resnet:BasicBlock',
                'mmaction.models.backbones.resnet3d:Bottleneck3d', 'mmaction.models.backbones.resnet3d:BasicBlock3d')


def _known_forwards() -> set:
    forwards = set()
    for path in KNOWN_BLOCKS:
        cls = _resolve(path)
        if cls is not None:
            forwards.add(cls.forward)
    return forwards


class _ResNetBase(BackboneAdapter):
    channels_last = False
    family = 'ResNet'
    allow_subclasses = True   # ResNetV1c/V1d, ResNeXt: same blocks, other stems or widths

    def check(self, backbone: nn.Module) -> None:
        super().check(backbone)
        known = _known_forwards()
        for name, stage in self.stages(backbone):
            for block in stage:
                if type(block).forward not in known:
                    raise ValueError(f'{name}: {type(block).__name__} blocks compute something other than a '
                                     'ResNet basic/bottleneck block (e.g. Res2Net); they are not supported')
                if getattr(block, 'with_plugins', False) or getattr(block, 'non_local', False):
                    raise ValueError(f'{name}: blocks with plugins or non-local modules are not supported; '
                                     'use a config without them')

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        return [(name, getattr(backbone, name)) for name in backbone.res_layers]

    def block_channels(self, stage: nn.Module) -> List[int]:
        return [self._out_channels(b) for b in stage if not _is_transition(b)]

    @staticmethod
    def _out_channels(block: nn.Module) -> int:
        """From the last convolution (its norm may be BatchNorm, SyncBN or GroupNorm)."""
        return (block.conv3 if hasattr(block, 'conv3') else block.conv2).out_channels

    def forward(self, stage: nn.Module, run_units: RunUnits, x):
        blocks = list(stage)
        leading = []
        while blocks and _is_transition(blocks[0]):
            leading.append(blocks.pop(0))
        transition = Unit(lambda x: _run_blocks(leading, x), leading) if leading else None
        units = [Unit(resnet_branch(b), [b], post=torch.relu, samples=resnet_samples(b)) for b in blocks]
        return run_units(x, units, ChannelsFirstGrid(), transition=transition)


@register_adapter
class ResNetAdapter(_ResNetBase):
    backbones = ('mmdet.models.backbones.resnet:ResNet', 'mmseg.models.backbones.resnet:ResNet',
                 'mmaction.models.backbones.resnet:ResNet')


@register_adapter
class ResNet3dAdapter(_ResNetBase):
    backbones = ('mmaction.models.backbones.resnet3d:ResNet3d',)
    family = 'ResNet3d'
    grid_dims = 3


@register_adapter
class SlowFastAdapter(_ResNetBase):
    """Each pathway's res layers are stages, in the order the backbone runs them (slow ``layer1``, fast
    ``layer1``, slow ``layer2``, ...): DTL's ``inject_from`` counts blocks in that order, so "from block
    M on" means the later layers of both pathways. The backbone calls every res layer itself and fuses
    the fast pathway into the slow one between them (lateral convolutions), so the lateral connections
    stay as they are, outside the units; each stage's first block takes the fused, wider input: its
    transition."""
    backbones = ('mmaction.models.backbones.resnet3d_slowfast:ResNet3dSlowFast',)
    family = 'SlowFast'
    allow_subclasses = False
    grid_dims = 3

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        return [(f'{path}.{name}', getattr(getattr(backbone, path), name))
                for name in backbone.slow_path.res_layers for path in ('slow_path', 'fast_path')]
