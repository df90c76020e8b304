"""Allocator-independent memory measurement on any device.

:class:`LiveTensorTracker` sees every operator's outputs (a ``TorchDispatchMode``) and follows each
newly allocated storage with a weak-reference finalizer, so it knows the bytes of live tensors at
every moment and their peak, whatever the allocator caches. Views and in-place results share a
storage with an input and are not counted again. Tensors that existed before tracking (parameters,
inputs) are not counted: the peak is what the step itself allocates.

:class:`SavedTensorMeter` counts the distinct storages autograd saves for backward, leaving out a
module's own parameters and buffers (weights saved by a linear layer are not activations).
"""
import weakref
from typing import Dict, Optional

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


def _storages(values) -> Dict[int, torch.UntypedStorage]:
    found = {}
    for v in tree_flatten(values)[0]:
        if isinstance(v, torch.Tensor) and v.device.type != 'meta':
            storage = v.untyped_storage()
            found[id(storage)] = storage
    return found


class LiveTensorTracker(TorchDispatchMode):
    """``with LiveTensorTracker() as t: step()``; then ``t.peak_bytes`` and ``t.live_bytes``."""

    def __init__(self, enabled: bool = True):
        super().__init__()
        self.enabled = enabled
        self._live: Dict[int, int] = {}
        self.live_bytes = 0
        self.peak_bytes = 0

    def _free(self, key: int) -> None:
        self.live_bytes -= self._live.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = _storages((args, kwargs))
        for key, storage in _storages(out).items():
            if key in inputs or key in self._live:
                continue
            nbytes = storage.nbytes()
            self._live[key] = nbytes
            self.live_bytes += nbytes
            self.peak_bytes = max(self.peak_bytes, self.live_bytes)
            weakref.finalize(storage, self._free, key)
        return out

    def __enter__(self):
        return super().__enter__() if self.enabled else self

    def __exit__(self, *exc):
        if self.enabled:
            return super().__exit__(*exc)


class SavedTensorMeter:
    """``with SavedTensorMeter() as m: loss = model(x)``; ``m.bytes`` = distinct storages saved for backward."""

    def __init__(self, enabled: bool = True, exclude: Optional[torch.nn.Module] = None):
        self.enabled = enabled
        self._storages: Dict[int, int] = {}
        # The module's own parameters and buffers are not activations.
        self._excluded = set() if exclude is None else {
            t.untyped_storage().data_ptr() for t in [*exclude.parameters(), *exclude.buffers()]}
        self._hooks: Optional[torch.autograd.graph.saved_tensors_hooks] = None

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in self._excluded:
            self._storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    def __enter__(self) -> 'SavedTensorMeter':
        if self.enabled:
            self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
            self._hooks.__enter__()
        return self

    def stop(self) -> None:
        """Stop counting (e.g. before backward, whose recomputes save tensors of their own)."""
        if self._hooks is not None:
            self._hooks.__exit__(None, None, None)
            self._hooks = None

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def bytes(self) -> int:
        return sum(self._storages.values())
