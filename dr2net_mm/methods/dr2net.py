"""Dr²Net: convert a pretrained residual backbone into a dynamic reversible dual-residual network.

The converted modules hold the coefficients (one :class:`Dr2NetMethod` object per backbone, shared by
its stages): the hook only sets them. Parameter and buffer names do not change.
"""
import math
import numbers
from dataclasses import asdict
from typing import Dict, Optional, Tuple

from torch import Tensor, nn

from ..reversible import PIECE_WORKING_SET, SegmentStats, run_segment, run_transition, validate_grad_mode
from .rewire import conversions, rewire


def _sharded_by_fsdp(units) -> bool:
    """Whether FSDP manages the units' weights: it marks the parameters it flattens and, without
    ``use_orig_params``, replaces them by plain tensors during the forward. Dr²Net's backward
    differentiates the registered parameters, so under FSDP its gradients would be wrong."""
    for unit in units:
        for root in unit.modules:
            for module in [] if isinstance(root, nn.Parameter) else root.modules():
                for tensor in vars(module).values():
                    if isinstance(tensor, Tensor) and not isinstance(tensor, nn.Parameter) \
                            and tensor.requires_grad:
                        return True
                if any(getattr(p, '_fsdp_flattened', False) for p in module.parameters(recurse=False)):
                    return True
    return False


def _as_float(name: str, value, positive: bool = False) -> float:
    """A plain float from a Python, numpy or 0-d torch number; a clear error for anything else."""
    if getattr(value, 'ndim', None) == 0 and hasattr(value, 'item'):   # numpy scalars, 0-d arrays and tensors
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f'{name} must be a number, got {value!r} ({type(value).__name__})')
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f'{name} must be a finite number {"> 0" if positive else ">= 0"}, got {value!r}')
    return value


def _piece_working_set(value) -> float:
    """A number > 0, infinity included (every unit recomputed whole)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value) == math.inf:
        return math.inf
    return _as_float('piece_working_set', value, positive=True)


class Dr2NetMethod:
    """Coefficients, gradient mode and the measurements of one converted backbone."""

    name = 'Dr2Net'
    with_cp_advice = ("it already recomputes activations; set with_cp=False, and grad_mode='checkpoint' "
                      'for checkpointing without reconstruction')

    def __init__(self, alpha: float = 1.0, beta: float = 0.0, grad_mode: str = 'auto', tol: float = 1e-3,
                 piece_working_set: float = PIECE_WORKING_SET):
        alpha, beta = _as_float('alpha', alpha), _as_float('beta', beta)
        self.grad_mode = validate_grad_mode(grad_mode)
        self.tol = _as_float('tol', tol, positive=True)
        self.piece_working_set = _piece_working_set(piece_working_set)
        if grad_mode == 'reversible' and beta <= 0:
            raise ValueError("grad_mode='reversible' needs beta > 0 (the units are inverted by dividing by beta); "
                             "start from beta > 0 or use grad_mode='auto'")
        self.alpha, self.beta = alpha, beta
        self.stats: Dict[str, SegmentStats] = {}

    def set(self, alpha: float, beta: float) -> None:
        alpha, beta = _as_float('alpha', alpha), _as_float('beta', beta)
        if self.grad_mode == 'reversible' and beta <= 0:
            raise ValueError("beta must stay > 0 with grad_mode='reversible'")
        self.alpha, self.beta = alpha, beta

    def run_units(self, name: str, x: Tensor, units, layout, taps=(), transition=None):
        """Run the units as one segment, or, with ``taps`` (unit counts where intermediate outputs are
        needed, the last being ``len(units)``), as one segment per tap, each restarting both streams.
        A ``transition`` (a shape-changing block before the units) is recomputed in the backward."""
        if _sharded_by_fsdp(units[:1] or [transition]):    # one unit tells, and costs nothing
            raise RuntimeError('Dr2Net does not run under FSDP: its backward differentiates the registered '
                               'parameters, while FSDP computes with views of its flat parameter (the '
                               'gradients would be wrong). Use DDP; DTL does run under FSDP')
        self._size_pieces([*units, transition])
        if transition is not None:
            x = run_transition(x, transition, self.grad_mode)
            if not units:
                return x
        if not taps:
            stats = self.stats.setdefault(name, SegmentStats())
            return run_segment(x, units, self.alpha, self.beta, self.grad_mode, self.tol, stats)
        outs, start = [], 0
        for k, end in enumerate(taps):
            stats = self.stats.setdefault(f'{name}.{k}', SegmentStats())
            x = run_segment(x, units[start:end], self.alpha, self.beta, self.grad_mode, self.tol, stats)
            outs.append(x)
            start = end
        return outs

    def _size_pieces(self, units) -> None:
        """The bounded recompute's pieces take this backbone's ``piece_working_set``."""
        for unit in units:
            for pieces in (getattr(unit, 'pieces', None), getattr(unit, 'samples', None)):
                if pieces is not None:
                    pieces.working_set = self.piece_working_set


def to_dr2net(backbone: nn.Module, alpha: float = 1.0, beta: float = 0.0, grad_mode: str = 'auto',
              tol: float = 1e-3, piece_working_set: float = PIECE_WORKING_SET) -> nn.Module:
    """Convert ``backbone`` in place (and return it). At ``alpha=1, beta=0`` it computes exactly what
    it computed before; ``grad_mode`` is 'autograd', 'checkpoint', 'reversible' or 'auto'.
    ``piece_working_set``: the bounded recompute's target per piece, in multiples of a unit's input
    (larger: fewer pieces, a higher peak, less time on a GPU; ``float('inf')``: every unit whole)."""
    rewire(backbone, Dr2NetMethod(alpha, beta, grad_mode, tol, piece_working_set))
    return backbone


def dr2net_methods(model: nn.Module):
    """Each converted backbone's method object, once."""
    return [c.method for c in conversions(model) if isinstance(c.method, Dr2NetMethod)]


