"""A bounded recompute: a unit's branch computed and back-propagated one piece at a time.

Reversibility removes the stored activations, and then the peak of a training step is the working
set of one unit's recompute: on Video Swin-T clips, a stage-1 attention unit keeps ~700 MiB of
window attention matrices alive for a stream of 19 MiB. Many branches act independently on the
items along one axis: Swin's attention on its windows, an MLP on its tokens. Written as
``branch(x) = merge(core(split(x)), x)``, with ``core`` independent along ``dim`` of ``split(x)``,
the core runs a piece of items at a time, so only one piece's working set is ever alive.

The contract a family's adapter keeps (the tests compare each pieced branch with the unit's own):

- ``split`` and ``core`` draw no random numbers (``active`` says False when dropout is on), and
  ``core`` returns a tensor of its input's shape;
- either ``core`` is independent along ``dim`` of its input (windows, tokens) and the pieces' outputs
  are concatenated, or it is a sum over ``parts`` (global attention: the heads, each projected through
  its slice of the output projection), each piece sees all items and the pieces' outputs are added;
- ``merge`` is linear in its first argument (drop-path's per-sample scale may draw random numbers:
  it is replayed, as the forward drew it, from the unit's RNG state).
"""
import math
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .replay import AutocastState, RngState, frozen_batchnorm_stats

#: Target for one piece's working set, in multiples of the bytes of the items it splits (the default of
#: ``Dr2Net(piece_working_set=...)``). Larger: fewer, larger pieces, a higher peak and fewer kernel
#: launches (on a GPU each piece's launches cost time the CPU does not notice: docs/results.md).
PIECE_WORKING_SET = 2.0

#: No piece has fewer rows (tokens, or positions of a feature map) than this. Each piece's forward and
#: backward read the unit's weights and make a full-size gradient of them, whatever its rows: on Swin-B at
#: 224², stage-3 MLPs cut into pieces of 56 tokens took 1.5 x checkpointing's time, 128 or more ~1.0 x
#: (docs/results.md).
MIN_PIECE_ROWS = 128


