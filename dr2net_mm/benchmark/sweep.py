"""Sweeps: the same benchmark over depth, resolution or frames, as one table and one PNG plot.

Depth keeps the architecture and changes the number of residual blocks: every stage of a staged
backbone (``depths``) gets the swept number of blocks; a plain backbone (``num_layers``) gets that
many layers, with its ``out_indices`` spread over the new depth. Resolution sets the last two input
dimensions, frames the third of a clip.
"""
import copy
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.config import Config

from .variants import innermost_backbone_cfg

SWEEPS = ('depth', 'resolution', 'frames')


def with_depth(cfg: Config, depth: int) -> Config:
    """A copy of ``cfg`` whose backbone has ``depth`` blocks per stage (or ``depth`` layers)."""
    if depth < 1:
        raise ValueError(f'a depth sweep needs depths >= 1, got {depth}')
    cfg = copy.deepcopy(cfg)
    backbone = innermost_backbone_cfg(cfg.model.backbone)   # edited in place, inside the copy
    if 'depths' in backbone:
        backbone['depths'] = [depth] * len(backbone['depths'])
    elif 'num_layers' in backbone:
        old = backbone['num_layers']
        outs = backbone.get('out_indices', old - 1)
        outs = [outs] if isinstance(outs, int) else list(outs)
        backbone['num_layers'] = depth
        backbone['out_indices'] = sorted({max(0, round((i + 1) * depth / old) - 1) for i in outs})
    else:
        raise ValueError(f"{backbone.get('type')}: a depth sweep needs a backbone with 'depths' (blocks per "
                         "stage, e.g. Swin) or 'num_layers' (e.g. ViT) in its config")
    return cfg


def with_size(shape: Tuple[int, ...], sweep: str, value: int) -> Tuple[int, ...]:
    """``shape`` with its spatial size (``resolution``) or its number of frames (``frames``) set."""
    if sweep == 'resolution':
        return (*shape[:-2], value, value)
    if len(shape) != 5:
        raise ValueError(f'a frames sweep needs clips (N C T H W), got input shape {tuple(shape)}')
    return (shape[0], shape[1], value, *shape[3:])


def sweep_points(cfg: Config, shape: Tuple[int, ...], sweep: str, values: Sequence[int]):
    """``(value, config, input shape)`` for each swept value."""
    if sweep not in SWEEPS:
        raise ValueError(f'unknown sweep {sweep!r}; choose from {", ".join(SWEEPS)}')
    if not values:
        raise ValueError(f'--sweep {sweep} needs --values, e.g. --values 2 4 8')
    for value in values:
        if sweep == 'depth':
            yield value, with_depth(cfg, value), tuple(shape)
        else:
            yield value, cfg, with_size(tuple(shape), sweep, value)


def curve_label(row: Dict) -> str:
    if row['method'] == 'dr2net':
        return f"Dr²Net (α={row['alpha']:g}, β={row['beta']:g})"
    return {'autograd': 'conventional (autograd)', 'with_cp': 'with_cp=True',
            'with_cp_sdpa': 'with_cp=True, fused attention', 'dtl': 'DTL'}.get(
        row['method'], row['method'])


def curves(rows: List[Dict], key: str = 'peak_mib') -> Dict[str, List[Tuple[int, float]]]:
    """``{label: [(value, measurement), ...]}`` over the rows of a sweep (``sweep_value`` set)."""
    found: Dict[str, List[Tuple[int, float]]] = {}
    for row in rows:
        if row.get('status') == 'ok' and row.get(key) is not None:
            found.setdefault(curve_label(row), []).append((row['sweep_value'], row[key]))
    return found


def sweep_table(rows: List[Dict], key: str = 'peak_mib') -> str:
    """Markdown: one line per method, one column per swept value."""
    values = sorted({r['sweep_value'] for r in rows})
    table = curves(rows, key)
    lines = ['| method | ' + ' | '.join(str(v) for v in values) + ' |', '|---|' + '---|' * len(values)]
    for label, points in table.items():
        by_value = dict(points)
        lines.append(f'| {label} | ' + ' | '.join(f'{by_value[v]:.1f}' if v in by_value else 'n/a'
                                                  for v in values) + ' |')
    return '\n'.join(lines)


