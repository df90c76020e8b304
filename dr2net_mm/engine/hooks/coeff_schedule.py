"""Schedules of one coefficient over normalised progress t in [0, 1] (begin -> end of the hook).

    dict(policy='constant', value=v)
    dict(policy='linear', start=a, end=b)
    dict(policy='cosine', start=a, end=b)          # half cosine, flat at both ends
    dict(policy='exp', start=a, end=b, rate=5.0)   # fast at first: a + (b-a)(1-e^{-rate t})/(1-e^{-rate})
    dict(policy='step', start=a, milestones=[m1, m2], values=[v1, v2])  # milestones in iters/epochs after begin
A plain number is a constant.
"""
import math
from typing import Dict, List, Union

POLICIES = ('constant', 'step', 'linear', 'cosine', 'exp')


class CoeffSchedule:
    """One coefficient's value as a function of progress; validated when built."""

    def __init__(self, spec: Union[float, int, Dict], name: str):
        self.name = name
        if isinstance(spec, (int, float)):
            spec = dict(policy='constant', value=float(spec))
        if not isinstance(spec, dict):
            raise TypeError(f'{name} schedule must be a number or a dict with a policy, got {spec!r}')
        spec = dict(spec)
        self.policy = spec.pop('policy', None)
        if self.policy not in POLICIES:
            raise ValueError(f'unknown {name} schedule policy {self.policy!r}; choose one of {POLICIES}')
        required = {'constant': ('value',), 'linear': ('start', 'end'), 'cosine': ('start', 'end'),
                    'exp': ('start', 'end'), 'step': ('start', 'milestones', 'values')}[self.policy]
        optional = {'exp': ('rate',)}.get(self.policy, ())
        missing = [k for k in required if k not in spec]
        unknown = [k for k in spec if k not in required + optional]
        if missing or unknown:
            raise ValueError(f"{name} schedule policy '{self.policy}' takes {list(required + optional)}; "
                             f'missing {missing}, unknown {unknown}')
        self.spec = spec
        if self.policy == 'step':
            milestones, values = list(spec['milestones']), list(spec['values'])
            if len(milestones) != len(values) or milestones != sorted(milestones):
                raise ValueError(f'{name} step schedule needs increasing milestones and one value per milestone')
        if self.policy == 'exp' and not spec.get('rate', 5.0) > 0:
            raise ValueError(f'{name} exp schedule needs rate > 0')
        for v in self.key_values():
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f'{name} schedule values must be finite and >= 0, got {v!r}')

    def key_values(self) -> List[float]:
        """Every value the schedule can take at its extremes (it is monotone between them)."""
        s = self.spec
        if self.policy == 'constant':
            return [s['value']]
        if self.policy == 'step':
            return [s['start'], *s['values']]
        return [s['start'], s['end']]

    def __call__(self, t: float, elapsed: float) -> float:
        """Value at progress ``t`` in [0, 1]; ``elapsed`` (iters/epochs after begin) drives 'step'."""
        s = self.spec
        t = min(max(t, 0.0), 1.0)
        if self.policy == 'constant':
            return float(s['value'])
        if self.policy == 'step':
            value = s['start']
            for milestone, v in zip(s['milestones'], s['values'], strict=True):
                if elapsed >= milestone:
                    value = v
            return float(value)
        a, b = float(s['start']), float(s['end'])
        if self.policy == 'linear':
            return a + (b - a) * t
        if self.policy == 'cosine':
            return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * t))
        rate = float(s.get('rate', 5.0))
        return a + (b - a) * (1.0 - math.exp(-rate * t)) / (1.0 - math.exp(-rate))
