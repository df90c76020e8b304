"""Make a step on the meta device allocate what it allocates on the CPU.

Shapes and allocations are the same on both devices except where an operator picks its kernel by
device: ``scaled_dot_product_attention`` takes the math kernel on the meta device (a ``(heads, N, N)``
matrix saved for backward) where the CPU takes its fused flash kernel (no such matrix). The choice
is made in C++ below any Python mode, and a ``TorchFunctionMode`` is off during the backward that
``Tensor.backward`` runs inside it (where checkpointing recomputes), so :func:`cpu_kernel_choices`
swaps ``torch.nn.functional.scaled_dot_product_attention`` for the length of a measurement: on meta
tensors it asks the CPU which kernel it would take and calls that kernel, whose meta implementation
allocates what the CPU's does.
"""
import contextlib
from typing import Iterator

import torch
from torch.nn import functional
from torch.nn.attention import SDPBackend
from torch.utils._python_dispatch import _disable_current_modes


def _cpu_like(value):
    """An uninitialised CPU tensor of a meta tensor's shape, strides and dtype (made outside every
    mode, so that no memory tracker counts it); ``None`` as it is."""
    if value is None:
        return None
    with _disable_current_modes():
        return torch.empty_strided(value.shape, value.stride(), dtype=value.dtype, requires_grad=value.requires_grad)


def _attention_as_on_cpu(original):
    def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        if query.is_meta:
            choice = torch._fused_sdp_choice(*map(_cpu_like, (query, key, value, attn_mask)), dropout_p,
                                             is_causal, scale=scale, enable_gqa=enable_gqa)
            if choice == SDPBackend.FLASH_ATTENTION.value:
                return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
                    query, key, value, dropout_p, is_causal, attn_mask=attn_mask, scale=scale)[0]
        return original(query, key, value, attn_mask, dropout_p, is_causal, scale=scale, enable_gqa=enable_gqa)
    return attention


@contextlib.contextmanager
def cpu_kernel_choices() -> Iterator[None]:
    """``with cpu_kernel_choices(): step()`` on meta tensors: attention takes the CPU's kernel."""
    original = functional.scaled_dot_product_attention
    functional.scaled_dot_product_attention = _attention_as_on_cpu(original)
    try:
        yield
    finally:
        functional.scaled_dot_product_attention = original
