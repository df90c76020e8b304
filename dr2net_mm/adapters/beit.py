"""BEiT and MAE of mmseg (``BEiT``, ``MAE``): each attention branch and each FFN branch is a unit, with
layer scale (``gamma_1``, ``gamma_2``) and drop-path inside; the layers are one stage whose
``out_indices`` are taps, as for mmseg's ViT. The attention is global, with a learned relative
position bias over the whole patch grid (plus the class token): its pieces are a few heads at a
time, each building its own heads' bias. The backbone's own forward loops over the layers, so the
backbone is the entry.
"""
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from ..reversible import Pieces, Unit
from .base import BackboneAdapter, RunUnits, register_adapter
from .layout import SequenceLayout
from .pieces import head_pieces, token_pieces
from .vit import layer_outputs


def qkv_bias(attn: nn.Module) -> Optional[Tensor]:
    """``BEiTAttention``'s packed q/k/v bias: q and v biases and no key bias (``bias='qv_bias'``), the
    projection's own bias, or None."""
    if attn.bias == 'qv_bias':
        return torch.cat((attn.q_bias, torch.zeros_like(attn.v_bias), attn.v_bias))
    return attn.qkv.bias


def relative_position_bias(attn: nn.Module, a: int, b: int) -> Tensor:
    """Heads ``a:b`` of the bias ``BEiTAttention`` adds to its attention logits: ``(b - a, N, N)``."""
    n = attn.window_size[0] * attn.window_size[1] + 1
    table = attn.relative_position_bias_table[:, a:b]
    return table[attn.relative_position_index.view(-1)].view(n, n, b - a).permute(2, 0, 1)


def beit_attention_pieces(layer: nn.Module) -> Pieces:
    """``drop_path(gamma_1 * attn(norm1(x)))`` a few heads at a time; the output dropout and drop-path
    (elementwise, per sample) are merge's."""
    attn = layer.attn
    return head_pieces(layer.norm1, attn.qkv.weight, lambda: qkv_bias(attn), attn.num_heads, attn.proj,
                       merge=lambda out, x: layer.drop_path(attn.proj_drop(out)),
                       active=lambda: not (attn.attn_drop.p > 0 and attn.training),
                       scale=attn.scale, gamma=layer.gamma_1,
                       attn_bias=lambda a, b: relative_position_bias(attn, a, b))


def beit_layer_units(layer: nn.Module) -> List[Unit]:
    """``x + drop_path(gamma_1 * attn(norm1(x)))`` and ``x + drop_path(gamma_2 * ffn(norm2(x)))``."""
    def per_token(x):
        return layer.gamma_2 * layer.ffn(layer.norm2(x))

    ffn = layer.ffn
    return [Unit(lambda x: layer.drop_path(layer.gamma_1 * layer.attn(layer.norm1(x))),
                 [layer.norm1, layer.attn, layer.gamma_1], block_end=False, pieces=beit_attention_pieces(layer)),
            Unit(lambda x: layer.drop_path(per_token(x)), [layer.norm2, ffn, layer.gamma_2],
                 pieces=token_pieces(per_token, layer.drop_path, ffn.feedforward_channels / ffn.embed_dims, ffn))]


@register_adapter
class BEiTAdapter(BackboneAdapter):
    backbones = ('mmseg.models.backbones.beit:BEiT', 'mmseg.models.backbones.mae:MAE')
    family = 'BEiT / MAE'

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        return [('layers', backbone.layers)]

    def entries(self, backbone: nn.Module) -> List[Tuple[nn.Module, Tuple[str, ...]]]:
        return [(backbone, ('layers',))]

    def block_channels(self, layers: nn.Module) -> List[int]:
        return [layer.norm1.normalized_shape[0] for layer in layers]

    def forward(self, beit: nn.Module, run_units: RunUnits, inputs):
        # As mmseg's BEiT.forward and MAE.forward (which adds its absolute position embedding), with
        # the layers routed through run_units.
        B = inputs.shape[0]
        x, hw_shape = beit.patch_embed(inputs)
        x = torch.cat((beit.cls_token.expand(B, -1, -1), x), dim=1)
        if hasattr(beit, 'pos_embed'):
            x = x + beit.pos_embed
        units = [u for layer in beit.layers for u in beit_layer_units(layer)]

        def output(value):
            out = value[:, 1:]
            return out.reshape(B, *hw_shape, out.shape[-1]).permute(0, 3, 1, 2).contiguous()

        return tuple(layer_outputs(run_units, x, beit.layers, units, SequenceLayout(tuple(hw_shape), prefix=1),
                                   beit.out_indices, beit.norm1 if beit.final_norm else None, output))
