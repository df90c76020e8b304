"""Mean and spread over seeds, and whether a difference stands out of the spread."""
import math
import statistics
from dataclasses import dataclass
from typing import Optional, Sequence


@dataclass(frozen=True)
class Spread:
    mean: float
    sd: Optional[float]     # sample standard deviation; None for one seed
    n: int

    def __str__(self) -> str:
        if self.sd is None:
            return f'{self.mean:.4g} (n=1)'
        return f'{self.mean:.4g} ± {self.sd:.2g}'


def spread(values: Sequence[float]) -> Optional[Spread]:
    values = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None
    return Spread(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None, len(values))


def compare(a: Spread, b: Spread) -> str:
    """How ``a`` stands against ``b``: the difference of means against Welch's standard error.

    'within the spread' when the difference is under two standard errors (or under either
    method's seed-to-seed spread); one seed per side cannot tell.
    """
    diff = a.mean - b.mean
    if a.sd is None or b.sd is None:
        return f'{diff:+.3g} (one seed: no spread to compare with)'
    se = math.sqrt(a.sd ** 2 / a.n + b.sd ** 2 / b.n)
    if se == 0:
        return f'{diff:+.3g} (no seed-to-seed variation on either side)' if diff else 'identical on every seed'
    t = diff / se
    within = abs(t) < 2 or abs(diff) <= max(a.sd, b.sd)
    verdict = 'within the spread' if within else ('above' if diff > 0 else 'below') + ' the spread'
    return f'{diff:+.3g}, {abs(t):.1f} standard errors: {verdict}'
