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
CHECKED_ATTR = '_dr2net_stages_checked'


@dataclass
class StageBinding:
    adapter: BackboneAdapter
    name: str
    method: Any   # has run_units(name, x, units, layout, taps, transition)
    ran: bool = False


def _converted_forward(stage: nn.Module, *args, **kwargs):
    binding: StageBinding = getattr(stage, BINDING_ATTR)
    binding.ran = True

    def run_units(x, units, layout, taps=(), transition=None):   # adapters.base.RunUnits
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
    setattr(backbone, CHECKED_ATTR, False)
    backbone.register_forward_hook(_check_stages_ran)
    return stages


def _check_stages_ran(backbone: nn.Module, args, output) -> None:
    """After the first forward: every converted stage must have run through its new ``forward``.

    A backbone whose own ``forward`` loops over a stage's blocks itself (instead of calling the stage)
    would otherwise train unconverted while looking converted.
    """
    if getattr(backbone, CHECKED_ATTR, True):
        return
    stage_bindings = bindings(backbone)
    skipped = [b.name for b in stage_bindings if not b.ran]
    if skipped:
        first = stage_bindings[0]
        raise RuntimeError(
            f'{type(backbone).__name__}: the converted stages {skipped} did not run in the forward pass (its '
            f'forward does not call them), so {type(first.method).__name__} would have no effect there. The '
            f'{first.adapter.family} adapter does not fit this backbone class: an adapter must list as stages '
            f'the modules the backbone\'s forward calls.')
    setattr(backbone, CHECKED_ATTR, True)


def bindings(model: nn.Module) -> List[StageBinding]:
    return [getattr(m, BINDING_ATTR) for m in model.modules() if hasattr(m, BINDING_ATTR)]
