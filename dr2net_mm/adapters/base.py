"""How a backbone family splits into stages of residual units and non-invertible transitions.

An adapter knows one block family and nothing about the methods. It names the backbone's *stages*
(each a run of residual units; the name keys the method's state for it, such as DTL's side maps) and
the *entries*, the modules whose ``forward`` the conversion replaces. Usually each stage is its own
entry, because the backbone calls it; a backbone whose ``forward`` loops over a stage's blocks
itself (mmseg's ViT and MixVisionTransformer) has the backbone as its entry. An entry's new forward
does everything the original does (window masks, padding, downsampling, output taking) and runs each
stage's units through a callable ``run_units`` that the method supplies (``RunUnits``). Parameters
stay where they are, so state-dict keys never change.
"""
import importlib
from typing import Any, Dict, List, Optional, Protocol, Sequence, Tuple, Type, Union

from torch import Tensor, nn

from ..reversible import Unit


class RunUnits(Protocol):
    """What a method gives an adapter to run one stage's residual units (the one contract between them).

    ``layout`` says how the tokens sit on a grid (``adapters.layout``); ``taps`` (unit counts, the last
    being ``len(units)``) ask for the values after those units, as a list; ``transition`` is a
    shape-changing block to run before the units (``units`` may be empty: a transition alone, such as
    Swin's patch merging after its stage); ``stage`` names the stage (one of ``stages()``), needed
    only where the entry runs more than one. Returns the last value, or the tapped ones.
    """

    def __call__(self, x: Tensor, units: Sequence[Unit], layout: Any, taps: Sequence[int] = (),
                 transition: Optional[Unit] = None, stage: Optional[str] = None) -> Union[Tensor, List[Tensor]]: ...


class BackboneAdapter:
    """Base class: subclasses name the backbone classes they handle (``'module:Class'``)."""

    #: backbone classes this adapter handles, as import paths (imported lazily)
    backbones: Tuple[str, ...] = ()
    #: human-readable family name for error messages
    family: str = ''
    #: whether subclasses of the listed backbones are accepted (their stages must still pass check())
    allow_subclasses: bool = False

    #: grid dimensions of the token layout (2 for images, 3 for video)
    grid_dims: int = 2
    #: whether the units' tensors have channels last (tokens) or first (convolutional maps)
    channels_last: bool = True

    def stages(self, backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
        """``(name, module holding the stage's blocks)`` for every stage of residual units."""
        raise NotImplementedError

    def entries(self, backbone: nn.Module) -> List[Tuple[nn.Module, Tuple[str, ...]]]:
        """``(module, names of the stages its forward runs)`` for every module whose ``forward`` the
        conversion replaces. By default each stage is its own entry: the backbone calls it."""
        return [(stage, (name,)) for name, stage in self.stages(backbone)]

    def block_channels(self, stage: nn.Module) -> List[int]:
        """Channels of the tensor each residual block of ``stage`` takes and returns."""
        raise NotImplementedError

    def forward(self, entry: nn.Module, run_units: RunUnits, *args, **kwargs):
        """``entry.forward(*args, **kwargs)`` with its stages' residual units routed through ``run_units``."""
        raise NotImplementedError

    def check(self, backbone: nn.Module) -> None:
        """Refuse settings of this family the conversion cannot honour (raise ValueError with what to do)."""


_ADAPTERS: List[BackboneAdapter] = []


def register_adapter(cls: Type[BackboneAdapter]) -> Type[BackboneAdapter]:
    _ADAPTERS.append(cls())
    return cls


def _resolve(path: str):
    module, _, name = path.partition(':')
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def supported_backbones() -> Dict[str, str]:
    """``{'mmdet.models.backbones.swin:SwinTransformer': 'Swin', ...}``."""
    return {path: adapter.family for adapter in _ADAPTERS for path in adapter.backbones}


def find_adapter(backbone: nn.Module) -> BackboneAdapter:
    for exact in (True, False):
        for adapter in _ADAPTERS:
            for path in adapter.backbones:
                cls = _resolve(path)
                if cls is None:
                    continue
                if type(backbone) is cls or (not exact and adapter.allow_subclasses and isinstance(backbone, cls)):
                    return adapter
    names = ', '.join(f'{p.split(":")[1]} ({p.split(".")[0]})' for p in supported_backbones())
    raise TypeError(f'{type(backbone).__module__}.{type(backbone).__name__} is not supported by dr2net-mm; '
                    f'supported backbones: {names}')
