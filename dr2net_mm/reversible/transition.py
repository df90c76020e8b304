"""A non-invertible transition (a downsampling block) recomputed in the backward, as ``with_cp`` does.

Between Dr²Net segments a transition changes the shape, so it cannot be reconstructed; under plain
autograd it would keep all its activations (on ResNet-50 at 512², the three downsampling
bottlenecks that train stored more than the reversible units saved). Here it stores only its
input and recomputes itself once in the backward, with the same RNG, autocast and BatchNorm
guards as the units, and its parameters' gradients go straight into ``.grad``.
"""
from typing import Optional

import torch
from torch import Tensor

from .replay import AutocastState, RngState, backward_by_recompute
from .units import Unit


class RecomputedTransition(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, transition: Unit, anchor: Optional[Tensor]) -> Tensor:
        ctx.transition = transition
        ctx.rng = RngState.capture(x)
        ctx.autocast = AutocastState.capture(x)
        ctx.input_needs_grad = x.requires_grad
        with torch.no_grad():
            out = transition.branch(x)
        ctx.save_for_backward(x)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        (x,) = ctx.saved_tensors
        transition: Unit = ctx.transition
        _, grad_in = backward_by_recompute(transition.branch, x, grad, transition.modules,
                                           transition.trainable_parameters, ctx.rng, ctx.autocast,
                                           input_grad=ctx.input_needs_grad)
        return grad_in, None, None


def run_transition(x: Tensor, transition: Unit, grad_mode: str = 'auto') -> Tensor:
    """``transition.branch(x)``: recomputed in the backward unless ``grad_mode`` is 'autograd'."""
    needs_graph = torch.is_grad_enabled() and (x.requires_grad or bool(transition.trainable_parameters))
    if not needs_graph or grad_mode == 'autograd' or torch.jit.is_tracing():
        return transition.branch(x)
    anchor = None if x.requires_grad else torch.empty(0, requires_grad=True)
    return RecomputedTransition.apply(x, transition, anchor)
