"""One measured training step of a backbone (or a whole model) on synthetic inputs."""
import gc
import importlib
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch
from torch import nn

from .memory import LiveTensorTracker, SavedTensorMeter, group_allocations


@dataclass
class StepResult:
    peak_bytes: int = 0            # live tensors allocated during the step (parameter gradients excluded)
    saved_bytes: int = 0           # storages autograd saved for backward (parameters and buffers excluded)
    cuda_peak_bytes: Optional[int] = None
    seconds: List[float] = field(default_factory=list)
    grads: Dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    alive_at_peak: List[Dict] = field(default_factory=list)   # largest groups (``peak_report``)

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float('nan')


#: Upstream functions that keep tensors from one step to the next in an ``functools.lru_cache``:
#: mmaction's Video Swin shift mask, one ``(windows, tokens, tokens)`` float tensor per stage (2.5 GB
#: for the first stage at 1,024 frames of 224²). Cleared before the measured step so that what they
#: hold is counted: a training run holds it all along.
CACHING_FUNCTIONS = ('mmaction.models.backbones.swin:compute_mask',)


def clear_upstream_caches() -> None:
    """Empty the caches of :data:`CACHING_FUNCTIONS` whose modules are imported."""
    for name in CACHING_FUNCTIONS:
        module, function = name.split(':')
        if module in sys.modules:
            getattr(importlib.import_module(module), function).cache_clear()


def _synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def run_steps(model: nn.Module, loss_fn: Callable[[nn.Module], torch.Tensor], iters: int, warmup: int,
              seed: int = 0, track: bool = True, peak_report: int = 0) -> StepResult:
    """``warmup`` steps, one step measured for memory, then ``iters`` timed steps.

    On the meta device (shapes without values) the steps allocate what they would anywhere else, so
    the measured peak is exact, but nothing is timed and the gradients have no values.
    ``peak_report=N`` also records the N largest groups of tensors alive at the peak (slower).

    Every step re-seeds the RNG so each method sees the same dropout/drop-path masks, which makes
    their gradients comparable.
    """
    result = StepResult()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    device = next(model.parameters()).device

    def step() -> None:
        model.zero_grad(set_to_none=True)
        torch.manual_seed(seed)
        loss = loss_fn(model)
        loss.backward()

    for _ in range(warmup):
        step()
    # One step measured for memory (not timed: the tracker's bookkeeping would skew the timing);
    # its gradients are the ones compared between methods.
    # Parameter gradients are the same for every method: allocate them before measuring, so the
    # backward accumulates into them in place and the peak is what the method itself needs.
    for _, p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        else:
            p.grad.zero_()
    clear_upstream_caches()
    gc.collect()
    torch.manual_seed(seed)
    if track and device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    with LiveTensorTracker(enabled=track, record_peak=track and peak_report > 0) as tracker, \
            SavedTensorMeter(enabled=track, exclude=model) as saved:
        loss = loss_fn(model)
        saved.stop()
        loss.backward()
        del loss
    result.peak_bytes, result.saved_bytes = tracker.peak_bytes, saved.bytes
    if track and peak_report:
        result.alive_at_peak = group_allocations(tracker.alive_at_peak(), peak_report)
    if track and device.type == 'cuda':
        result.cuda_peak_bytes = torch.cuda.max_memory_allocated(device) - base
    if device.type == 'meta':
        return result
    result.grads = {n: p.grad.detach().clone() for n, p in params if p.grad is not None}
    for _ in range(iters):
        gc.collect()
        _synchronize(device)
        start = time.perf_counter()
        step()
        _synchronize(device)
        result.seconds.append(time.perf_counter() - start)
    return result


def relative_gradient_error(grads: Dict[str, torch.Tensor], reference: Dict[str, torch.Tensor]) -> float:
    """Global relative error over all parameter gradients the two runs share."""
    names = sorted(set(grads) & set(reference))
    if not names:
        return float('nan')
    diff = torch.cat([(grads[n].float() - reference[n].float()).flatten() for n in names]).norm()
    return float(diff / torch.cat([reference[n].float().flatten() for n in names]).norm().clamp_min(1e-30))


def run_inference(model: nn.Module, forward: Callable[[nn.Module], object], peak_report: int = 0) -> StepResult:
    """The peak of one forward in eval mode without a graph (validation and testing), e.g. a
    temporal action detector's sliding windows, which may need more than a training step."""
    was_training = model.training
    model.eval()
    result = StepResult()
    clear_upstream_caches()
    gc.collect()
    try:
        with torch.no_grad(), LiveTensorTracker(record_peak=peak_report > 0) as tracker:
            out = forward(model)
            del out
    finally:
        model.train(was_training)
    result.peak_bytes = tracker.peak_bytes
    if peak_report:
        result.alive_at_peak = group_allocations(tracker.alive_at_peak(), peak_report)
    return result