def _piece_ranges(size: int, expansion: float, rows: int,
                  working_set: float = PIECE_WORKING_SET) -> List[Tuple[int, int]]:
    """``size`` items holding ``rows`` rows in all, cut into enough pieces that a working set of
    ``expansion`` times the items' bytes is at most ``working_set`` times a piece's share, but
    into none of fewer than ``MIN_PIECE_ROWS`` rows."""
    count = min(math.ceil(expansion / working_set), rows // MIN_PIECE_ROWS)
    count = max(1, min(size, count))
    step = math.ceil(size / count)
    return [(a, min(a + step, size)) for a in range(0, size, step)]


def shares_storage(a: Tensor, *others: Optional[Tensor]) -> bool:
    """Whether ``a`` lives in the storage of any of ``others`` (None: none). Storages are compared
    themselves, not their addresses: every tensor on the meta device has address 0."""
    return any(o is not None and a.untyped_storage()._cdata == o.untyped_storage()._cdata for o in others)


@dataclass
class Pieces:
    """``branch(x) == merge(core(split(x)), x)``, ``core`` independent along ``dim`` of its input.

    ``core(items, start, end)`` gets the items ``start:end`` along ``dim`` (it may need to know which,
    e.g. for the shift mask of those windows); with ``parts`` it gets all items and returns the sum of
    parts ``start:end`` (global attention's heads: each query needs every key, so tokens are not
    independent, but heads are, and the output projection of a concatenation is a sum).
    ``expansion`` estimates core's working set per byte of its input (window attention: ~3 x heads x
    tokens per window / channels), which sets how many pieces are needed; ``active()`` says whether
    the pieced form may be used now.
    """

    split: Callable[[Tensor], Tensor]
    core: Callable[[Tensor, int, int], Tensor]
    merge: Callable[[Tensor, Tensor], Tensor]
    expansion: float
    dim: int = 1
    active: Callable[[], bool] = lambda: True
    parts: Optional[int] = None
    #: The dtype ``core`` returned in the forward (under autocast often narrower than its input's): the
    #: backward's transpose of ``merge`` runs in it, so that it rounds as ordinary backprop's does.
    core_dtype: Optional[torch.dtype] = None
    working_set: float = PIECE_WORKING_SET

    def ranges(self, items: Tensor) -> List[Tuple[int, int]]:
        """``(start, end)`` of each piece: enough that each piece's working set is at most
        ``working_set`` times the items' bytes, each of ``MIN_PIECE_ROWS`` rows (tokens) or more.
        (Each of ``parts`` sees all rows.)"""
        if self.parts is not None:
            return _piece_ranges(self.parts, self.expansion, self.parts * items.numel() // items.shape[-1],
                                 self.working_set)
        return _piece_ranges(items.shape[self.dim], self.expansion, items.numel() // items.shape[-1],
                             self.working_set)

    def piece_input(self, items: Tensor, start: int, end: int) -> Tensor:
        """What ``core`` gets for the piece ``start:end``: its items along ``dim``, or all of them."""
        return items if self.parts is not None else items.narrow(self.dim, start, end - start)

    def gather(self, out: Optional[Tensor], piece: Tensor, items: Tensor, start: int, end: int) -> Tensor:
        """``out`` with the piece's output written in (``dim``) or added (``parts``); a new ``out`` if None.
        The same order of additions in the forward and the backward keeps the two bitwise equal."""
        if self.parts is not None:
            return piece if out is None else out.add_(piece)
        if out is None:
            out = piece.new_empty(items.shape)
        out.narrow(self.dim, start, end - start).copy_(piece)
        return out

    def run_core(self, items: Tensor) -> Tensor:
        """``core`` over all items, a piece at a time (without a graph: the forward and replays)."""
        out = None
        for a, b in self.ranges(items):
            out = self.gather(out, self.core(self.piece_input(items, a, b), a, b), items, a, b)
        self.core_dtype = out.dtype
        return out


@dataclass
class SamplePieces:
    """The whole unit, identity and ``post`` included, acts on each sample alone (no train-mode
    BatchNorm, no random masks): the backward then recomputes it a few samples at a time.

    ``expansion`` estimates the unit's recompute working set per byte of its input (a ResNet
    bottleneck keeps ~6 stream-sized tensors for its backward); ``active()`` says whether the samples
    are independent now (train-mode BatchNorm mixes them, dropout would draw other masks). The unit's
    input has its channels at ``channel_dim``; its other positions are the rows.
    """

    expansion: float
    active: Callable[[], bool] = lambda: True
    channel_dim: int = 1
    working_set: float = PIECE_WORKING_SET

    def ranges(self, x: Tensor) -> List[Tuple[int, int]]:
        """``(start, end)`` of each piece of the batch ``x`` (as ``Pieces.ranges``)."""
        return _piece_ranges(x.shape[0], self.expansion, x.numel() // x.shape[self.channel_dim], self.working_set)


def backward_by_samples(unit: Callable[[Tensor], Tensor], samples: SamplePieces, x: Tensor, grad: Tensor,
                        modules: Sequence, params: Sequence[nn.Parameter], rng: RngState,
                        autocast: AutocastState, take_value: Optional[Callable[[int, int, Tensor], None]] = None,
                        grad_into: Optional[Tensor] = None) -> Tuple[Optional[Tensor], Tensor]:
    """``backward_by_recompute`` of a unit a few samples at a time: each piece is recomputed and
    back-propagated on its own (parameter gradients accumulate in ``.grad``) and its graph freed
    before the next. Returns ``unit(x)`` (detached; equal to the whole batch's up to the rounding of
    kernels for fewer samples) and ``dL/dx``.

    No tensor of the whole batch need be made for either: ``take_value(start, end, value)`` receives
    each piece's value instead (then None is returned for it), and ``dL/dx`` is added into
    ``grad_into`` where given (the caller's pending gradient of ``x``, returned)."""
    out = None
    grad_in = grad_into if grad_into is not None else torch.empty_like(x)
    with frozen_batchnorm_stats(modules), rng.restored():
        for a, b in samples.ranges(x):
            piece = x[a:b].detach().requires_grad_(True)
            with torch.enable_grad(), autocast.replayed():
                piece_out = unit(piece)
            torch.autograd.backward(piece_out, grad[a:b].to(piece_out.dtype), inputs=[piece, *params])
            if take_value is not None:
                take_value(a, b, piece_out.detach())
            else:
                if out is None:
                    out = piece_out.new_empty((x.shape[0], *piece_out.shape[1:]))
                out[a:b].copy_(piece_out.detach())
            if grad_into is not None:
                grad_in[a:b].add_(piece.grad)
            else:
                grad_in[a:b].copy_(piece.grad)
            del piece, piece_out
    return out, grad_in


def add_identity(alpha: float, x: Tensor, branch_out: Tensor) -> Tensor:
    """``alpha * x + branch_out`` for a ``branch_out`` nothing else holds, in its storage where the
    dtypes allow: at the end of the schedule the stream-sized temporaries of this sum are part of the
    backward's peak. The forward and the backward's replay both use it, so they agree bit for bit."""
    if branch_out.dtype != torch.promote_types(branch_out.dtype, x.dtype):
        return alpha * x + branch_out
    return branch_out if alpha == 0 else branch_out.add_(x, alpha=alpha)


def pieced_branch(pieces: Pieces, x: Tensor) -> Tensor:
    """``branch(x)`` computed a piece at a time, without a graph; draws from the global RNG as the
    branch does (only in ``merge``)."""
    with torch.no_grad():
        return pieces.merge(pieces.run_core(pieces.split(x)), x)


def backward_by_pieces(pieces: Pieces, alpha: float, x: Tensor, grad: Tensor, modules: Sequence,
                       params: Sequence[nn.Parameter], rng: RngState, autocast: AutocastState
                       ) -> Tuple[Tensor, Tensor]:
    """``backward_by_recompute`` for a unit ``alpha * x + branch(x)`` whose branch comes in pieces.

    1. ``split`` is recomputed with its graph (small: a LayerNorm and permutations);
    2. the gradient reaching the core's output is merge's transpose applied to ``grad`` (merge is
       linear, so this needs no core output; it runs in the dtype the core returned in the forward);
    3. each piece of the core is recomputed and back-propagated on its own: its parameters'
       gradients accumulate in ``.grad``, its input gradient is written over the consumed part of
       the output gradient (with ``parts``: added into one gradient of all items), and its graph is
       freed before the next piece;
    4. the split is back-propagated, and ``alpha * grad`` added for the identity.

    Returns ``alpha * x + branch(x)`` (detached, as the forward computed it) and ``dL/dx``.
    """
    inp = x.detach().requires_grad_(True)
    with frozen_batchnorm_stats(modules):
        with torch.enable_grad(), rng.restored(), autocast.replayed():
            items = pieces.split(inp)
            holder = torch.zeros_like(items, dtype=pieces.core_dtype or items.dtype, requires_grad=True)
            merged = pieces.merge(holder, x)
        (grad_items,) = torch.autograd.grad(merged, holder, grad)
        del holder, merged
        summed = pieces.parts is not None
        if not summed and grad_items.dtype != items.dtype:
            grad_items = grad_items.to(items.dtype)   # the pieces' input gradients are written here
        elif not summed and shares_storage(grad_items, grad):
            grad_items = grad_items.clone()   # merge was a view: the pieces' input gradients are written here
        whole = items.detach().requires_grad_(True) if summed else None   # every part's input: gradients add up
        out = None
        for a, b in pieces.ranges(items):
            piece = whole if summed else pieces.piece_input(items.detach(), a, b).requires_grad_(True)
            with torch.enable_grad(), autocast.replayed():
                piece_out = pieces.core(piece, a, b)
            piece_grad = grad_items if summed else grad_items.narrow(pieces.dim, a, b - a)
            torch.autograd.backward(piece_out, piece_grad.to(piece_out.dtype), inputs=[piece, *params])
            out = pieces.gather(out, piece_out.detach(), items, a, b)
            if not summed:
                piece_grad.copy_(piece.grad)
            del piece, piece_out, piece_grad
        if summed:
            grad_items, whole = whole.grad, None
        torch.autograd.backward(items, grad_items, inputs=[inp, *params])
        del items, grad_items    # before the value is merged: the peak of this backward is here
    with torch.no_grad(), rng.restored(), autocast.replayed():
        value = add_identity(alpha, x, pieces.merge(out, x))
    return value, inp.grad.add_(grad, alpha=alpha) if alpha != 0 else inp.grad
