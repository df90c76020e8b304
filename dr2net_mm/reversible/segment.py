"""A Dr²Net segment: ``x_i = G_i(x_{i-1}) + beta * x_{i-2}``, both streams starting at the input.

``G_i(x) = post(alpha * x + F_i(x))``; the output is ``x_N``, so ``alpha=1, beta=0`` is exactly the
pretrained network. Gradients come from one of:

- plain autograd (the reference);
- :class:`DualResidualFunction`, which stores only the stream pairs at chunk boundaries and, in the
  backward, walks each chunk from its top pair down, recomputing one unit at a time. One recompute
  of ``G_i`` serves the local backward and the reconstruction of ``x_{i-2}``; each chunk restarts
  from both stored tensors, and the reconstructed pair at each stored boundary is compared with the
  stored one: an exact measurement of the reconstruction error. Parameter gradients go into
  ``.grad`` unit by unit, so a chunk whose predicted error is not negligible is verified first (a
  reconstruction pass without gradients); if it exceeds ``tol`` (the estimate can be wrong, e.g. for
  BatchNorm in train mode on tiny maps) the chunk runs on exact values recomputed forward from its
  stored bottom pair, and the segment plans shorter chunks for the next steps.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor

from .planner import SAFETY, chunk_length, growth_rate, unit_roundoff
from .replay import AutocastState, RngState, backward_by_recompute, frozen_batchnorm_stats
from .units import Unit

# Chunks whose predicted error is within this factor of tol are verified before their gradients count.
VERIFY_MARGIN = 1e-2


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
        """Shorter chunks after a fallback; longer again once the error is far below tol."""
        if self.fallbacks:
            self.shrink += 1
        elif self.shrink and self.recon_error < tol / 64:
            self.shrink -= 1


@dataclass
class _Context:
    units: Sequence[Unit]
    alpha: float
    beta: float
    chunk: int
    tol: float
    stats: SegmentStats
    dtype_eps: float = 0.0
    rng: List[RngState] = field(default_factory=list)
    autocast: Optional[AutocastState] = None

    def verify(self, length: int) -> bool:
        """Whether a chunk of ``length`` units could exceed tol (else its probe comes for free)."""
        rho = growth_rate(self.alpha, self.beta)
        return rho > 1.0 + 1e-6 and SAFETY * self.dtype_eps * rho ** length > self.tol * VERIFY_MARGIN


def _boundaries(num_units: int, chunk: int) -> List[int]:
    """Stream indices that end a chunk (the last is ``num_units``)."""
    ends = list(range(chunk, num_units, chunk))
    return ends + [num_units]


def _relative_error(a: Tensor, b: Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


class DualResidualFunction(torch.autograd.Function):
    """Forward without a graph; backward by chunked reconstruction, one unit at a time.

    Parameter gradients are accumulated by a nested ``torch.autograd.backward`` per unit: each
    parameter's own AccumulateGrad node runs (DDP's reducer hooks fire, once per parameter and step)
    and adds into ``.grad`` in place at once, so no segment's worth of gradients is ever held.
    Because a unit's gradients cannot be taken back, a chunk whose reconstruction might exceed
    ``tol`` is verified first (a reconstruction pass without gradients) and, if it does, run from
    exact values recomputed forward from its stored bottom pair.
    """

    @staticmethod
    def forward(ctx, x: Tensor, run: _Context, anchor: Optional[Tensor]) -> Tensor:
        units, alpha, beta = run.units, run.alpha, run.beta
        keep = set()
        for end in _boundaries(len(units), run.chunk):
            keep.update((end - 1, end))
        run.autocast = AutocastState.capture(x)
        stored = {}
        prev = cur = x
        with torch.no_grad():
            for i, unit in enumerate(units, start=1):
                run.rng.append(RngState.capture(cur))
                new = unit(cur, alpha)
                if beta != 0:
                    new = new + beta * prev
                prev, cur = cur, new
                if i in keep:
                    stored[i] = cur
        ctx.run = run
        ctx.indices = sorted(stored)
        ctx.save_for_backward(x, *(stored[i] for i in ctx.indices))
        run.stats.stored_tensors = 1 + len(ctx.indices)
        return cur

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        run: _Context = ctx.run
        x, *saved = ctx.saved_tensors
        values = {-1: x, 0: x, **dict(zip(ctx.indices, saved))}
        grad_cur = grad_out   # total dL/dx_i
        grad_prev = None      # partial dL/dx_{i-1} (from the beta skip of unit i+1); None: zero
        error, fallbacks = 0.0, 0
        ends = _boundaries(len(run.units), run.chunk)
        reconstruct = run.beta != 0 and run.chunk > 1
        for start, end in zip(reversed([0] + ends[:-1]), reversed(ends)):
            exact = None
            verified = reconstruct and end - start > 1 and run.verify(end - start)
            if verified:
                chunk_error = _probe_chunk(run, start, end, values)
                error = max(error, chunk_error)
                if chunk_error > run.tol:
                    exact = _forward_chunk(run, start, end, values)
                    fallbacks += 1
            # Restart from both stored tensors at the chunk's top, reconstruct downwards.
            grad_cur, grad_prev, (bottom_prev, bottom_cur) = _reverse_chunk(
                run, start, end, values[end - 1], values[end], grad_cur, grad_prev, reconstruct, exact, grad_out)
            if reconstruct and not verified and bottom_prev is not None:
                error = max(error, _relative_error(bottom_prev, values[start - 1]),
                            _relative_error(bottom_cur, values[start]))
        run.stats.recon_error = error
        run.stats.fallbacks = fallbacks
        run.stats.adapt(run.tol)
        return (grad_cur if grad_prev is None else grad_cur + grad_prev), None, None


def _unit_backward(run: _Context, i: int, x_prev: Tensor, grad: Tensor):
    """Recompute unit ``i`` with autograd on, backprop ``grad`` through it once: parameter gradients
    go straight into ``.grad``; returns ``G_i(x_{i-1})`` and ``J_i^T grad``."""
    unit = run.units[i - 1]
    g, grad_in = backward_by_recompute(lambda t: unit(t, run.alpha), x_prev, grad, unit.modules,
                                       unit.trainable_parameters, run.rng[i - 1], run.autocast)
    return g, (grad_in if grad_in is not None else torch.zeros_like(grad))


def _shares_storage(a: Tensor, *others: Optional[Tensor]) -> bool:
    return any(o is not None and a.untyped_storage().data_ptr() == o.untyped_storage().data_ptr() for o in others)


def _reverse_chunk(run: _Context, start: int, end: int, x_prev: Tensor, x_cur: Tensor, grad_cur: Tensor,
                   grad_prev: Optional[Tensor], reconstruct: bool, exact: Optional[Dict[int, Tensor]] = None,
                   incoming: Optional[Tensor] = None):
    """Backward through units ``end..start+1``: inputs reconstructed from the top pair, or ``exact``.

    The stream-sized tensors this loop makes itself (input gradients, reconstructed streams) are
    updated in place, so at most the two streams, two gradients and one unit's recompute are alive
    at once: this is the backward's peak. ``incoming`` (autograd's own gradient) is never written.
    """
    beta = run.beta
    for i in range(end, start, -1):
        inp = exact[i - 1] if exact is not None else x_prev
        g, grad_in = _unit_backward(run, i, inp, grad_cur)
        # dL/dx_{i-1} = J_i^T dL/dx_i + (skip of unit i+1);  dL/dx_{i-2} gets beta * dL/dx_i.
        if grad_prev is not None:
            grad_in = grad_in.add_(grad_prev) if not _shares_storage(grad_in, grad_cur, incoming) \
                else grad_in + grad_prev
        owned = not _shares_storage(grad_cur, grad_in, incoming)  # incoming is autograd's: never written
        grad_prev = grad_cur.mul_(beta) if owned else grad_cur * beta
        grad_cur = grad_in
        if exact is None:
            # x_{i-2} = (x_i - G_i(x_{i-1})) / beta: the next input, and at the bottom the probe.
            if reconstruct:
                g = g.to(x_cur.dtype)
                in_place = g.dtype == x_cur.dtype and not _shares_storage(g, x_prev, x_cur)
                x_prev2 = g.sub_(x_cur).div_(-beta) if in_place else (x_cur - g) / beta
            else:
                x_prev2 = None
            del g
            x_prev, x_cur = x_prev2, x_prev
        else:
            x_prev = x_cur = None
    return grad_cur, grad_prev, (x_prev, x_cur)


def _probe_chunk(run: _Context, start: int, end: int, values: Dict[int, Tensor]) -> float:
    """Reconstruct the chunk downwards without gradients; the relative error at its stored bottom."""
    x_prev, x_cur = values[end - 1], values[end]
    with torch.no_grad():
        for i in range(end, start, -1):
            unit = run.units[i - 1]
            with run.rng[i - 1].restored(), run.autocast.replayed(), frozen_batchnorm_stats(unit.modules):
                g = unit(x_prev, run.alpha)
            x_prev, x_cur = (x_cur - g.to(x_cur.dtype)) / run.beta, x_prev
    return max(_relative_error(x_prev, values[start - 1]), _relative_error(x_cur, values[start]))


def _forward_chunk(run: _Context, start: int, end: int, values: Dict[int, Tensor]) -> Dict[int, Tensor]:
    """Exact stream values inside a chunk, recomputed forward from the stored pair at its bottom."""
    exact = {start - 1: values[start - 1], start: values[start]}
    with torch.no_grad():
        for i in range(start + 1, end):
            unit = run.units[i - 1]
            with run.rng[i - 1].restored(), run.autocast.replayed(), frozen_batchnorm_stats(unit.modules):
                exact[i] = unit(exact[i - 1], run.alpha) + run.beta * exact[i - 2]
    return exact


def _run_autograd(x: Tensor, units: Sequence[Unit], alpha: float, beta: float) -> Tensor:
    prev = cur = x
    for unit in units:
        new = unit(cur, alpha)
        if beta != 0:
            new = new + beta * prev
        prev, cur = cur, new
    return cur


# Train-mode BatchNorm makes gradients far more sensitive than activations: measured on mmaction2's
# TSN ResNet-50 at (0.5, 0.5), a reconstruction error of 2e-5 gave 4e-3 in the gradients (the BN
# backward removes the batch mean, so its parameter gradients come from near-cancelling sums).
# Segments with such units reconstruct to tol times this factor.
TRAIN_BATCHNORM_TOL_FACTOR = 1e-3


def _has_train_batchnorm(units: Sequence[Unit]) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training
               for u in units for root in u.modules if isinstance(root, torch.nn.Module) for m in root.modules())


def run_segment(x: Tensor, units: Sequence[Unit], alpha: float, beta: float, grad_mode: str = 'auto',
                tol: float = 1e-3, stats: Optional[SegmentStats] = None) -> Tensor:
    """Run ``units`` as one Dr²Net segment and return ``x_N``; ``stats`` receives the measurements."""
    stats = stats if stats is not None else SegmentStats()
    stats.num_units = len(units)
    needs_graph = torch.is_grad_enabled() and (x.requires_grad or any(u.trainable_parameters for u in units))
    if not needs_graph or not units:
        stats.chunk_length, stats.recon_error, stats.stored_tensors = 0, 0.0, 0
        with torch.set_grad_enabled(needs_graph):
            return _run_autograd(x, units, alpha, beta)
    autocast_dtype = torch.get_autocast_dtype(x.device.type) if torch.is_autocast_enabled(x.device.type) \
        else None
    if _has_train_batchnorm(units):
        tol = tol * TRAIN_BATCHNORM_TOL_FACTOR
    chunk = chunk_length(len(units), alpha, beta, grad_mode, tol, x.dtype, autocast_dtype)
    if grad_mode == 'auto' and chunk > 1:
        chunk = max(1, chunk >> stats.shrink)
    stats.chunk_length = chunk
    if chunk == 0:
        stats.recon_error, stats.stored_tensors = 0.0, 0
        return _run_autograd(x, units, alpha, beta)
    run = _Context(units, float(alpha), float(beta), chunk, float(tol), stats,
                   dtype_eps=unit_roundoff(x.dtype, autocast_dtype))
    # The output must require grad whenever parameters do, even if the input does not.
    anchor = None if x.requires_grad else torch.empty(0, requires_grad=True)
    return DualResidualFunction.apply(x, run, anchor)
