"""docs/study.md: per task a table of mean ± standard deviation over seeds with each method's memory
and time, a plot of metric against peak memory, and one paragraph per claim, each saying what the
numbers show."""
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .stats import Spread, brief, compare, spread, verdict
from .variants import POLICIES, VARIANTS


def _cell(s: Optional[Spread]) -> str:
    return '–' if s is None else str(s)


def summarise(results: List[Dict], metrics: Sequence[str]) -> Dict[str, Dict]:
    """Per variant: the spread of each metric and of the final training loss, and the fastest run's
    s/iter (another job on the machine only ever slows a run down)."""
    by_variant: Dict[str, List[Dict]] = {}
    for r in results:
        by_variant.setdefault(r['variant'], []).append(r)
    out = {}
    for name, runs in by_variant.items():
        out[name] = dict(n=len(runs), seeds=sorted(r['seed'] for r in runs),
                         metrics={m: spread([r['metrics'].get(m) for r in runs]) for m in metrics},
                         final_loss=spread([r.get('final_loss') for r in runs]),
                         fastest_seconds_per_iter=min((r['seconds_per_iter'] for r in runs
                                                       if r.get('seconds_per_iter')), default=None))
    return out


def _against_conventional(value: Optional[float], base: Optional[float], spec: str) -> str:
    if value is None:
        return '–'
    return spec.format(value) + (f' ({value / base:.2f} ×)' if base else '')


def task_table(summary: Dict[str, Dict], metrics: Sequence[str], cost: Dict[str, Dict]) -> str:
    peaks, steps = cost.get('peak_mib', {}), cost.get('seconds_per_step', {})
    head = ['method', 'seeds', *metrics, 'final training loss', 'peak MiB (× conventional)',
            's/step (× conventional)', 's/iter in the runs (fastest)']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name in VARIANTS:
        if name not in summary:
            continue
        s = summary[name]
        fastest = s['fastest_seconds_per_iter']
        lines.append('| ' + ' | '.join([
            name, str(s['n']), *(_cell(s['metrics'][m]) for m in metrics), _cell(s['final_loss']),
            _against_conventional(peaks.get(name), peaks.get('finetune'), '{:.1f}'),
            _against_conventional(steps.get(name), steps.get('finetune'), '{:.3f}'),
            '–' if fastest is None else f'{fastest:.3f}']) + ' |')
    return '\n'.join(lines)


def _against(summary: Dict[str, Dict], metric: str, a: str, b: str) -> Optional[str]:
    sa, sb = summary.get(a, {}).get('metrics', {}).get(metric), summary.get(b, {}).get('metrics', {}).get(metric)
    if sa is None or sb is None:
        return None
    return f'{a} {sa} against {b} {sb}: {compare(sa, sb)}'


def claims(summary: Dict[str, Dict], metric: str, cost: Dict[str, Dict]) -> List[str]:
    """One paragraph per claim, from the numbers; a claim without its runs says so."""
    out = []
    text = _against(summary, metric, 'dr2net', 'finetune')
    memory, steps = cost.get('peak_mib', {}), cost.get('seconds_per_step', {})
    costs = ''
    if memory.get('dr2net') and memory.get('finetune'):
        costs = (f' Its peak training memory is {memory["dr2net"] / memory["finetune"]:.2f} × conventional '
                 f'finetuning\'s' + (f' and {memory["dr2net"] / memory["with_cp"]:.2f} × `with_cp`\'s'
                                     if memory.get('with_cp') else '') + '.')
    if steps.get('dr2net') and steps.get('with_cp'):
        costs += f' A training step takes {steps["dr2net"] / steps["with_cp"]:.2f} × `with_cp`\'s time.'
    out.append(f'*Dr²Net keeps conventional finetuning\'s {metric}?* '
               + (text + '.' + costs if text else 'not run yet.'))
    text = _against(summary, metric, 'dr2net', 'dr2net-fixed')
    out.append('*The dynamic schedule against fixed rewiring (α=0, β=1 from the first iteration)?* '
               + (text + '.' if text else 'not run yet.'))
    ranked = sorted(((summary[v]['metrics'][metric], f'{p} (`{v}`)') for p, v in POLICIES.items()
                     if v in summary and summary[v]['metrics'].get(metric) is not None),
                    key=lambda sp: -sp[0].mean)
    if len(ranked) > 1:
        best, name = ranked[0]
        rest = '; '.join(f'{p} {s} ({compare(s, best)})' for s, p in ranked[1:])
        out.append(f'*Which update policy?* {name} {best} is highest; {rest}.')
    else:
        out.append('*Which update policy?* not run on this task.')
    parts = [t for t in (_against(summary, metric, 'dtl', 'finetune'), _against(summary, metric, 'dtl+', 'finetune'))
             if t]
    mem = ', '.join(f'{v} {memory[v] / memory["finetune"]:.2f} ×' for v in ('dtl', 'dtl+')
                    if memory.get(v) and memory.get('finetune'))
    out.append('*Where does DTL stand?* ' + ('; '.join(parts) + (f'. Peak memory against conventional: {mem}.'
                                                                 if mem else '.') if parts else 'not run yet.'))
    return out


