"""Vision Transformers: mmseg ``VisionTransformer`` (outputs inside its one stage), mmaction2's
VideoMAE ``VisionTransformer`` and mmpretrain's ``VisionTransformer`` (classification). Each
attention branch and each MLP branch is a unit; the encoder's layers are one stage, whose
intermediate outputs (``out_indices``) are taps of the method. The backbone's own forward loops over
the layers, so the backbone is the entry the conversion rewires."""
from typing import Callable, List, Optional, Tuple

import torch
from torch import nn

from ..reversible import Pieces, Unit
from .base import BackboneAdapter, RunUnits, register_adapter
from .layout import SequenceLayout
from .pieces import head_pieces, token_pieces
from .swin import ffn_branch, ffn_pieces


def layer_outputs(run_units: RunUnits, x: torch.Tensor, layers: nn.Module, units: List[Unit], layout: SequenceLayout,
                  out_indices, final_norm: Optional[nn.Module], output: Callable) -> List:
    """A plain ViT's layers (two units each) run as one stage whose ``out_indices`` outputs are taps:
    ``final_norm`` (or None) applies to the last layer's value, as these backbones' forwards do, and
    ``output`` formats each value taken."""
    last = len(layers) - 1
    wanted = sorted({i for i in out_indices if 0 <= i <= last} | {last})
    values = run_units(x, units, layout, taps=[2 * (i + 1) for i in wanted], stage='layers')
    outs = []
    for i, value in zip(wanted, values, strict=True):
        if i == last and final_norm is not None:
            value = final_norm(value)
        if i in out_indices:
            outs.append(output(value))
    return outs


