"""One small JSON record per finished study run, kept in the repository (``docs/study/runs/``).

The study takes tens of hours on a CPU machine, so it is run in parts, in sessions and on machines
that do not share ``work_dirs``. What a run found (metrics, final loss, times) and where it came
from (commit, pretraining checkpoint, demo data version, machine) is therefore written beside the
report and committed; logs and weights stay in ``work_dirs``. A record counts as done while the
demo data it was trained on is the current version.
"""
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch


def record_path(root: Path, task: str, variant: str, seed: int) -> Path:
    return root / task / f'{variant}_seed{seed}.json'


def file_digest(path: Path) -> str:
    """First 16 hex digits of the file's sha256: tells one pretraining checkpoint from another."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()[:16]


# What the study writes into the repository itself: rewriting these is not a change of the code that ran.
STUDY_OUTPUTS = ('docs/study.md', 'docs/img/study_*.png', 'docs/study/')


def commit(repo: Path) -> str:
    """HEAD, with ``+changes`` when tracked files other than the study's own outputs differ from it
    (the run's code is then not a commit)."""
    def git(*args: str) -> str:
        return subprocess.run(['git', *args], cwd=repo, capture_output=True, text=True).stdout.strip()
    head = git('rev-parse', '--short=10', 'HEAD') or 'unknown'
    changed = git('status', '--porcelain', '--untracked-files=no', '--', '.',
                  *(f':(exclude,glob){p}**' if p.endswith('/') else f':(exclude,glob){p}' for p in STUDY_OUTPUTS))
    return head + ('+changes' if changed else '')


def provenance(repo: Path, pretrained: Path, data_version: int, threads: Optional[int] = None,
               runs_at_a_time: int = 1) -> Dict:
    """Where a run came from; ``threads``: its processes' torch threads (default: this process's)."""
    machine = (f'{os.cpu_count()} cores, {threads or torch.get_num_threads()} torch threads, '
               f'torch {torch.__version__}' + (f', {runs_at_a_time} runs at a time' if runs_at_a_time > 1 else ''))
    return dict(commit=commit(repo), date=time.strftime('%Y-%m-%d'), data_version=data_version,
                pretrained_sha256=file_digest(pretrained), machine=machine)


def write_record(path: Path, record: Dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + '\n')


def read_record(path: Path, data_version: int):
    """The record at ``path`` if it exists and was trained on this version of the demo data, else None."""
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    return record if record.get('data_version') == data_version else None


def task_records(root: Path, task: str, data_version: int) -> List[Dict]:
    found = (read_record(p, data_version) for p in sorted((root / task).glob('*_seed*.json')))
    return [r for r in found if r is not None]