#: Default memory budget of ``--budget-mib``: 8 GiB of live tensors.
DEFAULT_BUDGET_MIB = 8192.0


def _size(sweep: str, value: float) -> float:
    """What memory grows with: tokens (pixels, the square of the side) for resolution, else the value."""
    return value * value if sweep == 'resolution' else float(value)


def largest_fitting(points: Sequence[Tuple[int, float]], sweep: str, budget_mib: float
                    ) -> Optional[Tuple[int, bool]]:
    """The largest swept value whose peak fits ``budget_mib``, and whether that is an extrapolation.

    Peak memory is fitted as ``a + b n + c n^2`` in the size ``n`` (frames, blocks, or pixels for
    resolution; ``c >= 0``, and ``c = 0`` from fewer than three points): linear where every term is
    (windowed attention, convolutions), quadratic where a token x token matrix is kept (global
    attention without a fused kernel). ``None`` with fewer than two points or when even the fit's
    intercept exceeds the budget.
    """
    if len(points) < 2:
        return None
    n = np.array([_size(sweep, v) for v, _ in points])
    y = np.array([peak for _, peak in points])
    coeffs = np.polyfit(n, y, 2) if len(points) >= 3 else np.array([0.0, *np.polyfit(n, y, 1)])
    if coeffs[0] * n.max() ** 2 < 1e-6 * y.max():     # negative, or rounding noise on a line
        coeffs = np.array([0.0, *np.polyfit(n, y, 1)])
    c, b, a = (float(v) for v in coeffs)
    if a >= budget_mib and b <= 0:
        return None
    if c > 0:
        size = (-b + math.sqrt(b * b + 4 * c * (budget_mib - a))) / (2 * c)
    elif b > 0:
        size = (budget_mib - a) / b
    else:
        return None
    if size <= 0:
        return None
    size *= 1 + 1e-9     # a fit that lands on a whole number must not fall just below it
    value = math.isqrt(int(size)) if sweep == 'resolution' else int(size)
    return value, value > max(v for v, _ in points)


def budget_table(rows: List[Dict], sweep: str, budget_mib: float) -> str:
    """Markdown: per method, the largest swept value that fits ``budget_mib``, and its ratio to with_cp's."""
    fits = {label: largest_fitting(points, sweep, budget_mib) for label, points in curves(rows).items()}
    reference = fits.get('with_cp=True')
    unit = {'depth': 'blocks per stage', 'resolution': 'pixels (side)', 'frames': 'frames'}[sweep]
    lines = [f'| method | fits in {budget_mib:g} MiB: {unit} | × with_cp |', '|---|---|---|']
    for label, fit in fits.items():
        if fit is None:
            lines.append(f'| {label} | n/a | – |')
            continue
        ratio = f'{fit[0] / reference[0]:.2f}' if reference else '–'
        lines.append(f"| {label} | {fit[0]}{' (extrapolated)' if fit[1] else ''} | {ratio} |")
    return '\n'.join(lines)


def plot_sweep(rows: List[Dict], sweep: str, path: str, title: str = '', budget_mib: Optional[float] = None) -> None:
    """Peak training memory against the swept variable, one line per method (and the budget, dashed),
    written to ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, points in curves(rows).items():
        xs, ys = zip(*sorted(points), strict=True)
        ax.plot(xs, ys, marker='o', label=label)
    xlabel = {'depth': 'blocks per stage (or layers)', 'resolution': 'input height = width (pixels)',
              'frames': 'frames per clip'}[sweep]
    if budget_mib is not None:
        ax.axhline(budget_mib, color='grey', linestyle='--', linewidth=1, label=f'budget {budget_mib:g} MiB')
    ax.set(xlabel=xlabel, ylabel='peak memory (MiB of live tensors)')
    ax.set_title(title, fontsize=8)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
