"""Mean and spread over seeds, and whether a difference stands out of the spread."""
import math
import statistics
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple


@dataclass(frozen=True)
class Spread:
    mean: float
    sd: Optional[float]     # sample standard deviation; None for one seed
    n: int

    @property
    def decimals(self) -> int:
        """Decimal places that show the spread to two significant digits, the mean to the same place
        (no spread: the mean to four significant digits). Digits below the spread are noise."""
        return _places(self.sd, 2) if self.sd else _places(self.mean, 4)

    def __str__(self) -> str:
        if self.sd is None:
            return f'{self.mean:.{self.decimals}f} (n=1)'
        return f'{self.mean:.{self.decimals}f} ± ' + (f'{self.sd:.{self.decimals}f}' if self.sd else '0')


def _places(value: float, significant: int) -> int:
    if value == 0 or not math.isfinite(value):
        return 0
    exponent = int(f'{abs(value):.{significant - 1}e}'.split('e')[1])     # of the value as rounded: 0.0999.. is 0.10
    return min(6, max(0, significant - 1 - exponent))


def spread(values: Sequence[float]) -> Optional[Spread]:
    values = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None
    return Spread(statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None, len(values))


def _contrast(a: Spread, b: Spread) -> Tuple[str, Optional[float], str]:
    """The difference of means (shown to the digits the spreads allow), how many Welch standard errors
    it is (None when a side has one seed or neither varies), and the verdict."""
    diff = a.mean - b.mean
    with_spread = [s.decimals for s in (a, b) if s.sd is not None]
    places = max(with_spread or (a.decimals, b.decimals))
    shown = f'{diff if round(diff, places) else 0.0:+.{places}f}'      # no '-0.000'
    if a.sd is None or b.sd is None:
        return shown, None, 'one seed: no spread to compare with'
    se = math.sqrt(a.sd ** 2 / a.n + b.sd ** 2 / b.n)
    if se == 0:
        return shown, None, 'no seed-to-seed variation on either side' if diff else 'identical on every seed'
    t = diff / se
    within = abs(t) < 2 or abs(diff) <= max(a.sd, b.sd)
    return shown, abs(t), 'within the spread' if within else ('above' if diff > 0 else 'below') + ' the spread'


# The verdicts in a table cell (``brief``): one word where the long form is a phrase.
_SHORT = {'one seed: no spread to compare with': 'one seed', 'within the spread': 'within',
          'above the spread': 'above', 'below the spread': 'below'}


def verdict(a: Spread, b: Spread) -> str:
    """'within the spread', 'above the spread' or 'below the spread' for ``a`` against ``b``, or why
    there is none (one seed; no seed-to-seed variation; identical on every seed)."""
    return _contrast(a, b)[2]


def compare(a: Spread, b: Spread) -> str:
    """How ``a`` stands against ``b``: the difference of means against Welch's standard error.

    'within the spread' when the difference is under two standard errors (or under either
    method's seed-to-seed spread); one seed per side cannot tell.
    """
    return _describe(a, b, short=False)


def brief(a: Spread, b: Spread) -> str:
    """``compare`` in a table cell: '-0.019 (1.8 SE, 3 and 3 seeds): within'."""
    return _describe(a, b, short=True)


def _describe(a: Spread, b: Spread, short: bool) -> str:
    shown, t, why = _contrast(a, b)
    if why == 'identical on every seed':
        return why
    said = _SHORT.get(why, why) if short else why
    if t is None:
        return f'{shown} ({said})'
    if short:
        return f'{shown} ({t:.1f} SE, {a.n} and {b.n} seeds): {said}'
    return f'{shown}, {t:.1f} standard errors: {said}'
