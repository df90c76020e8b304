"""The seeded study: each demo task, each method, several seeds; tables with spreads in docs/study.md.

    python tools/study.py [--tasks detection segmentation recognition classification] [--methods ...] [--seeds 0 1 2]
                          [--policy-task recognition] [--jobs 2] [--quick] [--plan | --report-only]

For each task of the demo, each method (``dr2net_mm/study/variants.py``) and each seed it finetunes
from the demo's pretraining checkpoint (``tools/demo.py`` makes it once), tests, and records the
metrics, the final training loss and the training time; the peak training memory and the time per
step of each method come from one ``tools/benchmark.py`` measurement per task (whole model, live
tensors, one process, so the methods' times compare). Each finished
run leaves a small record in ``docs/study/runs/<task>/`` (commit it: the study is run in parts, in
sessions that do not share ``work_dirs``); a run with a record on the current demo data is skipped,
and the report covers every record. The update policies run on ``--policy-task`` only. ``--jobs N``
runs N at a time, the cores shared among them (each run's output then goes to ``study_console.log``
in its work dir).

``--quick``: the same path on the quick demo's tiny data (``work_dirs/demo-quick``), recognition,
two seeds, four methods, records and report in ``work_dirs/demo-quick/work_dirs/``: a smoke test (CI).
"""
import argparse
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from dr2net_mm.benchmark.compare import read_run
from dr2net_mm.demo.make import DATA_VERSIONS
from dr2net_mm.demo.runs import REPO, TASKS, Demo, FinetuneRun, Task, shown_path
from dr2net_mm.launch.checkpoints import last_checkpoint
from dr2net_mm.study.cost import task_cost
from dr2net_mm.study.records import provenance, read_record, record_path, task_records, write_record
from dr2net_mm.study.report import claims, overview, plot_task, summarise, task_table
from dr2net_mm.study.variants import TASK_NAMES, VARIANTS, Variant, variant_config, variants_for

STUDY_TASKS = {name: TASKS[name] for name in TASK_NAMES}
QUICK = dict(tasks=['recognition'], seeds=[0, 1], methods=['finetune', 'dr2net-fixed', 'dr2net-step', 'dtl+'])


