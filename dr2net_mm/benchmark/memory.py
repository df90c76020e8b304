"""Allocator-independent memory measurement on any device.

:class:`LiveTensorTracker` sees every operator's outputs (a ``TorchDispatchMode``) and follows each
newly allocated storage with a weak-reference finalizer, so it knows the bytes of live tensors at
every moment and their peak, whatever the allocator caches. Views and in-place results share a
storage with an input and are not counted again. Tensors that existed before tracking (parameters,
inputs) are not counted: the peak is what the step itself allocates.

:class:`SavedTensorMeter` counts the distinct storages autograd saves for backward, leaving out a
module's own parameters and buffers (weights saved by a linear layer are not activations).
"""
import itertools
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


def _storages(values) -> Dict[int, torch.UntypedStorage]:
    found = {}
    for v in tree_flatten(values)[0]:
        if isinstance(v, torch.Tensor) :
            storage = v.untyped_storage()
            found[id(storage)] = storage
    return found


class _ModuleStack:
    """The modules running now, innermost last, named by class path (``SwinTransformer.stages.0``).

    Global forward hooks, so it also sees the modules a recompute runs inside the backward
    (torch's ``ModuleTracker`` hooks tensors' gradients too, which fails inside a custom Function).
    """

    def __init__(self):
        self.names: List[str] = []
        self._known: 'weakref.WeakKeyDictionary[torch.nn.Module, str]' = weakref.WeakKeyDictionary()
        self._handles = []

    def _name(self, module: torch.nn.Module) -> str:
        if module not in self._known:
            self._known[module] = type(module).__name__
            for child_name, child in module.named_modules():
                if child_name and child not in self._known:
                    self._known[child] = f'{self._known[module]}.{child_name}'
        return self._known[module]

    def _enter(self, module: torch.nn.Module, args) -> None:
        self.names.append(self._name(module))

    def _leave(self, module: torch.nn.Module, args, out) -> None:
        if self.names:
            self.names.pop()

    def __enter__(self) -> '_ModuleStack':
        hooks = torch.nn.modules.module
        self._handles = [hooks.register_module_forward_pre_hook(self._enter),
                         hooks.register_module_forward_hook(self._leave)]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()


@dataclass(frozen=True)
class Allocation:
    """Where a storage alive at the peak came from."""

    nbytes: int
    op: str                      # the operator that allocated it, e.g. ``aten.bmm.default``
    shape: Tuple[int, ...]       # of the first tensor the operator returned on it
    dtype: str
    phase: str                   # ``forward`` or ``backward`` (inside the autograd engine)
    module: str                  # innermost module running (``SwinTransformer.stages.0.blocks.1.attn``),
                                 # else the autograd node (``(MmBackward0)``)


class LiveTensorTracker(TorchDispatchMode):
    """``with LiveTensorTracker() as t: step()``; then ``t.peak_bytes`` and ``t.live_bytes``.

    With ``record_peak=True`` it also says what was alive at the peak (:meth:`alive_at_peak`): every
    allocation and free is logged in order, and the log is replayed up to the moment of the peak.
    """

    def __init__(self, enabled: bool = True, record_peak: bool = False):
        super().__init__()
        self.enabled = enabled
        self.record_peak = record_peak
        self._live: Dict[int, Tuple[int, int]] = {}      # id(storage) -> (serial, nbytes)
        self._serials = itertools.count()
        self._allocations: Dict[int, Allocation] = {}    # serial -> where it came from (record_peak)
        self._events: List[int] = []                     # serial (allocated) or ~serial (freed)
        self._peak_event = 0
        self._modules: Optional[_ModuleStack] = None
        self.live_bytes = 0
        self.peak_bytes = 0

    def _free(self, key: int) -> None:
        serial, nbytes = self._live.pop(key, (None, 0))
        self.live_bytes -= nbytes
        if self.record_peak and serial is not None:
            self._events.append(~serial)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = _storages((args, kwargs))
        for key, storage in _storages(out).items():
            if key in inputs or key in self._live:
                continue
            nbytes = storage.nbytes()
            serial = next(self._serials)
            self._live[key] = (serial, nbytes)
            self.live_bytes += nbytes
            if self.record_peak:
                self._record(serial, nbytes, func, out, storage)
            if self.live_bytes > self.peak_bytes:
                self.peak_bytes = self.live_bytes
                self._peak_event = len(self._events)
            weakref.finalize(storage, self._free, key)
        return out

    def _record(self, serial: int, nbytes: int, func, out, storage) -> None:
        tensor = next(t for t in tree_flatten(out)[0]
                      if isinstance(t, torch.Tensor) and t.untyped_storage()._cdata == storage._cdata)
        names = self._modules.names if self._modules else []
        phase = 'backward' if torch._C._current_graph_task_id() != -1 else 'forward'
        if not names and phase == 'backward':     # autograd's own backward: name its node instead
            node = torch._C._current_autograd_node()
            names = [f'({node.name()})'] if node is not None else []
        self._allocations[serial] = Allocation(nbytes, str(func), tuple(tensor.shape), str(tensor.dtype).replace(
            'torch.', ''), phase, names[-1] if names else '-')
        self._events.append(serial)

    def alive_at_peak(self) -> List[Allocation]:
        """The allocations alive at the moment of the peak (needs ``record_peak=True``)."""
        if not self.record_peak:
            raise RuntimeError('construct LiveTensorTracker(record_peak=True) to see what is alive at the peak')
        alive = set()
        for event in self._events[:self._peak_event]:
            if event >= 0:
                alive.add(event)
            else:
                alive.discard(~event)
        return [self._allocations[s] for s in sorted(alive)]

    def __enter__(self):
        if not self.enabled:
            return self
        if self.record_peak:
            self._modules = _ModuleStack()
            self._modules.__enter__()
        return super().__enter__()

    def __exit__(self, *exc):
        if self.enabled:
            result = super().__exit__(*exc)
            if self._modules is not None:
                self._modules.__exit__(*exc)
            return result


def group_allocations(allocations: List[Allocation], top: int = 10) -> List[Dict]:
    """The ``top`` largest groups of allocations by phase, module and operator, largest first."""
    groups: Dict[Tuple[str, str, str], Dict] = defaultdict(lambda: dict(bytes=0, count=0, shapes=set()))
    for a in allocations:
        group = groups[(a.phase, a.module, a.op)]
        group['bytes'] += a.nbytes
        group['count'] += 1
        group['shapes'].add(f'{a.dtype}{list(a.shape)}')
    rows = [dict(phase=k[0], module=k[1], op=k[2], mib=g['bytes'] / 2**20, count=g['count'],
                 shapes=', '.join(sorted(g['shapes'])[:3]) + (' ...' if len(g['shapes']) > 3 else ''))
            for k, g in groups.items()]
    return sorted(rows, key=lambda r: -r['mib'])[:top]


class SavedTensorMeter:
    """``with SavedTensorMeter() as m: loss = model(x)``; ``m.bytes`` = distinct storages saved for backward."""

    def __init__(self, enabled: bool = True, exclude: Optional[torch.nn.Module] = None):
        self.enabled = enabled
        self._storages: Dict[int, int] = {}
        # The module's own parameters and buffers are not activations.
        self._excluded = set() if exclude is None else {
            t.untyped_storage()._cdata for t in [*exclude.parameters(), *exclude.buffers()]}
        self._hooks: Optional[torch.autograd.graph.saved_tensors_hooks] = None

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage._cdata not in self._excluded:     # the storage itself: meta tensors have no address
            self._storages[storage._cdata] = storage.nbytes()
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
