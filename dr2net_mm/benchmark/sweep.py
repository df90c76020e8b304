"""Sweeps: the same benchmark over depth, resolution or frames, as one table and one PNG plot.

Depth keeps the architecture and changes the number of residual blocks: every stage of a staged
backbone (``depths``) gets the swept number of blocks; a plain backbone (``num_layers``) gets that
many layers, with its ``out_indices`` spread over the new depth. Resolution sets the last two input
dimensions, frames the third of a clip.
"""
import copy
from typing import Dict, List, Sequence, Tuple

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
    return {'autograd': 'conventional (autograd)', 'with_cp': 'with_cp=True', 'dtl': 'DTL'}.get(
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


def plot_sweep(rows: List[Dict], sweep: str, path: str, title: str = '') -> None:
    """Peak training memory against the swept variable, one line per method, written to ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, points in curves(rows).items():
        xs, ys = zip(*sorted(points), strict=True)
        ax.plot(xs, ys, marker='o', label=label)
    xlabel = {'depth': 'blocks per stage (or layers)', 'resolution': 'input height = width (pixels)',
              'frames': 'frames per clip'}[sweep]
    ax.set(xlabel=xlabel, ylabel='peak training memory (MiB of live tensors)', title=title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
