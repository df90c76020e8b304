"""PretrainedLoadCheckHook: say which pretrained weights a finetuning run started from, and stop
when they do not fit the backbone.

A checkpoint whose names or shapes do not fit (another architecture, another codebase's key layout,
a forgotten ``prefix``) is only a warning in mmengine: the run then trains from random
initialisation while looking like a finetuning. This hook watches every ``load_state_dict`` that
reaches the backbone between ``before_run`` and ``before_train`` (the backbone's ``init_cfg`` /
``pretrained`` and the runner's ``load_from`` alike), logs once per load

    N of M backbone parameters loaded from FILE

and raises when the best load matched less than ``min_loaded`` of the backbone's parameters.
``tools/train.py`` adds it to every run; opt out per config with
``custom_hooks = [dict(type='dr2net_mm.PretrainedLoadCheckHook', min_loaded=0.0)]``.
"""
from dataclasses import dataclass, field
from typing import List, Optional

from mmengine.hooks import Hook
from torch import nn

from ...methods.dtl import SIDE_ATTR
from ...registry import HOOKS
from .runner_model import runner_model

SHOWN_NAMES = 5


@dataclass
class BackboneLoad:
    """What one ``load_state_dict`` call gave the backbone."""

    source: str
    total: int
    missing: List[str] = field(default_factory=list)
    wrong_shape: List[str] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return self.total - len(self.missing) - len(self.wrong_shape)

    def describe(self) -> str:
        text = f'{self.loaded} of {self.total} backbone parameters loaded from {self.source}'
        details = []
        for what, names in (('missing', self.missing), ('with another shape', self.wrong_shape)):
            if names:
                shown = ', '.join(names[:SHOWN_NAMES]) + (', ...' if len(names) > SHOWN_NAMES else '')
                details.append(f'{len(names)} {what}: {shown}')
        return text + (f' ({"; ".join(details)})' if details else '')


def _backbone(runner) -> Optional[nn.Module]:
    return getattr(runner_model(runner), 'backbone', None)


def _init_source(backbone: nn.Module) -> str:
    """Where the backbone's own initialisation loads from (``init_cfg`` or ``pretrained``), for the log."""
    init_cfg = getattr(backbone, 'init_cfg', None)
    if isinstance(init_cfg, dict) and init_cfg.get('checkpoint'):
        return str(init_cfg['checkpoint'])
    pretrained = getattr(backbone, 'pretrained', None)
    return pretrained if isinstance(pretrained, str) else "the backbone's init_cfg"


@HOOKS.register_module()
class PretrainedLoadCheckHook(Hook):
    priority = 'VERY_HIGH'

    def __init__(self, min_loaded: float = 0.5):
        if not 0.0 <= float(min_loaded) <= 1.0:
            raise ValueError(f'PretrainedLoadCheckHook min_loaded is a fraction in [0, 1], got {min_loaded!r}')
        self.min_loaded = float(min_loaded)
        self.loads: List[BackboneLoad] = []
        self._source = ''
        self._handle = None

    def before_run(self, runner) -> None:
        backbone = _backbone(runner)
        if backbone is None:
            return
        own = {name: p.shape for name, p in backbone.named_parameters() if not name.startswith(SIDE_ATTR + '.')}
        self._source = _init_source(backbone)

        def record(module, state_dict, prefix, *args, **kwargs):
            load = BackboneLoad(self._source, len(own))
            for name, shape in own.items():
                value = state_dict.get(prefix + name)
                if value is None:
                    load.missing.append(name)
                elif tuple(value.shape) != tuple(shape):
                    load.wrong_shape.append(name)
            self.loads.append(load)

        self._handle = backbone.register_load_state_dict_pre_hook(record)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Called by the runner's load_checkpoint (load_from and resume) before the weights are copied.
        self._source = str(runner._load_from) if runner._load_from else 'the checkpoint being resumed'

    def before_train(self, runner) -> None:
        if self._handle is None:
            return
        self._handle.remove()
        self._handle = None
        if runner._resume:
            return  # a resumed run continues its own weights; the start of the finetuning was checked then
        for load in self.loads:
            runner.logger.info(load.describe())
        if not self.loads:
            runner.logger.info('no pretrained weights were loaded into the backbone: it trains from its initialisation')
            return
        best = max(self.loads, key=lambda load: load.loaded)
        if best.loaded < self.min_loaded * best.total:
            raise RuntimeError(
                f'the pretrained weights do not fit the backbone: {best.describe()}. Check that the checkpoint '
                f'is for this architecture (and that any key prefix, e.g. init_cfg prefix="backbone.", is right). '
                f'To train anyway, add custom_hooks = [dict(type="dr2net_mm.PretrainedLoadCheckHook", '
                f'min_loaded=0.0)] to the config.')
