"""Running the demo's steps: pretraining once, publishing, finetuning and testing each method.

Used by ``tools/demo.py`` (one run per task and method) and ``tools/study.py`` (several seeds and
variants per method). Every finetuning run must log ``N of N backbone parameters loaded from
checkpoints/demo/...``: a run that did not start from the whole pretrained backbone is an error.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ..launch.checkpoints import last_checkpoint, publish_checkpoint
from .make import manifest_path

REPO = Path(__file__).resolve().parents[2]
QUICK_SCALE = 0.05
PRETRAIN_SEED = 0
LOADED = re.compile(r'(\d+) of (\d+) backbone parameters loaded from (\S+)')


@dataclass(frozen=True)
class Task:
    folder: str
    stem: str
    metrics: Tuple[str, ...]
    by_epoch: bool            # the configs' training loop: epochs (True) or iterations
    dataset: str              # the demo dataset it trains on (dr2net_mm.demo.make.DATA_VERSIONS)
    pretrained_by: Optional[str] = None   # another task whose pretraining it starts from (else its own)
    methods: Tuple[str, ...] = ('finetune', 'dr2net', 'dtl', 'scratch')    # what tools/demo.py runs

    def quick_options(self, method: str) -> List[str]:
        """A few iterations, no validation (tools/test.py evaluates each run); Dr²Net's coefficients
        still travel from (1, 0) to (0, 1), in the first half."""
        if self.by_epoch:
            options = ['train_cfg.max_epochs=2', 'train_cfg.val_interval=100']
            hook = ['custom_hooks.0.by_epoch=True', 'custom_hooks.0.end=1']
        else:
            options = ['train_cfg.max_iters=8', 'train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=8']
            hook = ['custom_hooks.0.end=4']
        return options + (hook if method == 'dr2net' else [])


TASKS: Dict[str, Task] = {
    'detection': Task('configs/detection', 'mask-rcnn_swin-nano_fpn_demo-shapes', ('coco/bbox_mAP', 'coco/segm_mAP'),
                      True, 'shapes'),
    'segmentation': Task('configs/segmentation', 'upernet_swin-nano_demo-shapes', ('mIoU', 'aAcc'), False, 'shapes'),
    'recognition': Task('configs/recognition', 'swin3d-nano_demo-motion', ('acc/top1', 'acc/mean1'), True, 'motion'),
    'classification': Task('configs/classification', 'swin-nano_demo-shape-images', ('accuracy/top1',), True,
                           'shape_images'),
    'tad': Task('configs/tad', 'swin3d-nano_demo-untrimmed', ('tad/average_mAP', 'tad/mAP@0.50'), True, 'untrimmed',
                pretrained_by='recognition', methods=('finetune', 'with_cp', 'dr2net', 'dtl', 'scratch')),
}
METHODS = ('finetune', 'with_cp', 'dr2net', 'dtl', 'scratch')


class Demo:
    """Runs the tools in ``root`` (the repository, or the quick demo's workspace)."""

    def __init__(self, root: Path, quick: bool):
        self.root, self.quick = root, quick

    def run(self, args: list, threads: Optional[int] = None, console: Optional[Path] = None) -> None:
        """Run a tool of the repository; ``threads``: its torch threads (default: as this process);
        ``console``: a file its output is appended to instead of this terminal (runs side by side)."""
        print('+', ' '.join(str(a) for a in args), flush=True)
        env = None if threads is None else dict(os.environ, OMP_NUM_THREADS=str(threads),
                                                 MKL_NUM_THREADS=str(threads))
        if console is None:
            subprocess.run([sys.executable, *map(str, args)], cwd=self.root, check=True, env=env)
            return
        console.parent.mkdir(parents=True, exist_ok=True)
        with open(console, 'a') as out:
            result = subprocess.run([sys.executable, *map(str, args)], cwd=self.root, env=env,
                                    stdout=out, stderr=subprocess.STDOUT)
        if result.returncode != 0:
            tail = ''.join(console.read_text(errors='replace').splitlines(keepends=True)[-20:])
            raise RuntimeError(f'{Path(args[0]).name} failed (exit status {result.returncode}); its output is in '
                               f'{console}, ending:\n{tail}')

    def train(self, task: Task, config: Path, work_dir: Path, method: str, options: List[str],
              flags: Sequence[str] = (), threads: Optional[int] = None, console: Optional[Path] = None) -> None:
        options = options + (task.quick_options(method) if self.quick else [])
        self.run([REPO / 'tools/train.py', config, '--work-dir', work_dir, '--resume', 'auto', *flags,
                  *(['--cfg-options', *options] if options else [])], threads, console)

    def discard_if_older(self, work_dir: Path, source: Path) -> None:
        """Like make: a run whose last checkpoint is older than what it was trained from starts over.

        Without this, ``--resume auto`` would pick up a finished run on data or weights that changed.
        """
        checkpoint = last_checkpoint(work_dir) if work_dir.exists() else None
        if checkpoint and Path(checkpoint).stat().st_mtime < source.stat().st_mtime:
            print(f'{work_dir} is older than {source}: starting it over')
            shutil.rmtree(work_dir)

    def make_data(self) -> None:
        scale = QUICK_SCALE if self.quick else 1.0
        self.run([REPO / 'tools/data/make_demo_data.py', '--scale', scale])

    def ensure_pretrained(self, task: Task) -> Path:
        if task.pretrained_by is not None:
            return self.ensure_pretrained(TASKS[task.pretrained_by])
        published = self.root / 'checkpoints' / 'demo' / f'{task.stem}-pretrain.pth'
        data = manifest_path(self.root / 'data' / 'demo', task.dataset)
        if published.exists() and published.stat().st_mtime >= data.stat().st_mtime:
            print(f'using pretrained checkpoint {published}')
            return published
        work_dir = self.root / 'work_dirs' / f'{task.stem}-pretrain'
        self.discard_if_older(work_dir, data)
        # seeded, so that the checkpoint a study's runs share can be made again (unseeded, mmengine
        # draws a seed: two pretrainings of the same data differed by up to 2.0 in a weight)
        self.train(task, REPO / task.folder / f'{task.stem}-pretrain.py', work_dir, 'pretrain', [],
                   ['--seed', str(PRETRAIN_SEED)])
        checkpoint = last_checkpoint(work_dir)
        if checkpoint is None:
            raise RuntimeError(f'pretraining finished without a checkpoint in {work_dir}')
        return publish_checkpoint(checkpoint, published)

    def finetune_and_test(self, task: Task, run: 'FinetuneRun', pretrained: Path) -> dict:
        """Train ``run`` (resuming where it stopped), check it started from ``pretrained``, test it."""
        self.discard_if_older(run.work_dir, pretrained)
        start = time.time()
        options = list(run.options) + (['load_from=None'] if run.from_scratch else [])
        self.train(task, run.config, run.work_dir, 'dr2net' if run.has_hook else 'other', options,
                   ['--seed', str(run.seed)] if run.seed is not None else [], run.threads, run.console)
        train_minutes = (time.time() - start) / 60
        checkpoint = last_checkpoint(run.work_dir)
        if checkpoint is None:
            raise RuntimeError(f'{run.work_dir}: training finished without a checkpoint')
        loaded = pretrained_load(run.work_dir)
        if not run.from_scratch and (loaded is None or loaded[0] != loaded[1]):
            raise RuntimeError(f'{run.work_dir}: the finetuning did not start from all of {pretrained} '
                               f'(its log says {loaded}); see the "backbone parameters loaded" line')
        test_dir = run.work_dir / 'test'
        self.run([REPO / 'tools/test.py', run.config, checkpoint, '--work-dir', test_dir,
                  *(['--cfg-options', *run.options] if run.options else [])], run.threads, run.console)
        return dict(config=shown_path(run.config), work_dir=shown_path(run.work_dir),
                    train_minutes=round(train_minutes, 1),
                    metrics=latest_metrics(test_dir),
                    pretrained=None if loaded is None else f'{loaded[0]}/{loaded[1]} from {loaded[2]}')


@dataclass(frozen=True)
class FinetuneRun:
    """One finetuning run: a config (a repository file or one generated from it), where it goes, how."""

    config: Path
    work_dir: Path
    options: Tuple[str, ...] = ()   # --cfg-options, for training and testing alike
    has_hook: bool = False          # Dr²Net's coefficient hook (the quick demo shortens its span)
    from_scratch: bool = False      # the config without its pretrained checkpoint
    seed: Optional[int] = None
    threads: Optional[int] = None   # torch threads of its processes (default: as the caller's)
    console: Optional[Path] = None  # where its tools' output goes (default: the terminal)


def demo_run(root: Path, task: Task, method: str) -> FinetuneRun:
    """The demo's run of ``method`` ('finetune', 'with_cp', 'dr2net', 'dtl' or 'scratch')."""
    suffix = 'finetune' if method == 'scratch' else method.replace('_', '-')
    config = REPO / task.folder / f'{task.stem}-{suffix}.py'
    return FinetuneRun(config, root / 'work_dirs' / f'{task.stem}-{method}', has_hook=method == 'dr2net',
                       from_scratch=method == 'scratch')


def shown_path(path: Path) -> str:
    """A path relative to the repository where it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def pretrained_load(work_dir: Path):
    """(loaded, total, file) from the first start of a run's log, or None when it loaded nothing."""
    logs = sorted(work_dir.glob('2*/2*.log'))
    found = LOADED.findall(logs[0].read_text(errors='replace')) if logs else []
    return (int(found[0][0]), int(found[0][1]), found[0][2]) if found else None


def number(value) -> str:
    return 'missing' if value is None else f'{value:.4g}'


def latest_metrics(test_dir: Path) -> dict:
    """mmengine writes the test metrics as the last line of <timestamp>/<timestamp>.json."""
    runs = sorted(p for p in test_dir.glob('*/*.json') if p.parent.name == p.stem)
    if not runs:
        return {}
    return json.loads(runs[-1].read_text().strip().splitlines()[-1])