def _require_methods(model: nn.Module):
    methods = dr2net_methods(model)
    if not methods:
        raise ValueError('the model has no Dr2Net-converted backbone: build it with type="dr2net_mm.Dr2Net" '
                         'or call dr2net_mm.to_dr2net(backbone)')
    return methods


def set_coefficients(model: nn.Module, alpha: float, beta: float) -> None:
    """Set alpha and beta on every converted part of ``model`` (a backbone, a detector, DDP-unwrapped)."""
    for method in _require_methods(model):
        method.set(alpha, beta)


def get_coefficients(model: nn.Module) -> Tuple[float, float]:
    values = {(m.alpha, m.beta) for m in _require_methods(model)}
    if len(values) > 1:
        raise ValueError(f'converted parts of the model disagree on (alpha, beta): {sorted(values)}')
    return values.pop()


def _summarise(segments) -> Dict[str, float]:
    """Chunk length (smallest over the segments that ran), reconstruction error (largest), stored
    tensors and fallbacks (summed)."""
    used = [s for s in segments if s.chunk_length > 0]
    return dict(chunk_length=min((s.chunk_length for s in used), default=0),
                recon_error=max((s.recon_error for s in used), default=0.0),
                stored_tensors=sum(s.stored_tensors for s in used),
                fallbacks=sum(s.fallbacks for s in used))


def get_stats(model: nn.Module) -> Dict[str, Dict]:
    """What the last training step of ``model``'s Dr²Net backbone(s) measured.

    ``{'segments': {name: {'chunk_length', 'recon_error', 'stored_tensors', 'fallbacks', ...}},
    'summary': {'chunk_length', 'recon_error', 'stored_tensors', 'fallbacks'}}``: ``chunk_length`` is
    how many units were reconstructed in a row (0: the segment has not run a backward yet),
    ``recon_error`` the largest relative error measured where a reconstructed stream pair met a
    stored one, ``fallbacks`` the chunks redone exactly because that error exceeded ``tol``.
    """
    segments = {name: stats for method in _require_methods(model) for name, stats in method.stats.items()}
    return dict(segments={name: asdict(stats) for name, stats in segments.items()},
                summary=_summarise(segments.values()))


def dr2net_summary(model: nn.Module) -> Optional[Dict[str, float]]:
    """``get_stats(model)['summary']``, or None for a model without a Dr²Net backbone."""
    return get_stats(model)['summary'] if dr2net_methods(model) else None
