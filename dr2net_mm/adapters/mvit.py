"""MViTv2 of mmaction2 (``MViT``): pooling attention with a residual pooling connection, relative
positions decomposed over time, height and width.

A ``MultiScaleBlock`` that keeps its size (no query stride, as many channels out as in) is two units:
``x + drop_path(attn(norm1(x)))`` and ``x + drop_path(mlp(norm2(x)))``. A block that pools its
queries (``pool_skip``) or widens the channels (``proj``) changes the shape: it is a transition and
starts a stage, so a stage is such a block and the size-keeping blocks after it, up to the end of a
scale. The backbone's forward loops over the blocks, normalising a scale's last output in place when
it is an output, so the backbone is the entry. The attention is recomputed a few heads at a time: the
pooling convolutions and their norms act on each head alone, with weights shared by the heads.
"""
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.nn import functional

from ..reversible import Pieces, Unit
from .base import BackboneAdapter, RunUnits, register_adapter
from .layout import SequenceLayout
from .pieces import head_projection, packed_heads, token_pieces


def _is_transition(block: nn.Module) -> bool:
    return block.pool_skip is not None or block.proj is not None


def pooling_attention_pieces(block: nn.Module, size: Sequence[int]) -> Pieces:
    """``drop_path(attn(norm1(x), size))`` a few heads at a time: heads ``a:b`` use their rows of the
    packed q/k/v projection and their columns of the output projection (its bias added by the first
    piece), so the pieces' outputs sum to the whole branch's; drop-path is merge's."""
    from mmaction.models.backbones.mvit import add_decomposed_rel_pos, attention_pool
    attn = block.attn

    def core(items: Tensor, a: int, b: int) -> Tensor:
        B, N, C = items.shape
        weight, bias = packed_heads(attn.qkv.weight, attn.qkv.bias, attn.num_heads, a, b)
        qkv = functional.linear(items, weight.reshape(-1, C), None if bias is None else bias.reshape(-1))
        q, k, v = qkv.view(B, N, 3, b - a, -1).permute(2, 0, 3, 1, 4).unbind(0)
        cls = attn.with_cls_token
        q, q_shape = attention_pool(q, attn.pool_q, size, norm=attn.norm_q, with_cls_token=cls)
        k, k_shape = attention_pool(k, attn.pool_k, size, norm=attn.norm_k, with_cls_token=cls)
        v, _ = attention_pool(v, attn.pool_v, size, norm=attn.norm_v, with_cls_token=cls)
        logits = (q * attn.scale) @ k.transpose(-2, -1)
        if attn.rel_pos_embed:
            logits = add_decomposed_rel_pos(logits, q, q_shape, k_shape, attn.rel_pos_h, attn.rel_pos_w,
                                            attn.rel_pos_t, cls)
        out = logits.softmax(dim=-1) @ v
        if attn.residual_pooling:
            if cls:
                out[:, :, 1:, :] += q[:, :, 1:, :]
            else:
                out = out + q
        return head_projection(out.transpose(1, 2).reshape(B, N, -1), attn.proj, a, b)

    # Per byte of its input, a piece keeps q, k, v, their pooled copies and the output with gradients.
    return Pieces(split=block.norm1, core=core, merge=lambda out, x: block.drop_path(out), expansion=10.0,
                  active=lambda: True, parts=attn.num_heads)


def mvit_block_units(block: nn.Module, size: Sequence[int]) -> List[Unit]:
    """The two units of a size-keeping block at token grid ``size`` (T, H, W)."""
    mlp = block.mlp
    return [Unit(lambda x: block.drop_path(block.attn(block.norm1(x), size)[0]), [block.norm1, block.attn],
                 block_end=False, pieces=pooling_attention_pieces(block, size)),
            Unit(lambda x: block.drop_path(mlp(block.norm2(x))), [block.norm2, mlp],
                 pieces=token_pieces(lambda t: mlp(block.norm2(t)), block.drop_path,
                                     mlp.fc1.out_features / mlp.fc1.in_features, mlp))]


def _stage_spans(mvit: nn.Module) -> List[Tuple[int, int]]:
    """``(first, last)`` block indices of each stage: a new one at every transition and after every
    scale's last block."""
    spans, first = [], 0
    for i, block in enumerate(mvit.blocks):
        if i > first and _is_transition(block):
            spans.append((first, i - 1))
            first = i
        if i in mvit.stage_indices:
            spans.append((first, i))
            first = i + 1
    return spans


@register_adapter
class MViTAdapter(BackboneAdapter):
    backbones = ('mmaction.models.backbones.mvit:MViT',)
    family = 'MViT'
    grid_dims = 3

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        # Views of the backbone's blocks (not registered), for block_channels.
        return [(f'blocks.{a}-{b}', nn.ModuleList(backbone.blocks[a:b + 1])) for a, b in _stage_spans(backbone)]

    def entries(self, backbone: nn.Module) -> List[Tuple[nn.Module, Tuple[str, ...]]]:
        return [(backbone, tuple(name for name, _ in self.stages(backbone)))]

    def block_channels(self, blocks: nn.Module) -> List[int]:
        return [block.in_dims for block in blocks if not _is_transition(block)]

    def forward(self, mvit: nn.Module, run_units: RunUnits, x):
        # As mmaction2's MViT.forward, with each stage's blocks routed through run_units.
        from mmaction.models.backbones.mvit import resize_pos_embed
        B = x.shape[0]
        x, size = mvit.patch_embed(x)
        x = torch.cat((mvit.cls_token.expand(B, -1, -1), x), dim=1)
        if mvit.use_abs_pos_embed:
            x = x + resize_pos_embed(mvit.pos_embed, mvit.patch_resolution, size, mode=mvit.interpolate_mode,
                           num_extra_tokens=mvit.num_extra_tokens)
        if not mvit.with_cls_token:
            x = x[:, 1:]
        outs = []
        for first, last in _stage_spans(mvit):
            blocks = list(mvit.blocks[first:last + 1])
            transition = None
            if _is_transition(blocks[0]):
                head, before = blocks.pop(0), size
                transition = Unit(lambda t, head=head, before=before: head(t, before)[0], [head])
                size = _pooled_size(head, size)     # known before it runs: its units need it
            units = [u for block in blocks for u in mvit_block_units(block, size)]
            x = run_units(x, units, SequenceLayout(tuple(size), prefix=1 if mvit.with_cls_token else 0),
                          transition=transition, stage=f'blocks.{first}-{last}')
            if last in mvit.stage_indices and mvit.stage_indices[last] in mvit.out_scales:
                x = getattr(mvit, f'norm{mvit.stage_indices[last]}')(x)
                outs.append(_output(mvit, x, size))
        return tuple(outs)


def _pooled_size(block: nn.Module, size: Sequence[int]) -> Tuple[int, ...]:
    """The token grid after ``block``: its query pooling's output size (a strided convolution)."""
    if block.pool_skip is None:
        return tuple(size)
    conv = block.attn.pool_q
    return tuple((n + 2 * p - k) // s + 1 for n, p, k, s in zip(size, conv.padding, conv.kernel_size, conv.stride,
                                                              strict=True))


def _output(mvit: nn.Module, x: Tensor, size: Sequence[int]):
    B, _, C = x.shape
    tokens = x.transpose(1, 2)
    if mvit.with_cls_token:
        patch, cls = tokens[:, :, 1:].reshape(B, C, *size), tokens[:, :, 0]
    else:
        patch, cls = tokens.reshape(B, C, *size), None
    return [patch, cls] if mvit.output_cls_token else patch
