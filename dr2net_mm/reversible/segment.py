"""A Dr²Net segment: ``x_i = G_i(x_{i-1}) + beta * x_{i-2}``, both streams starting at the input.

``G_i(x) = post(alpha * x + F_i(x))``; the output is ``x_N``, so ``alpha=1, beta=0`` is exactly the
pretrained network. Gradients come from one of:

- plain autograd (the reference);
- :class:`DualResidualFunction`, which stores only the stream pairs at chunk boundaries and, in the
  backward, walks each chunk from its top pair down, recomputing one unit at a time. One recompute
  of ``G_i`` serves the local backward and the reconstruction of ``x_{i-2}``; each chunk restarts
  from both stored tensors, and the reconstructed pair at each stored boundary is compared with the
  stored one: an exact measurement of the reconstruction error. Where nothing is reconstructed
  (beta = 0, ``grad_mode='checkpoint'``, errors growing too fast) chunks are spans of a few units whose
  inside the backward recomputes forward from the stored bottom. Parameter gradients go into
  ``.grad`` unit by unit, so a chunk whose predicted error is not negligible is probed first (a
  reconstruction pass without gradients); if it exceeds ``tol`` (the estimate can be wrong, e.g. for
  BatchNorm in train mode on tiny maps) the chunk runs on exact values recomputed forward from its
  stored bottom pair, and the segment plans shorter chunks for the next steps.
"""
import functools
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .pieces import backward_by_pieces, backward_by_samples, shares_storage
from .planner import SAFETY, chunk_length, growth_rate, unit_roundoff
from .replay import AutocastState, RngState, backward_by_recompute, frozen_batchnorm_stats, train_batchnorms
from .units import Unit

# Chunks whose predicted error is within this factor of tol are probed before their gradients count.
VERIFY_MARGIN = 1e-2

# Where nothing is reconstructed (beta = 0, or errors growing too fast for chunks of a few units), the
# stream is stored at the boundaries of spans of this many units and the values inside a span recomputed
# forward in the backward: a pair of values per span (one at beta = 0, where x_{i-2} is not needed),
# so the schedule's start stores one value per two units, as with_cp stores one input per transformer
# block, instead of every unit's.
EXACT_SPAN = 4


@dataclass
class SegmentStats:
    """What the last backward of a segment measured, and what it learned for the next steps."""

    num_units: int = 0
    chunk_length: int = 0
    recon_error: float = 0.0     # max relative error of reconstructed vs stored boundary pairs
    stored_tensors: int = 0
    fallbacks: int = 0           # chunks redone exactly in the last backward
    shrink: int = 0              # planned chunk lengths are divided by 2**shrink

    def adapt(self, tol: float) -> None:
        """Shorter chunks after a fallback or a reconstruction error above tol (or not finite); longer
        again once the error is far below tol."""
        if self.fallbacks or not self.recon_error <= tol:      # a NaN fails too
            self.shrink += 1
        elif self.shrink and self.recon_error < tol / 64:
            self.shrink -= 1


