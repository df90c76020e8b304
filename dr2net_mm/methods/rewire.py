"""Rewire a backbone's stages in place, keeping every parameter where it was.

A converted stage gets a bound ``forward`` that asks its adapter to run the stage with the units
routed through the method. The binding is a plain object (no closure over the module), so
``copy.deepcopy`` (EMA, model averaging) rebinds the copy to its own parameters.
"""
import types
from dataclasses import dataclass
from typing import Any, List, Tuple

from torch import nn

from ..adapters import BackboneAdapter, find_adapter

BINDING_ATTR = '_dr2net_binding'


@dataclass
class StageBinding:
    adapter: BackboneAdapter
    name: str
    method: Any   # has run_units(name, x, units, layout, taps, transition)


def _converted_forward(stage: nn.Module, *args, **kwargs):
    binding: StageBinding = getattr(stage, BINDING_ATTR)

    def run_units(x, units, layout, taps=(), transition=None):
        return binding.method.run_units(binding.name, x, units, layout, taps, transition)

    return binding.adapter.run_stage(stage, run_units, *args, **kwargs)


def rewire(backbone: nn.Module, method: Any) -> List[Tuple[str, nn.Module]]:
    """Route every stage of ``backbone`` through ``method``; return the converted stages."""
    adapter = find_adapter(backbone)
    if any(hasattr(m, BINDING_ATTR) for m in backbone.modules()):
        raise ValueError('this backbone is already converted; convert the original backbone once')
    adapter.check(backbone)
    stages = adapter.stages(backbone)
    for name, stage in stages:
        setattr(stage, BINDING_ATTR, StageBinding(adapter, name, method))
        stage.forward = types.MethodType(_converted_forward, stage)
    return stages


def bindings(model: nn.Module) -> List[StageBinding]:
    return [getattr(m, BINDING_ATTR) for m in model.modules() if hasattr(m, BINDING_ATTR)]
