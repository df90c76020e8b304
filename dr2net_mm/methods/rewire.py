"""Rewire a backbone in place, keeping every parameter where it was.

Each entry module the adapter names (``BackboneAdapter.entries``) gets a bound ``forward`` that asks
the adapter to run it with the stages' units routed through the method. The bindings are plain
objects (no closure over a module), so ``copy.deepcopy`` (EMA, model averaging) rebinds the copy to
its own parameters.
"""
import types
from dataclasses import dataclass, field
from typing import Any, List, Optional, Set, Tuple

from torch import nn

from ..adapters import BackboneAdapter, find_adapter

BINDING_ATTR = '_dr2net_binding'
CONVERSION_ATTR = '_dr2net_conversion'


@dataclass
class Conversion:
    """One converted backbone: its adapter, its method, and the stages that ran since the last check."""
    adapter: BackboneAdapter
    method: Any   # has run_units(stage name, x, units, layout, taps, transition)
    stages: Tuple[str, ...]
    entry_names: Tuple[str, ...]
    checked: bool = False
    ran: Set[str] = field(default_factory=set)


@dataclass
class EntryBinding:
    """What a converted module's forward needs: its conversion and the stages it runs."""
    conversion: Conversion
    stages: Tuple[str, ...]

    def stage_name(self, stage: Optional[str]) -> str:
        if stage is None and len(self.stages) == 1:
            return self.stages[0]
        if stage in self.stages:
            return stage
        family = self.conversion.adapter.family
        if stage is None:
            raise ValueError(f'the {family} adapter runs the stages {list(self.stages)} from one forward: '
                             'it must pass stage=<name> to run_units')
        raise ValueError(f'the {family} adapter ran units as stage {stage!r}, which this module does not run; '
                         f'its stages are {list(self.stages)} (BackboneAdapter.entries)')


def _converted_forward(entry: nn.Module, *args, **kwargs):
    binding: EntryBinding = getattr(entry, BINDING_ATTR)
    conversion = binding.conversion

    def run_units(x, units, layout, taps=(), transition=None, stage=None):   # adapters.base.RunUnits
        name = binding.stage_name(stage)
        conversion.ran.add(name)
        return conversion.method.run_units(name, x, units, layout, taps, transition)

    return conversion.adapter.forward(entry, run_units, *args, **kwargs)


def rewire(backbone: nn.Module, method: Any) -> List[Tuple[str, nn.Module]]:
    """Route every stage of ``backbone`` through ``method``; return the stages."""
    adapter = find_adapter(backbone)
    if any(hasattr(m, BINDING_ATTR) for m in backbone.modules()):
        raise ValueError('this backbone is already converted; convert the original backbone once')
    _refuse_with_cp(backbone, method)
    adapter.check(backbone)
    stages = adapter.stages(backbone)
    entries = adapter.entries(backbone)
    names = {id(m): n or type(backbone).__name__ for n, m in backbone.named_modules()}
    conversion = Conversion(adapter, method, tuple(n for n, _ in stages),
                            tuple(names[id(entry)] for entry, _ in entries))
    covered = sorted({s for _, entry_stages in entries for s in entry_stages})
    if covered != sorted(conversion.stages):
        raise ValueError(f'the {adapter.family} adapter\'s entries run the stages {covered}, but its stages are '
                         f'{list(conversion.stages)}: every stage must be run by an entry, and only those')
    for entry, entry_stages in entries:
        setattr(entry, BINDING_ATTR, EntryBinding(conversion, tuple(entry_stages)))
        entry.forward = types.MethodType(_converted_forward, entry)
    setattr(backbone, CONVERSION_ATTR, conversion)
    backbone.register_forward_hook(_check_stages_ran)
    return stages


def _refuse_with_cp(backbone: nn.Module, method: Any) -> None:
    """OpenMMLab's ``with_cp`` would checkpoint blocks whose forward the method no longer calls."""
    flagged = [n or type(backbone).__name__ for n, m in backbone.named_modules() if getattr(m, 'with_cp', False)]
    if flagged:
        raise ValueError(f'with_cp=True (set on {flagged[0]}{" and others" if len(flagged) > 1 else ""}) is not '
                         f'supported on a backbone converted by {method.name}: {method.with_cp_advice}')


def _check_stages_ran(backbone: nn.Module, args, output) -> None:
    """After the first forward: every stage must have run through the conversion.

    A backbone whose own ``forward`` loops over a stage's blocks itself (instead of calling the module
    the adapter converted) would otherwise train unconverted while looking converted.
    """
    conversion: Conversion = getattr(backbone, CONVERSION_ATTR)
    if conversion.checked:
        return
    skipped = [name for name in conversion.stages if name not in conversion.ran]
    if skipped:
        raise RuntimeError(
            f'{type(backbone).__name__}: the converted stages {skipped} did not run in the forward pass, so '
            f'{type(conversion.method).__name__} would have no effect there: the forward does not call the '
            f'modules the {conversion.adapter.family} adapter converted ({list(conversion.entry_names)}). '
            'The adapter does not fit this backbone class; an adapter for it must name as entries the modules '
            'whose forward runs the blocks (BackboneAdapter.entries).')
    conversion.checked = True


def conversions(model: nn.Module) -> List[Conversion]:
    """The conversions of every converted backbone inside ``model``."""
    return [getattr(m, CONVERSION_ATTR) for m in model.modules() if hasattr(m, CONVERSION_ATTR)]
