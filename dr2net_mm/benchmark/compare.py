"""Read finished runs of any codebase (config, scalars.json, logs, test metrics) for one table.

A run's work dir holds the dumped config (``<name>.py``), one ``<timestamp>/`` folder per start
(a resumed run has several) with ``vis_data/scalars.json`` and the log, and, when ``tools/test.py``
was run with ``--work-dir <work_dir>/test``, the test metrics.
"""
import inspect
import json
import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from mmengine.config import Config

from ..models.dr2net import build_dr2net_backbone

METRICS = {'mmdet': ('coco/bbox_mAP', 'coco/segm_mAP'), 'mmseg': ('mIoU',), 'mmaction': ('acc/top1',)}
TASKS = {'mmdet': 'detection', 'mmseg': 'segmentation', 'mmaction': 'recognition'}
_DR2NET_DEFAULT_TOL = inspect.signature(build_dr2net_backbone).parameters['tol'].default
TRAINABLE = re.compile(r'optimizer: ([\d,]+) trainable parameters')


@dataclass
class RunSummary:
    work_dir: str
    task: str
    backbone: str
    method: str
    metrics: Dict[str, float]
    seconds_per_iter: Optional[float]
    peak_memory_mb: Optional[float]
    trainable_params: Optional[int]
    iters: List[int] = field(default_factory=list)
    alpha: List[float] = field(default_factory=list)
    beta: List[float] = field(default_factory=list)
    recon_error: List[float] = field(default_factory=list)
    tol: Optional[float] = None
    nonfinite_loss_iter: Optional[int] = None   # the first iteration whose logged loss was NaN or inf

    @property
    def name(self) -> str:
        """The work dir's name: tells pretraining from finetuning runs and two runs of one method apart."""
        return Path(self.work_dir).name

    @property
    def status(self) -> str:
        return 'ok' if self.nonfinite_loss_iter is None else f'loss non-finite from iter {self.nonfinite_loss_iter}'


def _method_and_backbone(backbone: dict):
    kind = backbone.get('type', '?')
    if kind == 'dr2net_mm.Dr2Net':
        return 'dr2net', backbone['backbone'].get('type', '?')
    if kind == 'dr2net_mm.DTL':
        return 'dtl', backbone['backbone'].get('type', '?')
    return ('with_cp' if backbone.get('with_cp') else 'conventional'), kind


def _config(work_dir: Path) -> Config:
    candidates = sorted(work_dir.glob('*.py'))
    if not candidates:
        raise FileNotFoundError(f'{work_dir}: no dumped config (*.py); is this an mmengine work dir?')
    return Config.fromfile(str(candidates[-1]))


def _scalars(work_dir: Path) -> List[dict]:
    rows = []
    for path in sorted(work_dir.glob('2*/vis_data/scalars.json')):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def _trainable_params(work_dir: Path, cfg: Config) -> int:
    for log in sorted(work_dir.glob('2*/2*.log'), reverse=True):
        found = TRAINABLE.findall(log.read_text(errors='replace'))
        if found:
            return int(found[-1].replace(',', ''))
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def read_run(work_dir) -> RunSummary:
    work_dir = Path(work_dir)
    cfg = _config(work_dir)
    scope = cfg.get('default_scope', '?')
    rows = _scalars(work_dir)
    keys = METRICS.get(scope, ())
    metrics = {}
    for row in rows:                                   # the last validation wins
        metrics.update({k: row[k] for k in keys if k in row})
    for path in sorted((work_dir / 'test').glob('2*/2*.json')):   # a test run wins over validation
        last = json.loads(path.read_text().strip().splitlines()[-1])
        metrics.update({k: last[k] for k in keys if k in last})
    train = [r for r in rows if 'loss' in r and 'time' in r]
    memory = [r['memory'] for r in train if 'memory' in r]
    method, backbone = _method_and_backbone(dict(cfg.model.get('backbone', {})))
    dr2 = [r for r in rows if 'dr2net_alpha' in r]
    nonfinite = [r.get('iter') for r in train if not math.isfinite(r['loss'])]
    backbone_cfg = cfg.model.get('backbone', {})
    return RunSummary(
        work_dir=str(work_dir), task=TASKS.get(scope, scope), backbone=backbone, method=method, metrics=metrics,
        seconds_per_iter=statistics.median(r['time'] for r in train) if train else None,
        peak_memory_mb=max(memory) if memory else None, trainable_params=_trainable_params(work_dir, cfg),
        iters=[r['iter'] for r in dr2], alpha=[r['dr2net_alpha'] for r in dr2], beta=[r['dr2net_beta'] for r in dr2],
        recon_error=[r.get('dr2net_recon_error', 0.0) for r in dr2],
        tol=backbone_cfg.get('tol', _DR2NET_DEFAULT_TOL) if method == 'dr2net' else None,
        nonfinite_loss_iter=nonfinite[0] if nonfinite else None)


