"""What each method of the study trains: a demo config, and what changes in it.

A variant that changes the config gets a small config file of its own that inherits the demo's
(``_base_``) and sets only what differs, so each run's config says exactly what it trained.
Dr²Net's update policies all move alpha, beta from (1, 0) to (0, 1) over the demo config's span
(the ``end`` of its DynamicCoeffHook); ``dr2net-fixed`` holds (0, 1) from the first iteration, the
Re²TAL-style rewiring, which is also what a ``constant`` policy at the reversible end means.
"""
import os
import pprint
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

from mmengine.config import Config

HOOK = 'dr2net_mm.DynamicCoeffHook'
# The demo tasks of the paper's claims, and classification, where DTL was published (temporal action
# detection has a demo, not yet a study).
TASK_NAMES = ('detection', 'segmentation', 'recognition', 'classification')


@dataclass(frozen=True)
class Variant:
    name: str
    config: str                          # the demo config it starts from: finetune, dr2net or dtl
    describe: str
    overrides: Optional[Callable[[Config], Dict]] = None   # what the variant's own config sets
    from_scratch: bool = False
    policy_study: bool = False           # one of the update policies (run on the policy task only)

    @property
    def has_hook(self) -> bool:
        return self.config == 'dr2net'


def _hook(cfg: Config) -> Dict:
    hooks = [h for h in cfg.get('custom_hooks', []) if h.get('type') == HOOK]
    if len(hooks) != 1:
        raise ValueError(f'{cfg.filename}: expected one {HOOK} in custom_hooks, found {len(hooks)}')
    return hooks[0].to_dict() if hasattr(hooks[0], 'to_dict') else dict(hooks[0])


def _with_hook(cfg: Config, alpha, beta) -> Dict:
    """The config's coefficient hook with other alpha, beta schedules, over the same span."""
    hook = _hook(cfg)
    return dict(custom_hooks=[dict(hook, alpha=alpha, beta=beta)])


def _policy(policy: str) -> Callable[[Config], Dict]:
    def overrides(cfg: Config) -> Dict:
        return _with_hook(cfg, dict(policy=policy, start=1.0, end=0.0), dict(policy=policy, start=0.0, end=1.0))
    return overrides


def _step(cfg: Config) -> Dict:
    """Half-way through the span to (0.5, 0.5), at its end to (0, 1)."""
    end = _hook(cfg)['end']
    milestones = [end / 2, end]
    return _with_hook(cfg, dict(policy='step', start=1.0, milestones=milestones, values=[0.5, 0.0]),
                      dict(policy='step', start=0.0, milestones=milestones, values=[0.5, 1.0]))


def _fixed(cfg: Config) -> Dict:
    return dict(model=dict(backbone=dict(alpha=0.0, beta=1.0)), **_with_hook(cfg, 0.0, 1.0))


VARIANTS: Dict[str, Variant] = {v.name: v for v in [
    Variant('scratch', 'finetune', 'the conventional config without its pretrained checkpoint', from_scratch=True),
    Variant('finetune', 'finetune', 'conventional finetuning'),
    Variant('with_cp', 'finetune', 'conventional finetuning with with_cp=True (exact gradients, less memory)',
            overrides=lambda cfg: dict(model=dict(backbone=dict(with_cp=True)))),
    Variant('dr2net', 'dr2net', 'Dr²Net, the default dynamic schedule (half cosine over the config\'s span)'),
    Variant('dr2net-fixed', 'dr2net', 'Dr²Net rewired to (0, 1) from the first iteration (Re²TAL-style; '
            'the constant policy)', overrides=_fixed),
    Variant('dr2net-linear', 'dr2net', 'Dr²Net, linear policy over the same span', overrides=_policy('linear'),
            policy_study=True),
    Variant('dr2net-exp', 'dr2net', 'Dr²Net, exponential policy (rate 5) over the same span',
            overrides=_policy('exp'), policy_study=True),
    Variant('dr2net-step', 'dr2net', 'Dr²Net, step policy: (0.5, 0.5) at half the span, (0, 1) at its end',
            overrides=_step, policy_study=True),
    Variant('dtl', 'dtl', 'DTL: frozen backbone, low-rank side network'),
    Variant('dtl+', 'dtl', 'DTL+: DTL with one depthwise 3 x 3 convolution per stage',
            overrides=lambda cfg: dict(model=dict(backbone=dict(dwconv_kernel=3)))),
]}
POLICIES = {'cosine': 'dr2net', 'constant': 'dr2net-fixed', 'linear': 'dr2net-linear', 'exp': 'dr2net-exp',
            'step': 'dr2net-step'}


def variants_for(task: str, policy_task: str, names: Optional[List[str]] = None) -> List[Variant]:
    """The variants a task runs: all but the policy-only ones, which run on ``policy_task``."""
    chosen = [VARIANTS[n] for n in (names or VARIANTS)]
    return [v for v in chosen if not v.policy_study or task == policy_task]


def variant_config(variant: Variant, base: Path, out_dir: Path) -> Path:
    """``base`` itself, or a config inheriting it with the variant's overrides, written to ``out_dir``."""
    if variant.overrides is None:
        return base
    overrides = variant.overrides(Config.fromfile(str(base)))
    lines = [f'# {variant.name}: {variant.describe}. Written by tools/study.py.',
             f'_base_ = {str(base)!r}', '']
    lines += [f'{key} = {pprint.pformat(value, width=100, sort_dicts=False)}' for key, value in overrides.items()]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f'{base.stem}_{variant.name.replace("-", "_").replace("+", "_plus")}.py'
    text = '\n'.join(lines) + '\n'
    if not path.exists() or path.read_text() != text:     # atomically: runs side by side write it too
        partial = path.with_name(f'.{path.name}.{os.getpid()}.{threading.get_ident()}')
        partial.write_text(text)
        os.replace(partial, path)
    return path