def mmcv_attention_branch(attn: nn.Module) -> Callable:
    """mmcv ``MultiheadAttention`` (self-attention, no masks) without its identity.

    It runs as one packed query/key/value projection and ``scaled_dot_product_attention`` (a fused
    kernel whose backward keeps no token x token matrix: 66 against 327 MiB for one ViT-B layer at
    512 x 512), on torch's own weights: mmcv passes three separate objects as query, key and value,
    so torch projects and copies each on its own (measured on one ViT-B layer's recompute and
    backward: 60 against 72 MiB, the same value, input gradients within 8e-8). With attention
    dropout in training, or projections torch does not pack, torch's module runs instead."""
    mha = attn.attn

    def torch_module(x):
        if attn.batch_first:       # three objects, as mmcv passes them
            q, k, v = x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1)
        else:
            q = k = v = x
        out = mha(query=q, key=k, value=v, need_weights=False)[0]
        return out.transpose(0, 1) if attn.batch_first else out

    def packed(x):
        if not attn.batch_first:
            x = x.transpose(0, 1)
        B, N, C = x.shape
        qkv = nn.functional.linear(x, mha.in_proj_weight, mha.in_proj_bias)
        q, k, v = qkv.view(B, N, 3, mha.num_heads, C // mha.num_heads).permute(2, 0, 3, 1, 4)
        out = nn.functional.scaled_dot_product_attention(q, k, v)
        out = nn.functional.linear(out.transpose(1, 2).reshape(B, N, C), mha.out_proj.weight, mha.out_proj.bias)
        return out if attn.batch_first else out.transpose(0, 1)

    can_pack = mha._qkv_same_embed_dim and mha.bias_k is None and not mha.add_zero_attn

    def branch(x):
        out = packed(x) if can_pack and not (mha.dropout > 0 and mha.training) else torch_module(x)
        return attn.dropout_layer(attn.proj_drop(out))
    return branch


def mmcv_attention_pieces(norm: nn.Module, attn: nn.Module) -> Optional[Pieces]:
    """``mmcv_attention_branch(attn)(norm(x))`` a few heads at a time (batch-first, packable
    projections); its dropouts after the projection are elementwise, so they are merge's."""
    mha = attn.attn
    if not (attn.batch_first and mha._qkv_same_embed_dim and mha.bias_k is None and not mha.add_zero_attn):
        return None
    return head_pieces(norm, mha.in_proj_weight, lambda: mha.in_proj_bias, mha.num_heads, mha.out_proj,
                       merge=lambda out, x: attn.dropout_layer(attn.proj_drop(out)),
                       active=lambda: not (mha.dropout > 0 and mha.training))


def mmseg_vit_layer_units(layer: nn.Module) -> List[Unit]:
    attn, ffn = mmcv_attention_branch(layer.attn), ffn_branch(layer.ffn)
    return [Unit(lambda x: attn(layer.norm1(x)), [layer.norm1, layer.attn], block_end=False,
                 pieces=mmcv_attention_pieces(layer.norm1, layer.attn)),
            Unit(lambda x: ffn(layer.norm2(x)), [layer.norm2, layer.ffn], pieces=ffn_pieces(layer.norm2, layer.ffn))]


@register_adapter
class MMSegViTAdapter(BackboneAdapter):
    backbones = ('mmseg.models.backbones.vit:VisionTransformer',)
    family = 'ViT'

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        return [('layers', backbone.layers)]

    def entries(self, backbone: nn.Module) -> List[Tuple[nn.Module, Tuple[str, ...]]]:
        return [(backbone, ('layers',))]

    def block_channels(self, layers: nn.Module) -> List[int]:
        return [layer.norm1.normalized_shape[0] for layer in layers]

    def forward(self, vit: nn.Module, run_units: RunUnits, inputs):
        # As mmseg's VisionTransformer.forward, with the layers routed through run_units.
        B = inputs.shape[0]
        x, hw_shape = vit.patch_embed(inputs)
        x = torch.cat((vit.cls_token.expand(B, -1, -1), x), dim=1)
        x = vit._pos_embeding(x, hw_shape, vit.pos_embed)
        if not vit.with_cls_token:
            x = x[:, 1:]
        if vit.pre_norm:
            x = vit.pre_ln(x)

        def output(x):
            out = x[:, 1:] if vit.with_cls_token else x
            out = out.reshape(B, hw_shape[0], hw_shape[1], out.shape[-1]).permute(0, 3, 1, 2).contiguous()
            return [out, x[:, 0]] if vit.output_cls_token else out

        outs = [output(x)] if vit.out_origin else []
        units = [u for layer in vit.layers for u in mmseg_vit_layer_units(layer)]
        layout = SequenceLayout(tuple(hw_shape), prefix=1 if vit.with_cls_token else 0)
        outs += layer_outputs(run_units, x, vit.layers, units, layout, vit.out_indices,
                              vit.norm1 if vit.final_norm else None, output)
        return tuple(outs)


def videomae_attention(attn: nn.Module) -> Callable:
    """mmaction2's VideoMAE ``Attention`` on the same weights through ``scaled_dot_product_attention``
    (no token x token matrix kept for backward). With attention dropout in training the module
    itself runs, so that its dropout masks stay those of the unconverted model."""
    def fused(x):
        if attn.attn_drop.p > 0 and attn.training:
            return attn(x)
        B, N, C = x.shape
        qkv = nn.functional.linear(x, attn.qkv.weight, videomae_qkv_bias(attn))
        q, k, v = qkv.reshape(B, N, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
        out = nn.functional.scaled_dot_product_attention(q, k, v, scale=attn.scale)
        return attn.proj_drop(attn.proj(out.transpose(1, 2).reshape(B, N, C)))
    return fused


def videomae_qkv_bias(attn: nn.Module) -> Optional[torch.Tensor]:
    """The packed q/k/v bias of mmaction2's ``Attention`` (no key bias), or None."""
    if not hasattr(attn, 'q_bias'):
        return attn.qkv.bias
    return torch.cat((attn.q_bias, torch.zeros_like(attn.v_bias), attn.v_bias))


def videomae_attention_pieces(block: nn.Module) -> Pieces:
    """The attention branch of a VideoMAE block a few heads at a time; layer scale goes with each
    head's projection, the output dropout and drop-path (elementwise, per sample) are merge's."""
    attn = block.attn
    return head_pieces(block.norm1, attn.qkv.weight, lambda: videomae_qkv_bias(attn), attn.num_heads, attn.proj,
                       merge=lambda out, x: block.drop_path(attn.proj_drop(out)),
                       active=lambda: not (attn.attn_drop.p > 0 and attn.training),
                       scale=attn.scale, gamma=getattr(block, 'gamma_1', None))


def videomae_block_units(block: nn.Module) -> List[Unit]:
    gamma1, gamma2 = getattr(block, 'gamma_1', None), getattr(block, 'gamma_2', None)
    attention = videomae_attention(block.attn)
    attn = (lambda x: block.drop_path(gamma1 * attention(block.norm1(x)))) if gamma1 is not None else \
        (lambda x: block.drop_path(attention(block.norm1(x))))
    per_token = (lambda x: gamma2 * block.mlp(block.norm2(x))) if gamma2 is not None else \
        (lambda x: block.mlp(block.norm2(x)))
    mlp_pieces = token_pieces(per_token, block.drop_path, block.mlp.feedforward_channels / block.mlp.embed_dims,
                              block.mlp)
    attn_modules = [block.norm1, block.attn] + ([gamma1] if gamma1 is not None else [])
    mlp_modules = [block.norm2, block.mlp] + ([gamma2] if gamma2 is not None else [])
    return [Unit(attn, attn_modules, block_end=False, pieces=videomae_attention_pieces(block)),
            Unit(lambda x: block.drop_path(per_token(x)), mlp_modules, pieces=mlp_pieces)]


@register_adapter
class VideoMAEAdapter(BackboneAdapter):
    backbones = ('mmaction.models.backbones.vit_mae:VisionTransformer',)
    family = 'ViT (VideoMAE)'
    grid_dims = 3

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        return [('blocks', backbone.blocks)]

    def entries(self, backbone: nn.Module) -> List[Tuple[nn.Module, Tuple[str, ...]]]:
        return [(backbone, ('blocks',))]

    def block_channels(self, blocks: nn.Module) -> List[int]:
        return [block.norm1.normalized_shape[0] for block in blocks]

    def forward(self, vit: nn.Module, run_units: RunUnits, x):
        # As mmaction2's VisionTransformer.forward, with the blocks routed through run_units.
        b, _, _, h, w = x.shape
        h //= vit.patch_size
        w //= vit.patch_size
        x = vit.patch_embed(x)[0]
        if (h, w) != vit.grid_size:
            pos_embed = vit.pos_embed.reshape(-1, *vit.grid_size, vit.embed_dims).permute(0, 3, 1, 2)
            pos_embed = nn.functional.interpolate(pos_embed, size=(h, w), mode='bicubic', align_corners=False)
            pos_embed = pos_embed.permute(0, 2, 3, 1).flatten(1, 2).reshape(1, -1, vit.embed_dims)
        else:
            pos_embed = vit.pos_embed
        x = vit.pos_drop(x + pos_embed)
        units = [u for block in vit.blocks for u in videomae_block_units(block)]
        x = run_units(x, units, SequenceLayout((x.shape[1] // (h * w), h, w)), stage='blocks')
        x = vit.norm(x)
        if vit.return_feat_map:
            return x.reshape(b, -1, h, w, vit.embed_dims).permute(0, 4, 1, 2, 3)
        if vit.fc_norm is not None:
            return vit.fc_norm(x.mean(1))
        return x[:, 0]


def mmpretrain_vit_layer_units(layer: nn.Module) -> List[Unit]:
    """mmpretrain's ``x + attn(ln1(x))`` (layer scale, output dropout and drop-path inside ``attn``) and
    ``ffn(ln2(x), identity=x)`` (mmcv ``FFN``); the attention a few heads at a time."""
    attn, ffn = layer.attn, layer.ffn
    gamma = attn.gamma1.weight if hasattr(attn.gamma1, 'weight') else None
    pieces = head_pieces(layer.ln1, attn.qkv.weight, lambda: attn.qkv.bias, attn.num_heads, attn.proj,
                         merge=lambda out, x: attn.out_drop(attn.proj_drop(out)),
                         active=lambda: not (attn.attn_drop > 0 and attn.training), gamma=gamma)
    ffn_unit = ffn_branch(ffn)
    return [Unit(lambda x: attn(layer.ln1(x)), [layer.ln1, attn], block_end=False, pieces=pieces),
            Unit(lambda x: ffn_unit(layer.ln2(x)), [layer.ln2, ffn], pieces=ffn_pieces(layer.ln2, ffn))]


@register_adapter
class MMPretrainViTAdapter(BackboneAdapter):
    backbones = ('mmpretrain.models.backbones.vision_transformer:VisionTransformer',)
    family = 'ViT (mmpretrain)'

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        return [('layers', backbone.layers)]

    def entries(self, backbone: nn.Module) -> List[Tuple[nn.Module, Tuple[str, ...]]]:
        return [(backbone, ('layers',))]

    def block_channels(self, layers: nn.Module) -> List[int]:
        return [layer.ln1.normalized_shape[0] for layer in layers]

    def check(self, backbone: nn.Module) -> None:
        from mmcv.cnn.bricks.transformer import FFN
        for i, layer in enumerate(backbone.layers):
            if not isinstance(layer.ffn, FFN):
                raise ValueError(f'layers.{i}: {type(layer.ffn).__name__} feed-forward layers (ffn_type other than '
                                 "'origin') are not supported")
            if layer.attn.v_shortcut:
                raise ValueError(f'layers.{i}: attention with v_shortcut is not supported')

    def forward(self, vit: nn.Module, run_units: RunUnits, x):
        # As mmpretrain's VisionTransformer.forward, with the layers routed through run_units.
        from mmpretrain.models.utils import resize_pos_embed
        B = x.shape[0]
        x, patch_resolution = vit.patch_embed(x)
        if vit.cls_token is not None:
            x = torch.cat((vit.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + resize_pos_embed(vit.pos_embed, vit.patch_resolution, patch_resolution,
                                 mode=vit.interpolate_mode, num_extra_tokens=vit.num_extra_tokens)
        x = vit.pre_norm(vit.drop_after_pos(x))
        units = [u for layer in vit.layers for u in mmpretrain_vit_layer_units(layer)]
        layout = SequenceLayout(tuple(patch_resolution), prefix=vit.num_extra_tokens)
        return tuple(layer_outputs(run_units, x, vit.layers, units, layout, vit.out_indices,
                                   vit.ln1 if vit.final_norm else None,
                                   lambda value: vit._format_output(value, patch_resolution)))
