"""Make a recompute see what the forward saw: RNG states, autocast, BatchNorm statistics.

The same concerns as ``torch.utils.checkpoint``: dropout and drop-path masks must be identical in
the recompute (fresh every iteration, global RNG not reseeded), autocast must be replayed, and
BatchNorm running statistics must be updated once per step, not again by the recompute.
"""
import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn


@dataclass
class RngState:
    cpu: Tensor
    cuda: Optional[List[Tensor]]
    cuda_devices: List[int]

    @classmethod
    def capture(cls, tensor: Tensor) -> 'RngState':
        devices = [tensor.device.index or 0] if tensor.is_cuda else []
        cuda = [torch.cuda.get_rng_state(d) for d in devices] if devices else None
        return cls(torch.get_rng_state(), cuda, devices)

    @contextlib.contextmanager
    def restored(self) -> Iterator[None]:
        """Run a block with this RNG state, then give the global RNG back untouched."""
        with torch.random.fork_rng(devices=self.cuda_devices, enabled=True):
            torch.set_rng_state(self.cpu)
            for device, state in zip(self.cuda_devices, self.cuda or [], strict=True):
                torch.cuda.set_rng_state(state, device)
            yield


@dataclass
class AutocastState:
    device_type: str
    enabled: bool
    dtype: Optional[torch.dtype]
    cache_enabled: bool

    @classmethod
    def capture(cls, tensor: Tensor) -> 'AutocastState':
        device_type = tensor.device.type if tensor.device.type in ('cuda', 'cpu') else 'cpu'
        enabled = torch.is_autocast_enabled(device_type)
        dtype = torch.get_autocast_dtype(device_type) if enabled else None
        return cls(device_type, enabled, dtype, torch.is_autocast_cache_enabled())

    @property
    def reduced_precision(self) -> bool:
        """Whether autocast computes in a dtype narrower than fp32 (fp16, bf16)."""
        return self.enabled and self.dtype is not None and self.dtype.itemsize < 4

    def replayed(self):
        if not self.enabled:
            return torch.autocast(self.device_type, enabled=False)
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=True, cache_enabled=self.cache_enabled)


def train_batchnorms(modules: Sequence) -> Iterator[nn.modules.batchnorm._BatchNorm]:
    """The BatchNorms in train mode inside ``modules`` (bare parameters among them are skipped): they
    normalise with batch statistics, so they mix the samples of a batch and update running ones."""
    for root in modules:
        if isinstance(root, nn.Module):
            for m in root.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training:
                    yield m


@contextlib.contextmanager
def frozen_batchnorm_stats(modules: Sequence[nn.Module]) -> Iterator[None]:
    """Let BatchNorms normalise with batch statistics but leave their running statistics as they were."""
    saved = [(m, m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
             for m in train_batchnorms(modules) if m.track_running_stats]
    try:
        yield
    finally:
        for m, mean, var, count in saved:
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.num_batches_tracked.copy_(count)


def backward_by_recompute(fn: Callable[[Tensor], Tensor], x: Tensor, grad: Tensor, modules: Sequence,
                          params: Sequence[nn.Parameter], rng: RngState, autocast: AutocastState,
                          input_grad: bool = True) -> Tuple[Tensor, Optional[Tensor]]:
    """Recompute ``fn(x)`` as the forward saw it and backprop ``grad`` through it once.

    RNG and autocast are replayed and the BatchNorms in ``modules`` keep their running statistics
    (BatchNorm saves them for its backward, so they are restored after it). The parameters'
    gradients go straight into ``.grad``. Returns ``fn(x)`` (detached) and ``dL/dx`` (``None``
    unless ``input_grad``).
    """
    inp = x.detach().requires_grad_(input_grad)
    inputs = ([inp] if input_grad else []) + list(params)
    with frozen_batchnorm_stats(modules):
        with torch.enable_grad(), rng.restored(), autocast.replayed():
            out = fn(inp)
        if inputs:
            torch.autograd.backward(out, grad, inputs=inputs)
    return out.detach(), inp.grad