def overview(tasks: Dict[str, Tuple[Dict[str, Dict], str, Dict[str, Dict]]]) -> str:
    """One row per task (its summary, first metric and costs): the claims' differences side by side,
    and what Dr²Net and DTL cost against `with_cp`, the one-flag alternative."""
    head = ['task (metric)', 'Dr²Net − conventional', 'dynamic − fixed rewiring', 'best of 3+ update policies',
            'DTL − conventional', 'DTL+ − conventional', 'peak memory × `with_cp`: Dr²Net / DTL',
            'time per step × `with_cp`: Dr²Net / DTL']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    lines += [_overview_row(name, *answered) for name, answered in tasks.items()]
    return '\n'.join(lines)


def _overview_row(name: str, summary: Dict[str, Dict], metric: str, cost: Dict[str, Dict]) -> str:
    def against(a: str, b: str) -> str:
        sa, sb = (summary.get(v, {}).get('metrics', {}).get(metric) for v in (a, b))
        return '–' if sa is None or sb is None else brief(sa, sb)

    def ratios(key: str) -> str:
        values = cost.get(key, {})
        base = values.get('with_cp')
        return ' / '.join(f'{values[v] / base:.2f}' if base and values.get(v) else '–' for v in ('dr2net', 'dtl'))
    return '| ' + ' | '.join([
        f'{name} ({metric})', against('dr2net', 'finetune'), against('dr2net', 'dr2net-fixed'),
        _best_policy(summary, metric), against('dtl', 'finetune'), against('dtl+', 'finetune'),
        ratios('peak_mib'), ratios('seconds_per_step')]) + ' |'


def _best_policy(summary: Dict[str, Dict], metric: str) -> str:
    """The update policy with the highest mean where three or more ran, and how many of the others
    fall below the spread of it."""
    ran = {p: summary[v]['metrics'][metric] for p, v in POLICIES.items()
           if v in summary and summary[v]['metrics'].get(metric) is not None}
    if len(ran) < 3:
        return '–'
    best = max(ran, key=lambda p: ran[p].mean)
    below = sum(verdict(s, ran[best]) == 'below the spread' for p, s in ran.items() if p != best)
    return f'{best}; {below} of the {len(ran) - 1} others below its spread'


def plot_task(summary: Dict[str, Dict], metric: str, memory: Dict[str, float], title: str, path: Path) -> None:
    """``memory``: peak MiB per variant."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, s in summary.items():
        m = s['metrics'].get(metric)
        if m is None or memory.get(name) is None:
            continue
        ax.errorbar(memory[name], m.mean, yerr=m.sd or 0.0, fmt='o', capsize=3, label=f'{name} (n={m.n})')
    ax.set_xlabel('peak training memory, MiB of live tensors (whole model, one step)')
    ax.set_ylabel(f'{metric} (mean ± sd over seeds)')
    ax.set_title(title)
    ax.legend(fontsize=7, loc='best')
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