def _fmt(value, spec='{:.4g}') -> str:
    return '–' if value is None else spec.format(value)


def markdown(runs: List[RunSummary]) -> str:
    lines = ['| run | task | backbone | method | final metric | peak memory (MB) | s/iter | trainable params '
             '| status |',
             '|---|---|---|---|---|---|---|---|---|']
    for r in runs:
        metric = ', '.join(f'{k} {v:.4g}' for k, v in r.metrics.items()) or '–'
        lines.append(f'| {r.name} | {r.task} | {r.backbone} | {r.method} | {metric} | {_fmt(r.peak_memory_mb)} | '
                     f'{_fmt(r.seconds_per_iter, "{:.3f}")} | {_fmt(r.trainable_params, "{:,}")} | {r.status} |')
    return '\n'.join(lines)


def _plot_metric_against_cost(plt, runs: List[RunSummary], task: str, path: Path) -> None:
    use_memory = any(r.peak_memory_mb is not None for r in runs)
    fig, ax = plt.subplots(figsize=(7, 4))
    keys = []
    for r in runs:
        x = r.peak_memory_mb if use_memory else r.seconds_per_iter
        if r.metrics and x is not None:
            key, value = next(iter(r.metrics.items()))
            keys.append(key)
            healthy = r.nonfinite_loss_iter is None
            ax.scatter(x, value, marker='o' if healthy else 'x',
                       label=r.name if healthy else f'{r.name} ({r.status})')
    ax.set_xlabel('peak memory (MB)' if use_memory else 'time per iteration (s)')
    ax.set_ylabel(', '.join(dict.fromkeys(keys)) or 'final metric')
    ax.set_title(f'{task}: final metric against {"memory" if use_memory else "time"}')
    if keys:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_coefficients(plt, r: RunSummary, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(r.iters, r.alpha, label='alpha')
    ax.plot(r.iters, r.beta, label='beta')
    ax.set_xlabel('iteration')
    ax.set_ylabel('coefficient')
    ax2 = ax.twinx()
    # symlog: a zero error (no reconstruction yet) is drawn at zero, not at an invented floor.
    errors = r.recon_error
    ax2.set_yscale('symlog', linthresh=min([e for e in errors if e > 0] + [r.tol or 1e-3]) / 10)
    ax2.plot(r.iters, errors, 'k:', label=f'reconstruction error (max {max(errors, default=0.0):.2g})')
    if r.tol is not None:
        ax2.axhline(r.tol, color='r', linestyle='--', linewidth=1, label=f'tol {r.tol:g}')
    ax2.set_ylabel('reconstruction error')
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc='center left', fontsize=7)
    title = f'{r.name}: {r.task}, {r.backbone}, dr2net'
    ax.set_title(title if r.nonfinite_loss_iter is None else f'{title} ({r.status})', fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot(runs: List[RunSummary], out_dir) -> List[str]:
    """Per task, final metric against memory (or time per iteration where no memory was logged); for
    each Dr²Net run, alpha, beta and the reconstruction error (with tol) over iterations."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for task in dict.fromkeys(r.task for r in runs):
        path = out_dir / f'metric_vs_cost_{task}.png'
        _plot_metric_against_cost(plt, [r for r in runs if r.task == task], task, path)
        written.append(str(path))
    for r in runs:
        if r.iters:
            path = out_dir / f'dr2net_coefficients_{r.name}.png'
            _plot_coefficients(plt, r, path)
            written.append(str(path))
    return written
