"""A Dr²Net segment: ``x_i = G_i(x_{i-1}) + beta * x_{i-2}``, both streams starting at the input.

``G_i(x) = post(alpha * x + F_i(x))``; the output is ``x_N``, so ``alpha=1, beta=0`` is exactly the
pretrained network. Gradients come from one of:

- plain autograd (the reference);
- :class:`DualResidualFunction`, which stores only the stream pairs at chunk boundaries and, in the
  backward, walks each chunk from its top pair down, recomputing one unit at a time. One recompute
  of ``G_i`` serves the local backward and the reconstruction of ``x_{i-2}``; each chunk restarts
  from both stored tensors, and the reconstructed pair at each stored boundary is compared with the
  stored one: a free, exact measurement of the reconstruction error. Where that error exceeds
  ``tol`` (the planner's estimate can be wrong, e.g. for BatchNorm in train mode on tiny maps), the
  chunk is redone exactly by forward recompute from its stored bottom pair, and the segment plans
  shorter chunks for the next steps.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor

from .planner import chunk_length
from .replay import AutocastState, RngState, frozen_batchnorm_stats
from .units import Unit


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
    rng: List[RngState] = field(default_factory=list)
    autocast: Optional[AutocastState] = None


def _boundaries(num_units: int, chunk: int) -> List[int]:
    """Stream indices that end a chunk (the last is ``num_units``)."""
    ends = list(range(chunk, num_units, chunk))
    return ends + [num_units]


def _relative_error(a: Tensor, b: Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


class DualResidualFunction(torch.autograd.Function):
    """Forward without a graph; backward by chunked reconstruction. Parameters are explicit inputs,
    so their gradients flow through autograd (DDP's reducer sees them like any other)."""

    @staticmethod
    def forward(ctx, x: Tensor, run: _Context, *params: Tensor) -> Tensor:
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
                if i in keep and i >= 1:
                    stored[i] = cur
        indices = sorted(stored)
        ctx.run = run
        ctx.indices = indices
        ctx.num_params = len(params)
        ctx.save_for_backward(x, *(stored[i] for i in indices))
        run.stats.stored_tensors = 1 + len(indices)
        return cur

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        run: _Context = ctx.run
        x, *saved = ctx.saved_tensors
        values = {-1: x, 0: x, **dict(zip(ctx.indices, saved))}
        param_grads: Dict[Tensor, Tensor] = {}
        grad_cur = grad_out                     # total dL/dx_i
        grad_prev = torch.zeros_like(grad_out)  # partial dL/dx_{i-1} (from the beta skip of unit i+1)
        error, fallbacks = 0.0, 0
        ends = _boundaries(len(run.units), run.chunk)
        reconstruct = run.beta != 0 and run.chunk > 1
        for start, end in zip(reversed([0] + ends[:-1]), reversed(ends)):
            # Restart from both stored tensors at the chunk's top, reconstruct downwards.
            result = _reverse_chunk(run, start, end, values[end - 1], values[end], grad_cur, grad_prev,
                                    reconstruct=reconstruct)
            if reconstruct:
                bottom_prev, bottom_cur = result[3]
                chunk_error = max(_relative_error(bottom_prev, values[start - 1]),
                                  _relative_error(bottom_cur, values[start]))
                error = max(error, chunk_error)
                if chunk_error > run.tol and end - start > 1:
                    # The estimate was wrong for this chunk (e.g. BatchNorm in train mode on tiny maps):
                    # redo it exactly from the stored pair at its bottom, as checkpointing would.
                    exact = _forward_chunk(run, start, end, values)
                    result = _reverse_chunk(run, start, end, None, None, grad_cur, grad_prev, exact=exact)
                    fallbacks += 1
            grad_cur, grad_prev, chunk_grads, _ = result
            for p, g in chunk_grads.items():
                param_grads[p] = g if p not in param_grads else param_grads[p] + g
        run.stats.recon_error = error
        run.stats.fallbacks = fallbacks
        run.stats.adapt(run.tol)
        grad_x = grad_cur + grad_prev
        return (grad_x, None, *(param_grads.get(p) for p in _flat_params(run.units)))


def _unit_backward(run: _Context, i: int, x_prev: Tensor, grad: Tensor):
    """Recompute unit ``i`` on its input with autograd on and backprop ``grad`` through it once."""
    unit = run.units[i - 1]
    inp = x_prev.detach().requires_grad_(True)
    params = unit.trainable_parameters
    # BatchNorm saves its running statistics for backward: restore them after it.
    with frozen_batchnorm_stats(unit.modules):
        with torch.enable_grad(), run.rng[i - 1].restored(), run.autocast.replayed():
            g = unit(inp, run.alpha)
        grads = torch.autograd.grad(g, [inp, *params], grad, allow_unused=True)
    grad_in = grads[0] if grads[0] is not None else torch.zeros_like(grad)
    return g.detach(), grad_in, [(p, gp) for p, gp in zip(params, grads[1:]) if gp is not None]


def _reverse_chunk(run: _Context, start: int, end: int, x_prev: Optional[Tensor], x_cur: Optional[Tensor],
                   grad_cur: Tensor, grad_prev: Tensor, reconstruct: bool = False,
                   exact: Optional[Dict[int, Tensor]] = None):
    """Backward through units ``end..start+1``: inputs reconstructed from the top pair, or ``exact``."""
    chunk_grads: Dict[Tensor, Tensor] = {}
    beta = run.beta
    for i in range(end, start, -1):
        g, grad_in, pgrads = _unit_backward(run, i, exact[i - 1] if exact is not None else x_prev, grad_cur)
        for p, gp in pgrads:
            chunk_grads[p] = gp if p not in chunk_grads else chunk_grads[p] + gp
        grad_cur, grad_prev = grad_prev + grad_in, beta * grad_cur
        if exact is None:
            # x_{i-2} = (x_i - G_i(x_{i-1})) / beta: the next input, and at the bottom the probe.
            x_prev2 = (x_cur - g.to(x_cur.dtype)) / beta if reconstruct else None
            x_prev, x_cur = x_prev2, x_prev
    return grad_cur, grad_prev, chunk_grads, (x_prev, x_cur)


def _forward_chunk(run: _Context, start: int, end: int, values: Dict[int, Tensor]) -> Dict[int, Tensor]:
    """Exact stream values inside a chunk, recomputed forward from the stored pair at its bottom."""
    exact = {start - 1: values[start - 1], start: values[start]}
    with torch.no_grad():
        for i in range(start + 1, end):
            unit = run.units[i - 1]
            with run.rng[i - 1].restored(), run.autocast.replayed(), frozen_batchnorm_stats(unit.modules):
                exact[i] = unit(exact[i - 1], run.alpha) + run.beta * exact[i - 2]
    return exact


def _flat_params(units: Sequence[Unit]) -> List[Tensor]:
    """Trainable parameters of all units, each once (a shared one gets its summed gradient once)."""
    seen, params = set(), []
    for unit in units:
        for p in unit.trainable_parameters:
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params


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
    run = _Context(units, float(alpha), float(beta), chunk, float(tol), stats)
    return DualResidualFunction.apply(x, run, *_flat_params(units))
