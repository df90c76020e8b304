"""SegFormer's Mix Transformer (mmseg ``MixVisionTransformer``): each efficient-attention branch and
each Mix-FFN branch is a unit, each of the four layers one stage. The backbone's own forward loops
over every layer's blocks, so the backbone is the entry and names each stage it runs.
"""
from typing import Callable, List, Tuple

from torch import nn

from ..reversible import Unit
from .base import BackboneAdapter, RunUnits, register_adapter
from .layout import SequenceLayout


def _to_grid(x, hw_shape):
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], *hw_shape)


def efficient_attention_branch(attn: nn.Module, hw_shape) -> Callable:
    """mmseg ``EfficientMultiheadAttention`` without its identity; keys and values come from the
    spatially reduced map. No attention weights are asked for, as in ``vit.mmcv_attention_branch``."""
    def branch(x):
        kv = attn.norm(attn.sr(_to_grid(x, hw_shape)).flatten(2).transpose(1, 2)) if attn.sr_ratio > 1 else x
        q = x
        if attn.batch_first:
            q, kv = q.transpose(0, 1), kv.transpose(0, 1)
        out = attn.attn(query=q, key=kv, value=kv, need_weights=False)[0]
        if attn.batch_first:
            out = out.transpose(0, 1)
        return attn.dropout_layer(attn.proj_drop(out))
    return branch


def mix_ffn_branch(ffn: nn.Module, hw_shape) -> Callable:
    """mmseg ``MixFFN`` without its identity."""
    return lambda x: ffn.dropout_layer(ffn.layers(_to_grid(x, hw_shape)).flatten(2).transpose(1, 2))


def mit_block_units(block: nn.Module, hw_shape) -> List[Unit]:
    attn, ffn = efficient_attention_branch(block.attn, hw_shape), mix_ffn_branch(block.ffn, hw_shape)
    return [Unit(lambda x: attn(block.norm1(x)), [block.norm1, block.attn], block_end=False),
            Unit(lambda x: ffn(block.norm2(x)), [block.norm2, block.ffn])]


@register_adapter
class MixVisionTransformerAdapter(BackboneAdapter):
    backbones = ('mmseg.models.backbones.mit:MixVisionTransformer',)
    family = 'MiT (SegFormer)'

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        return [(f'layers.{i}', layer[1]) for i, layer in enumerate(backbone.layers)]

    def entries(self, backbone: nn.Module) -> List[Tuple[nn.Module, Tuple[str, ...]]]:
        return [(backbone, tuple(name for name, _ in self.stages(backbone)))]

    def block_channels(self, blocks: nn.Module) -> List[int]:
        return [block.norm1.normalized_shape[0] for block in blocks]

    def forward(self, mit: nn.Module, run_units: RunUnits, x):
        # As MixVisionTransformer.forward, with each layer's blocks routed through run_units.
        outs = []
        for i, (patch_embed, blocks, norm) in enumerate(mit.layers):
            x, hw_shape = patch_embed(x)
            units = [u for block in blocks for u in mit_block_units(block, hw_shape)]
            x = run_units(x, units, SequenceLayout(tuple(hw_shape)), stage=f'layers.{i}')
            x = _to_grid(norm(x), hw_shape)
            if i in mit.out_indices:
                outs.append(x)
        return outs