@dataclass
class _Plan:
    """How one forward of a segment runs and must be replayed: coefficients, chunking, RNG, autocast."""

    units: Sequence[Unit]
    alpha: float
    beta: float
    chunk: int
    tol: float
    stats: SegmentStats
    dtype_eps: float = 0.0
    rng: List[RngState] = field(default_factory=list)
    autocast: Optional[AutocastState] = None

    @property
    def reconstructs(self) -> bool:
        """Whether inputs are rebuilt from outputs: chunks shorter than ``EXACT_SPAN`` would store more
        than exact spans do, so they are not used."""
        return self.beta != 0 and self.chunk >= min(EXACT_SPAN, len(self.units)) and self.chunk > 1

    @property
    def span(self) -> int:
        """Units between stored boundaries: the reconstruction chunk, or a span whose inputs the backward
        recomputes forward from the stored boundary below it (at beta = 0 half as long: one value, not a
        pair, per boundary)."""
        if self.reconstructs:
            return self.chunk
        return min(EXACT_SPAN // 2 if self.beta == 0 else EXACT_SPAN, len(self.units))

    def chunk_needs_probe(self, length: int) -> bool:
        """Whether a chunk of ``length`` units could exceed tol (else its reconstruction is trusted and
        its error measured for free at the stored bottom pair). Where errors do not grow (rho <= 1)
        the roundings still enter: in fp16/bf16 they alone can exceed tol (ResNet's bf16 streams under
        autocast at (0, 1): 1.3e-3), so such chunks are probed too."""
        rho = max(growth_rate(self.alpha, self.beta), 1.0)
        return SAFETY * self.dtype_eps * rho ** length > self.tol * VERIFY_MARGIN

    def replay(self, i: int, x_prev: Tensor) -> Tensor:
        """``G_i(x_{i-1})`` without a graph, exactly as the forward computed it (RNG, autocast), leaving
        BatchNorm running statistics untouched."""
        unit = self.units[i - 1]
        with torch.no_grad(), self.rng[i - 1].restored(), self.autocast.replayed(), \
                frozen_batchnorm_stats(unit.modules):
            return unit.bounded(x_prev, self.alpha, self.reduced_precision)

    @property
    def reduced_precision(self) -> bool:
        """Whether the forward ran under fp16/bf16 autocast: then units split no sums (``Unit.in_pieces``),
        in the forward and in every recompute alike."""
        return self.autocast is not None and self.autocast.reduced_precision


def _recurrence(g: Tensor, prev: Tensor, beta: float) -> Tensor:
    """The Dr²Net recurrence, written once: ``x_i = G_i(x_{i-1}) + beta * x_{i-2}`` from ``g = G_i(x_{i-1})``."""
    return g + beta * prev if beta != 0 else g


def _step(unit: Unit, cur: Tensor, prev: Tensor, alpha: float, beta: float, graph: bool = True,
          reduced_precision: bool = False) -> Tensor:
    """One unit of the recurrence (without a graph: the unit's branch a piece at a time where it can be)."""
    return _recurrence(unit(cur, alpha) if graph else unit.bounded(cur, alpha, reduced_precision), prev, beta)


def _boundaries(num_units: int, chunk: int) -> List[int]:
    """Stream indices that end a chunk (the last is ``num_units``)."""
    ends = list(range(chunk, num_units, chunk))
    return ends + [num_units]


def _chunks_top_down(num_units: int, chunk: int) -> List[Tuple[int, int]]:
    """(start, end) of each chunk, last chunk first: the order of the backward."""
    ends = _boundaries(num_units, chunk)
    return list(zip([0] + ends[:-1], ends, strict=True))[::-1]


def _relative_error(a: Tensor, b: Tensor) -> float:
    """Relative error of a reconstruction; ``inf`` when it (or the stored value) is not finite, so
    that a NaN can neither pass a ``<= tol`` check nor vanish in a ``max``."""
    error = _value((a - b).norm() / b.norm().clamp_min(1e-30))
    return error if math.isfinite(error) else math.inf


def _value(scalar: Tensor) -> float:
    """A 0-d tensor as a float; 0 on the meta device, where tensors have shapes but no values (the
    benchmark runs there to count the bytes a step allocates at sizes no real memory holds)."""
    return 0.0 if scalar.is_meta else float(scalar)


class DualResidualFunction(torch.autograd.Function):
    """Forward without a graph; backward by chunked reconstruction, one unit at a time.

    Parameter gradients are accumulated by a nested ``torch.autograd.backward`` per unit: each
    parameter's own AccumulateGrad node runs (DDP's reducer hooks fire, once per parameter and step)
    and adds into ``.grad`` in place at once, so no segment's worth of gradients is ever held.
    Because a unit's gradients cannot be taken back, a chunk whose reconstruction might exceed
    ``tol`` is probed first (a reconstruction pass without gradients) and, if it does, run from
    exact values recomputed forward from its stored bottom pair.
    """

    @staticmethod
    def forward(ctx, x: Tensor, plan: _Plan, anchor: Optional[Tensor]) -> Tensor:
        pair = (0,) if plan.beta == 0 else (1, 0)      # the recurrence reads x_{i-2} only where beta != 0
        keep = {end - k for end in _boundaries(len(plan.units), plan.span) for k in pair}
        plan.autocast = AutocastState.capture(x)
        stored = {}
        prev = cur = x
        with torch.no_grad():
            for i, unit in enumerate(plan.units, start=1):
                plan.rng.append(RngState.capture(cur))
                prev, cur = cur, _step(unit, cur, prev, plan.alpha, plan.beta, graph=False,
                                       reduced_precision=plan.reduced_precision)
                if i in keep:
                    stored[i] = cur
        ctx.plan = plan
        ctx.indices = sorted(stored)
        ctx.save_for_backward(x, *(stored[i] for i in ctx.indices))
        plan.stats.stored_tensors = 1 + len(ctx.indices)
        return cur

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        plan: _Plan = ctx.plan
        x, *saved = ctx.saved_tensors
        stored = {-1: x, 0: x, **dict(zip(ctx.indices, saved, strict=True))}
        grads = _StreamGrads(cur=grad_out, prev=None, incoming=grad_out)
        error, fallbacks = 0.0, 0
        for start, end in _chunks_top_down(len(plan.units), plan.span):
            exact = None if plan.reconstructs or end - start == 1 else _forward_chunk(plan, start, end, stored)
            probed = plan.reconstructs and end - start > 1 and plan.chunk_needs_probe(end - start)
            if probed:
                chunk_error = _probe_chunk(plan, start, end, stored)
                error = max(error, chunk_error)
                if not chunk_error <= plan.tol:     # a non-finite error (inf) fails too
                    exact = _forward_chunk(plan, start, end, stored)
                    fallbacks += 1
            bottom_error = _reverse_chunk(plan, start, end, stored, grads, exact)
            if bottom_error is not None and not probed:   # the reconstruction met the stored bottom pair
                error = max(error, bottom_error)
            del exact
        plan.stats.recon_error = error
        plan.stats.fallbacks = fallbacks
        plan.stats.adapt(plan.tol)
        return grads.total(), None, None


@dataclass
class _StreamGrads:
    """dL/dx_i (``cur``, complete) and the part of dL/dx_{i-1} already known (``prev``, from the beta
    skip of unit i+1; None: zero), walking down the units. The backward's own stream-sized tensors are
    updated in place; ``incoming`` (autograd's gradient) is never written."""

    cur: Tensor
    prev: Optional[Tensor]
    incoming: Tensor

    def pending(self) -> Optional[Tensor]:
        """``prev`` where the backward owns its buffer: unit i's input gradient may be added into it."""
        return self.prev if self.prev is not None and self._writable(self.prev, self.cur) else None

    def step_down(self, grad_through_unit: Tensor, beta: float, includes_prev: bool = False) -> None:
        """From unit i to unit i-1: dL/dx_{i-1} = J_i^T dL/dx_i + prev (already added where
        ``includes_prev``), and beta * dL/dx_i is known of dL/dx_{i-2} (nothing at beta = 0)."""
        grad_in = grad_through_unit
        if self.prev is not None and not includes_prev:
            grad_in = grad_in.add_(self.prev) if self._writable(grad_in, self.cur) else grad_in + self.prev
        if beta == 0 or beta == 1:
            self.prev = None if beta == 0 else self.cur      # no copy: prev is only written where pending() allows
        else:
            self.prev = self.cur.mul_(beta) if self._writable(self.cur, grad_in) else self.cur * beta
        self.cur = grad_in

    def total(self) -> Tensor:
        """dL/dx_0 of the segment input, which feeds both streams."""
        return self.cur if self.prev is None else self.cur + self.prev

    def _writable(self, t: Tensor, other: Tensor) -> bool:
        return not shares_storage(t, other, self.incoming)


TakeValue = Callable[[int, int, Tensor], None]


def _unit_backward(plan: _Plan, i: int, x_prev: Tensor, grad: Tensor, take_value: TakeValue,
                   grad_into: Optional[Tensor]) -> Tensor:
    """Recompute unit ``i`` with autograd on (in pieces or by samples where it can be), backprop ``grad`` through it
    once: parameter gradients go straight into ``.grad``, ``G_i(x_{i-1})`` goes to ``take_value(start, end,
    value)`` (samples ``start:end``), and ``J_i^T grad`` is returned, added into ``grad_into`` where given. A unit
    by samples makes no tensor of the whole batch for either."""
    unit = plan.units[i - 1]
    if unit.in_pieces(plan.reduced_precision):
        g, grad_in = backward_by_pieces(unit.pieces, plan.alpha, x_prev, grad, unit.modules,
                                        unit.trainable_parameters, plan.rng[i - 1], plan.autocast)
    elif unit.by_samples(x_prev, plan.reduced_precision):
        return backward_by_samples(lambda t: unit(t, plan.alpha), unit.samples, x_prev, grad, unit.modules,
                                   unit.trainable_parameters, plan.rng[i - 1], plan.autocast, take_value,
                                   grad_into)[1]
    else:
        g, grad_in = backward_by_recompute(lambda t: unit(t, plan.alpha), x_prev, grad, unit.modules,
                                           unit.trainable_parameters, plan.rng[i - 1], plan.autocast)
        grad_in = grad_in if grad_in is not None else torch.zeros_like(grad)
    take_value(0, g.shape[0], g)
    return grad_in if grad_into is None else grad_into.add_(grad_in)


def _invert(g: Tensor, x_cur: Tensor, x_prev: Tensor, beta: float) -> Tensor:
    """The recurrence solved for its oldest term, ``x_{i-2} = (x_i - G_i(x_{i-1})) / beta``, in ``g``'s
    storage when nothing else holds it."""
    g = g.to(x_cur.dtype)
    if g.dtype == x_cur.dtype and not shares_storage(g, x_prev, x_cur):
        return g.sub_(x_cur).div_(-beta)
    return (x_cur - g) / beta


def _discard(start: int, end: int, value: Tensor) -> None:
    """Where nothing is reconstructed, a unit's recomputed value is not needed."""


def _reverse_chunk(plan: _Plan, start: int, end: int, stored: Dict[int, Tensor], grads: _StreamGrads,
                   exact: Optional[Dict[int, Tensor]] = None) -> Optional[float]:
    """Backward through units ``end..start+1``, updating ``grads``.

    Each unit's input is reconstructed downwards from the stored pair at the chunk's top, or taken
    from ``exact``, or (no reconstruction: checkpointing) from the stored values. x_{i-2} is written
    over x_i where the backward owns it, and unit i's input gradient added into the pending part of
    dL/dx_{i-1}: at most the two streams, two gradients and one unit's recompute are alive at once
    (a unit by samples: one piece's). This is the backward's peak.
    The chunk's bottom pair (x_{start-1}, x_start) is stored: there the reconstruction is only
    compared with it, a piece at a time, and the walk goes on from the stored values. Returns the
    largest relative error of those comparisons (None without reconstruction).
    """
    x_prev, x_cur = stored.get(end - 1), stored[end]
    error = None
    for i in range(end, start, -1):
        take, older, check = _discard, None, None
        if exact is None and plan.reconstructs:
            if i - 2 <= start:     # x_{start-1} or x_start: stored
                check = _StoredCheck(stored[i - 2])
                take = functools.partial(check.add, x_cur, plan.beta)
            else:
                older = torch.empty_like(x_cur) if shares_storage(x_cur, *stored.values()) else x_cur
                take = functools.partial(_invert_into, older, x_cur, plan.beta)
        pending = grads.pending()
        grad_in = _unit_backward(plan, i, x_prev if exact is None else exact[i - 1], grads.cur, take, pending)
        grads.step_down(grad_in, plan.beta, includes_prev=pending is not None)
        if check is not None:
            error = max(error or 0.0, check.error())
            older = stored[i - 2]
        x_prev, x_cur = (None, None) if older is None else (older, x_prev)
        del take
    return error


class _StoredCheck:
    """x_{i-2} reconstructed a piece at a time and compared with its stored value: only the error is
    kept (the walk goes on from the stored value)."""

    def __init__(self, stored: Tensor):
        self.stored = stored
        self.squares = 0.0

    def add(self, x_cur: Tensor, beta: float, start: int, end: int, g: Tensor) -> None:
        piece = torch.sub(x_cur[start:end], g.to(x_cur.dtype))
        piece.div_(beta).sub_(self.stored[start:end])
        self.squares += _value(piece.norm()) ** 2

    def error(self) -> float:
        """As ``_relative_error`` of the whole reconstruction (``inf`` where it is not finite)."""
        error = math.sqrt(self.squares) / max(_value(self.stored.norm()), 1e-30)
        return error if math.isfinite(error) else math.inf


def _invert_into(older: Tensor, x_cur: Tensor, beta: float, start: int, end: int, g: Tensor) -> None:
    """``x_{i-2} = (x_i - G_i(x_{i-1})) / beta`` for samples ``start:end``, written into ``older`` (which may
    be ``x_cur`` itself: each sample of x_i is read before it is overwritten)."""
    target = older[start:end]
    torch.sub(x_cur[start:end], g.to(x_cur.dtype), out=target)
    target.div_(beta)


def _probe_chunk(plan: _Plan, start: int, end: int, stored: Dict[int, Tensor]) -> float:
    """Reconstruct the chunk downwards without gradients; the relative error at its stored bottom."""
    x_prev, x_cur = stored[end - 1], stored[end]
    with torch.no_grad():
        for i in range(end, start, -1):
            x_prev, x_cur = _invert(plan.replay(i, x_prev), x_cur, x_prev, plan.beta), x_prev
    return max(_relative_error(x_prev, stored[start - 1]), _relative_error(x_cur, stored[start]))


def _forward_chunk(plan: _Plan, start: int, end: int, stored: Dict[int, Tensor]) -> Dict[int, Tensor]:
    """Exact stream values inside a chunk, recomputed forward from the stored pair at its bottom (at
    beta = 0 from its bottom value alone); a value the forward stored (x_{end-1} of a span's top pair)
    is taken, not recomputed."""
    exact = {start - 1: stored.get(start - 1), start: stored[start]}
    with torch.no_grad():
        for i in range(start + 1, end):
            exact[i] = stored[i] if i in stored else \
                _recurrence(plan.replay(i, exact[i - 1]), exact[i - 2], plan.beta)
    return exact


def _run_in_order(x: Tensor, units: Sequence[Unit], alpha: float, beta: float, graph: bool = True) -> Tensor:
    """The units in order, as the unconverted network runs them (autograd stores what it needs);
    without a graph (inference) each a piece at a time where it can be, so a long clip's attention
    is never whole (one block of Video Swin at 1,024 frames of 224², batch 2: 14 GiB)."""
    reduced_precision = not graph and AutocastState.capture(x).reduced_precision
    prev = cur = x
    for unit in units:
        prev, cur = cur, _step(unit, cur, prev, alpha, beta, graph, reduced_precision)
    return cur


# Train-mode BatchNorm makes gradients far more sensitive than activations: measured on mmaction2's
# TSN ResNet-50 at (0.5, 0.5), a reconstruction error of 2e-5 gave 4e-3 in the gradients (the BN
# backward removes the batch mean, so its parameter gradients come from near-cancelling sums).
# Segments with such units reconstruct to tol times this factor.
TRAIN_BATCHNORM_TOL_FACTOR = 1e-3


def run_segment(x: Tensor, units: Sequence[Unit], alpha: float, beta: float, grad_mode: str = 'auto',
                tol: float = 1e-3, stats: Optional[SegmentStats] = None) -> Tensor:
    """Run ``units`` as one Dr²Net segment and return ``x_N``; ``stats`` receives the measurements."""
    stats = stats if stats is not None else SegmentStats()
    stats.num_units = len(units)
    needs_graph = torch.is_grad_enabled() and (x.requires_grad or any(u.trainable_parameters for u in units))
    if not needs_graph or not units or torch.jit.is_tracing():    # a trace (export) records the plain ops
        stats.chunk_length, stats.recon_error, stats.stored_tensors = 0, 0.0, 0
        with torch.set_grad_enabled(needs_graph):
            return _run_in_order(x, units, alpha, beta, graph=needs_graph or torch.jit.is_tracing())
    autocast = AutocastState.capture(x)
    autocast_dtype = autocast.dtype if autocast.enabled else None
    if next(train_batchnorms([m for u in units for m in u.modules]), None) is not None:
        tol = tol * TRAIN_BATCHNORM_TOL_FACTOR
    chunk = chunk_length(len(units), alpha, beta, grad_mode, tol, x.dtype, autocast_dtype)
    if grad_mode == 'auto' and chunk > 1:
        chunk = max(1, chunk >> stats.shrink)
    stats.chunk_length = chunk
    if chunk == 0:
        stats.recon_error, stats.stored_tensors = 0.0, 0
        return _run_in_order(x, units, alpha, beta)
    plan = _Plan(units, float(alpha), float(beta), chunk, float(tol), stats,
                 dtype_eps=unit_roundoff(x.dtype, autocast_dtype))
    # The output must require grad whenever parameters do, even if the input does not.
    anchor = None if x.requires_grad else torch.empty(0, requires_grad=True)
    return DualResidualFunction.apply(x, plan, anchor)
