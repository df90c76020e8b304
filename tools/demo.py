"""The demo: generate data, pretrain (once), finetune and evaluate each task, print a summary.

    python tools/demo.py [--tasks detection segmentation recognition classification tad]
                         [--methods finetune with_cp dr2net dtl scratch] [--quick]

Methods are config suffixes: ``finetune`` (conventional), ``with_cp`` (``-with-cp``; temporal action
detection only), ``dr2net``, ``dtl``; ``scratch`` trains the conventional finetuning config without
its pretrained checkpoint, to show what pretraining is worth. A task runs the methods it has configs
for. Temporal action detection (``tad``) starts from the recognition demo's pretraining checkpoint.
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
import sys

from dr2net_mm.demo.runs import METHODS, REPO, TASKS, Demo, demo_run, number


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
        for method in (m for m in methods if m in task.methods):
            result = dict(method=method, **demo.finetune_and_test(task, demo_run(root, task, method), pretrained))
            summary.append((name, task, result))
    print('\n| task | method | metrics | pretrained backbone | train min | logs |\n|---|---|---|---|---|---|')
    for name, task, result in summary:
        metrics = ', '.join(f'{k} {number(result["metrics"].get(k))}' for k in task.metrics)
        print(f'| {name} | {result["method"]} | {metrics} | {result["pretrained"] or "none (from scratch)"} '
              f'| {result["train_minutes"]} | {result["work_dir"]} |')
    out = root / 'work_dirs' / 'demo_summary.json'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([r for *_, r in summary], indent=2))
    print(f'\nsummary written to {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
