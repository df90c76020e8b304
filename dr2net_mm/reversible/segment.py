"""A Dr²Net segment: ``x_i = G_i(x_{i-1}) + beta * x_{i-2}``, both streams starting at the input.

``G_i(x) = post(alpha * x + F_i(x))``; the output is ``x_N``, so ``alpha=1, beta=0`` is exactly the
pretrained network. Gradients come from one of:

- plain autograd (the reference);
- :class:`DualResidualFunction`, which stores only the stream pairs at chunk boundaries and, in the
  backward, walks each chunk from its top pair down, recomputing one unit at a time. One recompute
  of ``G_i`` serves the local backward and the reconstruction of ``x_{i-2}``; each chunk restarts
  from both stored tensors, and the reconstructed pair at each stored boundary is compared with the
  stored one: a free, exact measurement of the reconstruction error.
"""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .planner import chunk_length
from .replay import AutocastState, RngState, frozen_batchnorm_stats
from .units import Unit


@dataclass
class SegmentStats:
    """What the last backward of a segment measured."""

    num_units: int = 0
    chunk_length: int = 0
    recon_error: float = 0.0     # max relative error of reconstructed vs stored boundary pairs
    stored_tensors: int = 0


@dataclass
class _Context:
    units: Sequence[Unit]
    alpha: float
    beta: float
    chunk: int
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
        units, alpha, beta = run.units, run.alpha, run.beta
        param_grads = {}
        grad_cur = grad_out              # total dL/dx_i
        grad_prev = torch.zeros_like(grad_out)  # partial dL/dx_{i-1} (from the beta skip of unit i+1)
        error = 0.0
        ends = _boundaries(len(units), run.chunk)
        starts = [0] + ends[:-1]
        for start, end in zip(reversed(starts), reversed(ends)):
            x_prev, x_cur = values[end - 1], values[end]   # restart from both stored tensors
            for i in range(end, start, -1):
                unit = units[i - 1]
                inp = x_prev.detach().requires_grad_(True)
                params = unit.trainable_parameters
                # BatchNorm saves its running statistics for backward: restore them after it.
                with frozen_batchnorm_stats(unit.modules):
                    with torch.enable_grad(), run.rng[i - 1].restored(), run.autocast.replayed():
                        g = unit(inp, alpha)
                    grads = torch.autograd.grad(g, [inp, *params], grad_cur, allow_unused=True)
                for p, gp in zip(params, grads[1:]):
                    if gp is not None:
                        param_grads[p] = gp if p not in param_grads else param_grads[p] + gp
                # Reconstruct x_{i-2} inside a chunk, and at its bottom to probe the error.
                if beta != 0 and run.chunk > 1:
                    x_prev2 = (x_cur - g.detach().to(x_cur.dtype)) / beta
                else:
                    x_prev2 = None
                grad_in = grads[0] if grads[0] is not None else torch.zeros_like(grad_cur)
                grad_cur, grad_prev = grad_prev + grad_in, beta * grad_cur
                x_prev, x_cur = x_prev2, x_prev
            if x_prev is not None:
                error = max(error, _relative_error(x_prev, values[start - 1]),
                            _relative_error(x_cur, values[start]))
        run.stats.recon_error = error
        grad_x = grad_cur + grad_prev
        return (grad_x, None, *(param_grads.get(p) for p in _flat_params(units)))


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
    chunk = chunk_length(len(units), alpha, beta, grad_mode, tol, x.dtype, autocast_dtype)
    stats.chunk_length = chunk
    if chunk == 0:
        stats.recon_error, stats.stored_tensors = 0.0, 0
        return _run_autograd(x, units, alpha, beta)
    run = _Context(units, float(alpha), float(beta), chunk, stats)
    return DualResidualFunction.apply(x, run, *_flat_params(units))