def final_loss(work_dir: Path) -> float:
    """Mean training loss over the last tenth of the logged iterations (at least one)."""
    losses = []
    for path in sorted(work_dir.glob('2*/vis_data/scalars.json')):
        losses += [json.loads(line)['loss'] for line in path.read_text().splitlines() if '"loss"' in line]
    tail = losses[-max(1, len(losses) // 10):]
    return sum(tail) / len(tail) if tail else float('nan')


class Study:
    def __init__(self, root: Path, quick: bool):
        self.root, self.demo = root, Demo(root, quick)
        self.dir = root / 'work_dirs' / 'study'
        self.records = self.dir / 'records' if quick else REPO / 'docs' / 'study' / 'runs'
        # Runs side by side (--jobs) overlap only in their tools' processes: what a run does in this
        # process (parsing configs, reading its log, writing its record) holds this lock, because
        # mmengine's Config.fromfile is not thread-safe (resolving 'mmaction::' bases raced in CI).
        self.in_process = threading.Lock()

    def config(self, task: Task, variant: Variant) -> Path:
        base = REPO / task.folder / f'{task.stem}-{variant.config}.py'
        return variant_config(variant, base, self.dir / 'configs')

    def cost(self, name: str) -> Dict[str, Dict]:
        task = STUDY_TASKS[name]
        return task_cost(self.dir / name / 'cost.json', REPO / task.folder / f'{task.stem}-dr2net.py',
                           REPO / task.folder / f'{task.stem}-dtl.py')

    def run(self, name: str, variant: Variant, seed: int, pretrained: Path, jobs: int = 1) -> Dict:
        """One run, or its record if it has one. With ``jobs`` > 1 it shares the cores with the others
        running and writes its tools' output to ``study_console.log`` in its work dir."""
        task = STUDY_TASKS[name]
        work_dir = self.work_dir(name, variant, seed)
        path = record_path(self.records, name, variant.name, seed)
        done = self.record(name, variant, seed)
        if done is not None:
            print(f'done before: {shown_path(path)} ({done["commit"]}, {done["date"]})')
            return done
        threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
        console = work_dir / 'study_console.log' if jobs > 1 else None
        if console is not None:
            print(f'running: {name} {variant.name} seed {seed} ({threads} threads; output in {shown_path(console)})',
                  flush=True)
        with self.in_process:
            config = self.config(task, variant)
        run = FinetuneRun(config, work_dir, has_hook=variant.has_hook, from_scratch=variant.from_scratch,
                          seed=seed, threads=threads, console=console)
        result = self.demo.finetune_and_test(task, run, pretrained)
        with self.in_process:
            summary = read_run(work_dir)
            result.update(task=name, variant=variant.name, seed=seed, final_loss=final_loss(work_dir),
                          seconds_per_iter=summary.seconds_per_iter,
                          **provenance(REPO, pretrained, DATA_VERSIONS[task.dataset], threads, jobs))
            write_record(path, result)
        print(f'recorded: {shown_path(path)}', flush=True)
        return result

    def work_dir(self, name: str, variant: Variant, seed: int) -> Path:
        return self.dir / name / variant.name / f'seed{seed}'

    def record(self, name: str, variant: Variant, seed: int) -> Optional[Dict]:
        """The run's record if it has one on the current demo data."""
        return read_record(record_path(self.records, name, variant.name, seed),
                           DATA_VERSIONS[STUDY_TASKS[name].dataset])

    def status(self, name: str, variant: Variant, seed: int) -> Tuple[bool, str]:
        """Whether the run has a record, and a line that says so (or where it would resume)."""
        label = f'{name} {variant.name} seed {seed}'
        done = self.record(name, variant, seed)
        if done is not None:
            return True, f'done    {label} ({done["commit"]}, {done["date"]})'
        work_dir = self.work_dir(name, variant, seed)
        checkpoint = last_checkpoint(work_dir) if work_dir.exists() else None
        return False, f'to run  {label}' + (f' (its last checkpoint: {shown_path(Path(checkpoint))})'
                                            if checkpoint else '')

    def run_all(self, runs: List[Tuple[str, Variant, int, Path]], jobs: int) -> None:
        """The runs in order, ``jobs`` at a time; after a failure no new run starts."""
        if jobs == 1:
            for run in runs:
                self.run(*run)
            return
        with ThreadPoolExecutor(jobs) as pool:
            futures = [pool.submit(self.run, *run, jobs=jobs) for run in runs]
            try:
                for future in as_completed(futures):
                    future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def results(self, name: str) -> List[Dict]:
        return task_records(self.records, name, DATA_VERSIONS[STUDY_TASKS[name].dataset])

    def reproduce(self) -> str:
        """The command that makes exactly the runs found on disk."""
        found = [r for name in STUDY_TASKS for r in self.results(name)]
        tasks = [t for t in STUDY_TASKS if any(r['task'] == t for r in found)]
        methods = [v for v in VARIANTS if any(r['variant'] == v for r in found)]
        seeds = sorted({r['seed'] for r in found})
        return ('python tools/study.py' + (' --quick' if self.demo.quick else '') + f' --tasks {" ".join(tasks)}'
                f' --methods {" ".join(methods)} --seeds {" ".join(map(str, seeds))}')

    def report(self, command: str, out: Path, img_dir: Path) -> None:
        lines = ['# The seeded study', '',
                 'Written by `tools/study.py` from the record of every finished run in '
                 f'`{shown_path(self.records)}` (metrics, losses, times, and the commit, pretraining '
                 'checkpoint and machine of each run); each cell is mean ± sample standard deviation over '
                 'seeds (the *seeds* column). Peak memory: one training step of the whole model on the '
                 "config's batch shape (`tools/benchmark.py`'s measurement, fp32, live tensors); *s/step*: "
                 'the median of ten such steps, timed in the same process one method after another, so '
                 'the methods compare; for a moving Dr²Net schedule the largest of each along its path. '
                 '*s/iter in the runs*: the fastest seed\'s median iteration time in its training log, data '
                 'loading included; the runs shared their machine with other work at times, which only '
                 'slows a run down, so compare methods by s/step (each task says how busy the machine was '
                 'when they were timed). A difference is *within the spread* when '
                 "it is under two standard errors (Welch) or under either method's seed-to-seed standard "
                 'deviation.', '',
                 f'Reproduce the runs below: `{self.reproduce()}` (resumable; `make study` runs them all). '
                 f'This report: `{command}`.', '']
        sections, answered = [], {}
        for name, task in STUDY_TASKS.items():
            results = self.results(name)
            sections += ['', f'## {name}', '']
            if not results:
                sections.append('Not run yet.')
                continue
            cost = self.cost(name)
            summary = summarise(results, task.metrics)
            metric = task.metrics[0]
            answered[name] = (summary, metric, cost)
            sections += [f'Configs: `{task.folder}/{task.stem}-*.py`; batch shape of the memory and time figures: '
                         f'{tuple(cost.get("input_shape", ()))}{timed_at(cost)}. {provenance_line(results)}', '',
                         task_table(summary, task.metrics, cost), '']
            image = img_dir / f'study_{name}.png'
            plot_task(summary, metric, cost['peak_mib'], f'{name}: {metric} against peak memory', image)
            sections += [f'![{name}]({_relative(image, out.parent)})', '']
            sections += [p + '\n' for p in claims(summary, metric, cost)]
        if answered:
            lines += ['## At a glance', '',
                      'Each difference: of the means, with how many standard errors it is and the seeds of '
                      'each side; *within*, *above*, *below*: the spread, as defined above. The memory and '
                      "time ratios are each task's benchmark figures (its section) against `with_cp`'s.", '',
                      overview(answered), '']
        lines += ['## Methods', '']
        lines += [f'- `{v.name}`: {v.describe}.' for v in VARIANTS.values()]
        lines += sections
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text('\n'.join(lines).rstrip() + '\n')
        print(f'report written to {out}')


def timed_at(cost: Dict) -> str:
    """How busy the machine was when the time figures were taken (other work slows them)."""
    if cost.get('other_work') is None:
        return ''
    return f'; while they were timed other processes took {cost["other_work"]:.0%} of the CPU'


def provenance_line(results: List[Dict]) -> str:
    """Where a task's runs came from: commits, pretraining checkpoints, machines, dates."""
    def listed(key: str) -> str:
        values = sorted({str(r.get(key, 'unrecorded')) for r in results})
        return ', '.join(f'`{v}`' for v in values)
    return (f'{len(results)} runs; commits {listed("commit")}; pretraining checkpoint sha256 '
            f'{listed("pretrained_sha256")}; {listed("machine")}; {listed("date")}.')


def _relative(path: Path, start: Path) -> str:
    import os
    return os.path.relpath(path, start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--tasks', nargs='+', choices=sorted(STUDY_TASKS), default=None)
    parser.add_argument('--methods', nargs='+', choices=list(VARIANTS), default=None)
    parser.add_argument('--seeds', nargs='+', type=int, default=None, help='default: 0 1 2 (--quick: 0 1)')
    parser.add_argument('--policy-task', choices=sorted(STUDY_TASKS), default='recognition',
                        help='the task on which the update policies run (default: the cheapest, recognition)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs at a time, the cores shared among them (on 2 cores, 2 one-thread runs '
                             'did 1.35 x the work of one two-thread run)')
    parser.add_argument('--quick', action='store_true', help='a smoke test on the quick demo data')
    parser.add_argument('--report-only', action='store_true', help='write the report from the runs on disk')
    parser.add_argument('--plan', action='store_true',
                        help='list the runs the other arguments name, done or to run, and do nothing else')
    args = parser.parse_args(argv)
    quick = QUICK if args.quick else dict(tasks=list(STUDY_TASKS), seeds=[0, 1, 2], methods=None)
    tasks, seeds, methods = args.tasks or quick['tasks'], args.seeds or quick['seeds'], args.methods or quick['methods']
    if len(set(seeds)) != len(seeds):
        parser.error(f'--seeds repeats a seed: {seeds}')
    if args.jobs < 1:
        parser.error(f'--jobs must be 1 or more, got {args.jobs}')
    root = REPO / 'work_dirs' / 'demo-quick' if args.quick else REPO
    root.mkdir(parents=True, exist_ok=True)
    study = Study(root, args.quick)
    if args.plan:
        found = [study.status(name, variant, seed) for name in tasks
                 for variant in variants_for(name, args.policy_task, methods) for seed in seeds]
        print('\n'.join(line for _, line in found))
        done = sum(d for d, _ in found)
        print(f'{done} of {len(found)} runs done, {len(found) - done} to run')
        return 0
    if not args.report_only:
        study.demo.make_data()
        runs = []
        for name in tasks:
            pretrained = study.demo.ensure_pretrained(STUDY_TASKS[name])
            study.cost(name)
            runs += [(name, variant, seed, pretrained) for variant in variants_for(name, args.policy_task, methods)
                     for seed in seeds]
        study.run_all(runs, args.jobs)
    command = 'python tools/study.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
    out = root / 'work_dirs' / 'study.md' if args.quick else REPO / 'docs' / 'study.md'
    img_dir = out.parent / 'img' if args.quick else REPO / 'docs' / 'img'
    study.report(command.strip(), out, img_dir)
    return 0


if __name__ == '__main__':
    sys.exit(main())
