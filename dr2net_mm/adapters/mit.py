"""SegFormer's Mix Transformer (mmseg ``MixVisionTransformer``): each efficient-attention branch and
each Mix-FFN branch is a unit, each of the four layers one stage. The backbone's own forward loops
over every layer's blocks, so the backbone is the entry and names each stage it runs.

The attention (queries over all tokens, keys and values from the spatially reduced map) is
recomputed a few heads at a time, each piece reducing the map again (a small strided convolution);
the Mix-FFN's 3 x 3 depthwise convolution mixes neighbouring tokens, so it is recomputed a few
samples at a time instead, where it draws nothing random (eval mode, or no dropout and drop-path).
"""
from typing import Callable, List, Optional, Tuple

from torch import Tensor, nn
from torch.nn import functional

from ..reversible import Pieces, SamplePieces, Unit
from .base import BackboneAdapter, RunUnits, register_adapter
from .layout import SequenceLayout
from .pieces import draws_random, head_projection, packed_heads


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


def efficient_attention_pieces(norm: nn.Module, attn: nn.Module, hw_shape) -> Optional[Pieces]:
    """``efficient_attention_branch(attn, hw_shape)(norm(x))`` a few heads at a time: heads ``a:b`` use
    their rows of torch's packed q/k/v projection and their columns of the output projection (its
    bias added by the first piece), so the pieces' outputs sum to the whole branch's."""
    mha = attn.attn
    if not (mha._qkv_same_embed_dim and mha.bias_k is None and not mha.add_zero_attn):
        return None

    def core(items: Tensor, a: int, b: int) -> Tensor:
        B, N, C = items.shape
        weight, bias = packed_heads(mha.in_proj_weight, mha.in_proj_bias, mha.num_heads, a, b)
        kv = attn.norm(attn.sr(_to_grid(items, hw_shape)).flatten(2).transpose(1, 2)) if attn.sr_ratio > 1 else items
        q = functional.linear(items, weight[0].reshape(-1, C), None if bias is None else bias[0].reshape(-1))
        k, v = functional.linear(kv, weight[1:].reshape(-1, C), None if bias is None else bias[1:].reshape(-1)) \
            .view(B, kv.shape[1], 2, b - a, -1).permute(2, 0, 3, 1, 4)
        heads = functional.scaled_dot_product_attention(q.view(B, N, b - a, -1).transpose(1, 2), k, v)
        return head_projection(heads.transpose(1, 2).reshape(B, N, -1), mha.out_proj, a, b)

    return Pieces(split=norm, core=core, merge=lambda out, x: attn.dropout_layer(attn.proj_drop(out)),
                  expansion=8.0, active=lambda: not (mha.dropout > 0 and mha.training), parts=mha.num_heads)


def mix_ffn_branch(ffn: nn.Module, hw_shape) -> Callable:
    """mmseg ``MixFFN`` without its identity."""
    return lambda x: ffn.dropout_layer(ffn.layers(_to_grid(x, hw_shape)).flatten(2).transpose(1, 2))


def mit_block_units(block: nn.Module, hw_shape) -> List[Unit]:
    attn, ffn = efficient_attention_branch(block.attn, hw_shape), mix_ffn_branch(block.ffn, hw_shape)
    hidden = block.ffn.layers[0].out_channels / block.ffn.layers[0].in_channels
    return [Unit(lambda x: attn(block.norm1(x)), [block.norm1, block.attn], block_end=False,
                 pieces=efficient_attention_pieces(block.norm1, block.attn, hw_shape)),
            Unit(lambda x: ffn(block.norm2(x)), [block.norm2, block.ffn],
                 samples=SamplePieces(expansion=3 * hidden + 2, channel_dim=2,
                                      active=lambda: not draws_random(block.ffn)))]


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
