"""The demo: generate data, pretrain (once), finetune and evaluate each task, print a summary.

    python tools/demo.py [--tasks detection segmentation recognition] [--methods finetune]

Pretraining checkpoints are published to checkpoints/demo/ (like model zoo files) and reused on
later runs; logs and checkpoints of every run are under work_dirs/<config name>/.
"""
import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from dr2net_mm.launch.checkpoints import last_checkpoint, publish_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TASKS = {
    'detection': ('configs/detection', 'mask-rcnn_swin-nano_fpn_demo-shapes', ('coco/bbox_mAP', 'coco/segm_mAP')),
    'segmentation': ('configs/segmentation', 'upernet_swin-nano_demo-shapes', ('mIoU', 'aAcc')),
    'recognition': ('configs/recognition', 'swin3d-nano_demo-motion', ('acc/top1', 'acc/mean1')),
}


def run(args: list) -> None:
    print('+', ' '.join(str(a) for a in args), flush=True)
    subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, check=True)


def discard_if_older(work_dir: Path, source: Path) -> None:
    """Like make: a run whose last checkpoint is older than what it was trained from starts over.

    Without this, ``--resume auto`` would pick up a finished run on data or weights that changed.
    """
    checkpoint = last_checkpoint(work_dir) if work_dir.exists() else None
    if checkpoint and Path(checkpoint).stat().st_mtime < source.stat().st_mtime:
        print(f'{work_dir.relative_to(ROOT)} is older than {source.relative_to(ROOT)}: starting it over')
        shutil.rmtree(work_dir)


def ensure_pretrained(folder: str, stem: str) -> Path:
    published = ROOT / 'checkpoints' / 'demo' / f'{stem}-pretrain.pth'
    data = ROOT / 'data' / 'demo' / 'manifest.json'
    if published.exists() and published.stat().st_mtime >= data.stat().st_mtime:
        print(f'using pretrained checkpoint {published.relative_to(ROOT)}')
        return published
    work_dir = ROOT / 'work_dirs' / f'{stem}-pretrain'
    discard_if_older(work_dir, data)
    run(['tools/train.py', f'{folder}/{stem}-pretrain.py', '--work-dir', work_dir, '--resume', 'auto'])
    checkpoint = last_checkpoint(work_dir)
    if checkpoint is None:
        raise RuntimeError(f'pretraining finished without a checkpoint in {work_dir}')
    return publish_checkpoint(checkpoint, published)


def finetune_and_test(folder: str, stem: str, method: str, pretrained: Path) -> dict:
    config = f'{folder}/{stem}-{method}.py'
    work_dir = ROOT / 'work_dirs' / f'{stem}-{method}'
    discard_if_older(work_dir, pretrained)
    start = time.time()
    run(['tools/train.py', config, '--work-dir', work_dir, '--resume', 'auto'])
    train_minutes = (time.time() - start) / 60
    checkpoint = last_checkpoint(work_dir)
    test_dir = work_dir / 'test'
    run(['tools/test.py', config, checkpoint, '--work-dir', test_dir])
    metrics = latest_metrics(test_dir)
    return dict(config=config, work_dir=str(work_dir.relative_to(ROOT)), train_minutes=round(train_minutes, 1),
                metrics=metrics)


def latest_metrics(test_dir: Path) -> dict:
    """mmengine writes the test metrics as the last line of <timestamp>/<timestamp>.json."""
    runs = sorted(p for p in test_dir.glob('*/*.json') if p.parent.name == p.stem)
    if not runs:
        return {}
    return json.loads(runs[-1].read_text().strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--tasks', nargs='+', choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument('--methods', nargs='+', default=['finetune', 'dr2net'],
                        help='config suffixes to finetune with: finetune (conventional), dr2net')
    args = parser.parse_args()

    run(['tools/data/make_demo_data.py'])
    summary = []
    for task in args.tasks:
        folder, stem, keys = TASKS[task]
        pretrained = ensure_pretrained(folder, stem)
        for method in args.methods:
            result = finetune_and_test(folder, stem, method, pretrained)
            shown = {k: result['metrics'].get(k) for k in keys}
            summary.append((task, method, shown, result))
    print('\n| task | method | metrics | train min | logs |\n|---|---|---|---|---|')
    for task, method, shown, result in summary:
        metrics = ', '.join(f'{k} {v}' for k, v in shown.items())
        print(f'| {task} | {method} | {metrics} | {result["train_minutes"]} | {result["work_dir"]} |')
    (ROOT / 'work_dirs' / 'demo_summary.json').write_text(json.dumps([r for *_, r in summary], indent=2))
    print('\nsummary written to work_dirs/demo_summary.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
