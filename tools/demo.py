"""The demo: generate data, pretrain (once), finetune and evaluate each task, print a summary.

    python tools/demo.py [--tasks detection segmentation recognition]
                         [--methods finetune dr2net dtl scratch] [--quick]

Methods are config suffixes: ``finetune`` (conventional), ``dr2net``, ``dtl``; ``scratch`` trains the
conventional finetuning config without its pretrained checkpoint, to show what pretraining is worth.
Pretraining checkpoints are published to checkpoints/demo/ (like model zoo files) and reused on
later runs; logs and checkpoints of every run are under work_dirs/<config name>/.

``--quick`` runs the same path (data, pretraining, publishing, every finetuning method, testing, the
summary) on a few samples and a few iterations, inside work_dirs/demo-quick/, in a few minutes: the
configs' relative paths (data/demo, checkpoints/demo, work_dirs) resolve there, so the full demo's
data and checkpoints are never touched. Its metrics mean nothing; that the path works does.

Every finetuning run must log ``N of N backbone parameters loaded from checkpoints/demo/...``: the
demo fails otherwise.
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from dr2net_mm.launch.checkpoints import last_checkpoint, publish_checkpoint

REPO = Path(__file__).resolve().parents[1]
QUICK_SCALE = 0.05
LOADED = re.compile(r'(\d+) of (\d+) backbone parameters loaded from (\S+)')


@dataclass(frozen=True)
class Task:
    folder: str
    stem: str
    metrics: Tuple[str, ...]
    by_epoch: bool            # the configs' training loop: epochs (True) or iterations

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
                      True),
    'segmentation': Task('configs/segmentation', 'upernet_swin-nano_demo-shapes', ('mIoU', 'aAcc'), False),
    'recognition': Task('configs/recognition', 'swin3d-nano_demo-motion', ('acc/top1', 'acc/mean1'), True),
}
METHODS = ('finetune', 'dr2net', 'dtl', 'scratch')


class Demo:
    """Runs the tools in ``root`` (the repository, or the quick demo's workspace)."""

    def __init__(self, root: Path, quick: bool):
        self.root, self.quick = root, quick

    def run(self, args: list) -> None:
        print('+', ' '.join(str(a) for a in args), flush=True)
        subprocess.run([sys.executable, *map(str, args)], cwd=self.root, check=True)

    def train(self, task: Task, config: Path, work_dir: Path, method: str, options: List[str]) -> None:
        options = options + (task.quick_options(method) if self.quick else [])
        self.run([REPO / 'tools/train.py', config, '--work-dir', work_dir, '--resume', 'auto',
                  *(['--cfg-options', *options] if options else [])])

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
        published = self.root / 'checkpoints' / 'demo' / f'{task.stem}-pretrain.pth'
        data = self.root / 'data' / 'demo' / 'manifest.json'
        if published.exists() and published.stat().st_mtime >= data.stat().st_mtime:
            print(f'using pretrained checkpoint {published}')
            return published
        work_dir = self.root / 'work_dirs' / f'{task.stem}-pretrain'
        self.discard_if_older(work_dir, data)
        self.train(task, REPO / task.folder / f'{task.stem}-pretrain.py', work_dir, 'pretrain', [])
        checkpoint = last_checkpoint(work_dir)
        if checkpoint is None:
            raise RuntimeError(f'pretraining finished without a checkpoint in {work_dir}')
        return publish_checkpoint(checkpoint, published)

    def finetune_and_test(self, task: Task, method: str, pretrained: Path) -> dict:
        config = REPO / task.folder / f'{task.stem}-{"finetune" if method == "scratch" else method}.py'
        work_dir = self.root / 'work_dirs' / f'{task.stem}-{method}'
        self.discard_if_older(work_dir, pretrained)
        start = time.time()
        self.train(task, config, work_dir, method, ['load_from=None'] if method == 'scratch' else [])
        train_minutes = (time.time() - start) / 60
        checkpoint = last_checkpoint(work_dir)
        if checkpoint is None:
            raise RuntimeError(f'{work_dir}: training finished without a checkpoint')
        loaded = pretrained_load(work_dir)
        if method != 'scratch' and (loaded is None or loaded[0] != loaded[1]):
            raise RuntimeError(f'{work_dir}: the finetuning did not start from all of {pretrained} '
                               f'(its log says {loaded}); see the "backbone parameters loaded" line')
        test_dir = work_dir / 'test'
        self.run([REPO / 'tools/test.py', config, checkpoint, '--work-dir', test_dir])
        return dict(config=str(config.relative_to(REPO)), work_dir=str(work_dir.relative_to(REPO)), method=method,
                    train_minutes=round(train_minutes, 1), metrics=latest_metrics(test_dir),
                    pretrained=None if loaded is None else f'{loaded[0]}/{loaded[1]} from {loaded[2]}')


def pretrained_load(work_dir: Path):
    """(loaded, total, file) from the first start of a run's log, or None when it loaded nothing."""
    logs = sorted(work_dir.glob('2*/2*.log'))
    found = LOADED.findall(logs[0].read_text(errors='replace')) if logs else []
    return (int(found[0][0]), int(found[0][1]), found[0][2]) if found else None


def _number(value) -> str:
    return 'missing' if value is None else f'{value:.4g}'


def latest_metrics(test_dir: Path) -> dict:
    """mmengine writes the test metrics as the last line of <timestamp>/<timestamp>.json."""
    runs = sorted(p for p in test_dir.glob('*/*.json') if p.parent.name == p.stem)
    if not runs:
        return {}
    return json.loads(runs[-1].read_text().strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--tasks', nargs='+', choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument('--methods', nargs='+', choices=METHODS, default=None,
                        help='finetuning methods (default: all; --quick: all but scratch)')
    parser.add_argument('--quick', action='store_true', help='the whole path on tiny data, in work_dirs/demo-quick')
    args = parser.parse_args()
    methods = args.methods or [m for m in METHODS if not (args.quick and m == 'scratch')]
    root = REPO / 'work_dirs' / 'demo-quick' if args.quick else REPO
    root.mkdir(parents=True, exist_ok=True)
    demo = Demo(root, args.quick)

    demo.make_data()
    summary = []
    for name in args.tasks:
        task = TASKS[name]
        pretrained = demo.ensure_pretrained(task)
        for method in methods:
            result = demo.finetune_and_test(task, method, pretrained)
            summary.append((name, task, result))
    print('\n| task | method | metrics | pretrained backbone | train min | logs |\n|---|---|---|---|---|---|')
    for name, task, result in summary:
        metrics = ', '.join(f'{k} {_number(result["metrics"].get(k))}' for k in task.metrics)
        print(f'| {name} | {result["method"]} | {metrics} | {result["pretrained"] or "none (from scratch)"} '
              f'| {result["train_minutes"]} | {result["work_dir"]} |')
    out = root / 'work_dirs' / 'demo_summary.json'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([r for *_, r in summary], indent=2))
    print(f'\nsummary written to {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
