"""Pieces shared by the families (``reversible.pieces``): token-wise branches, global attention by heads,
the dropout check and whether samples are independent."""
from typing import Callable, Optional, Tuple

from torch import Tensor, nn
from torch.nn import functional

from ..reversible import Pieces, train_batchnorms


def dropout_active(*modules: nn.Module) -> bool:
    """Whether any dropout inside ``modules`` draws a mask now (pieces would draw other masks)."""
    return any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 and m.training
               for root in modules for m in root.modules())


def draws_random(*modules: nn.Module) -> bool:
    """Whether any dropout or drop-path (stochastic depth: a mask per sample) inside ``modules`` draws
    now: a recompute by samples would draw other masks."""
    return dropout_active(*modules) or any(getattr(m, 'drop_prob', 0) > 0 and m.training
                                           for root in modules for m in root.modules())


def samples_independent(*modules: nn.Module) -> bool:
    """Whether ``modules`` treat each sample alone now: no train-mode BatchNorm (its statistics mix the
    batch) and no active dropout (a smaller batch would draw other masks)."""
    return not dropout_active(*modules) and next(train_batchnorms(modules), None) is None


def token_pieces(per_token: Callable[[Tensor], Tensor], drop_path: Callable[[Tensor], Tensor],
                 hidden_ratio: float, core_modules: nn.Module) -> Pieces:
    """A branch ``drop_path(per_token(x))`` over ``(B, ..., C)`` tokens whose ``per_token`` (LayerNorm,
    MLP, layer scale) acts on each token alone, computed a few tokens at a time."""
    return Pieces(split=lambda x: x.reshape(x.shape[0], -1, x.shape[-1]),
                  core=lambda tokens, start, end: per_token(tokens),
                  merge=lambda out, x: drop_path(out.view(x.shape)),
                  expansion=3 * hidden_ratio + 2,
                  active=lambda: not dropout_active(core_modules))


def packed_heads(weight: Tensor, bias: Optional[Tensor], num_heads: int, a: int,
                 b: int) -> Tuple[Tensor, Optional[Tensor]]:
    """Heads ``a:b`` of a packed q/k/v projection laid out ``[q | k | v] x heads x head dims`` (torch's,
    timm's, OpenMMLab's): weight ``(3, b - a, d, C)`` and bias ``(3, b - a, d)`` (or None)."""
    d = weight.shape[0] // (3 * num_heads)
    rows = weight.view(3, num_heads, d, weight.shape[1])[:, a:b]
    return rows, None if bias is None else bias.view(3, num_heads, d)[:, a:b]


def head_projection(heads: Tensor, proj: nn.Linear, a: int, b: int) -> Tensor:
    """Heads ``a:b``'s share of the output projection: their columns, the bias added by the first piece,
    so that the pieces' shares sum to the whole projection."""
    d = heads.shape[-1] // (b - a)
    return functional.linear(heads, proj.weight[:, a * d:b * d], proj.bias if a == 0 else None)


def head_pieces(norm: nn.Module, qkv_weight: Tensor, qkv_bias: Callable[[], Optional[Tensor]], num_heads: int,
                proj: nn.Linear, merge: Callable[[Tensor, Tensor], Tensor], active: Callable[[], bool],
                scale: Optional[float] = None, gamma: Optional[Tensor] = None,
                attn_bias: Optional[Callable[[int, int], Tensor]] = None) -> Pieces:
    """Global self-attention ``merge(gamma * proj(attention(qkv(norm(x)))), x)`` a few heads at a time.

    Each query needs every key, so tokens are not independent; heads are. Heads ``a:b`` use their rows
    of the packed ``qkv_weight`` (laid out ``[q | k | v] x heads x head dims``, as torch's and timm's)
    and their columns of the output projection, whose bias the first piece adds: the pieces' outputs
    sum to the whole branch's. ``attn_bias(a, b)``: heads ``a:b``'s additive attention bias ``(b - a,
    N, N)`` (BEiT's relative position bias), built per piece. (Query blocks would need all keys and
    values in every piece, and the fused kernel's backward returns key and value gradients of full
    size for each block.)
    """
    def core(items: Tensor, a: int, b: int) -> Tensor:
        B, N, C = items.shape
        weight, bias = packed_heads(qkv_weight, qkv_bias(), num_heads, a, b)
        qkv = functional.linear(items, weight.reshape(-1, C), None if bias is None else bias.reshape(-1))
        q, k, v = qkv.view(B, N, 3, b - a, -1).permute(2, 0, 3, 1, 4)
        mask = None if attn_bias is None else attn_bias(a, b).to(q.dtype)
        heads = functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
        out = head_projection(heads.transpose(1, 2).reshape(B, N, -1), proj, a, b)
        return out if gamma is None else gamma * out

    # Working set of the whole core per byte of its input: q, k, v and their gradients, the heads' output
    # and its gradient.
    return Pieces(split=norm, core=core, merge=merge, expansion=8.0, active=active, parts=num_heads)
