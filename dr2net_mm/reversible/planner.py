"""How many units may be reconstructed in a row before the rounding error exceeds ``tol``.

Reconstruction ``x_{i-2} = (x_i - G_i(x_{i-1})) / beta`` amplifies an error by about
``rho = (alpha + sqrt(alpha^2 + 4 beta)) / (2 beta)`` per unit (linearised; measured in docs/results.md). With
chunks of ``L`` units restarted from stored stream states, the error stays near ``eps * rho^L``:
``L = 1`` is activation checkpointing (nothing reconstructed), ``L = N`` is fully reversible.
"""
import math
from typing import Optional

import torch

GRAD_MODES = ('autograd', 'checkpoint', 'reversible', 'auto')

# Rounding errors entering each reconstruction step, relative to the streams: the unit roundoff of
# the dtype times a safety factor for the several roundings per unit (measured: see tests).
SAFETY = 16.0


def validate_grad_mode(grad_mode: str) -> str:
    if grad_mode not in GRAD_MODES:
        raise ValueError(f'unknown grad_mode {grad_mode!r}; choose one of {GRAD_MODES}')
    return grad_mode


def growth_rate(alpha: float, beta: float) -> float:
    """Per-unit amplification of a reconstruction error (infinite at beta = 0)."""
    if beta <= 0:
        return math.inf
    return (alpha + math.sqrt(alpha * alpha + 4.0 * beta)) / (2.0 * beta)


def unit_roundoff(dtype: torch.dtype, autocast_dtype: Optional[torch.dtype] = None) -> float:
    eps = torch.finfo(dtype).eps
    if autocast_dtype is not None:
        eps = max(eps, torch.finfo(autocast_dtype).eps)
    return eps / 2


def chunk_length(num_units: int, alpha: float, beta: float, grad_mode: str, tol: float,
                 dtype: torch.dtype = torch.float32, autocast_dtype: Optional[torch.dtype] = None) -> int:
    """Units per reconstruction chunk for a segment of ``num_units`` (``0`` means plain autograd)."""
    validate_grad_mode(grad_mode)
    if grad_mode == 'autograd':
        return 0
    if grad_mode == 'checkpoint':
        return 1
    if grad_mode == 'reversible':
        if beta <= 0:
            raise ValueError(f"grad_mode='reversible' needs beta > 0 to invert the units (got beta={beta}); "
                             "use grad_mode='auto' or 'checkpoint' while beta is 0")
        return num_units
    rho = growth_rate(alpha, beta)
    if rho <= 1.0 + 1e-12:
        return num_units
    if math.isinf(rho):
        return 1
    budget = tol / (SAFETY * unit_roundoff(dtype, autocast_dtype))
    if budget <= rho:
        return 1
    return max(1, min(num_units, int(math.log(budget) / math.log(rho))))
