"""Shared fixtures: a small copy of the demo data and a working directory laid out like the repo."""
import os
from pathlib import Path

import pytest
import torch

import dr2net_mm  # noqa: F401  (compat fixes, registries)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / 'configs'


@pytest.fixture(scope='session')
def demo_workspace(tmp_path_factory) -> Path:
    """A folder with ``data/demo`` at a small scale; configs' relative data paths resolve inside it."""
    from dr2net_mm.demo import make_demo_data
    root = tmp_path_factory.mktemp('workspace')
    make_demo_data(root / 'data' / 'demo', scale=0.05)
    return root


@pytest.fixture
def in_workspace(demo_workspace, monkeypatch) -> Path:
    monkeypatch.chdir(demo_workspace)
    return demo_workspace


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def output_differences(reference, model, x, seed: int):
    """Max abs difference per output of two models on ``x``, both run from the same RNG state."""
    torch.manual_seed(seed)
    expected = as_list(reference(x))
    torch.manual_seed(seed)
    return [float((e - g).abs().max()) for e, g in zip(expected, as_list(model(x)), strict=True)]


def all_configs():
    return sorted(p for p in CONFIGS.rglob('*.py') if '_base_' not in p.parts)


def config_id(path: Path) -> str:
    return str(path.relative_to(CONFIGS))


os.environ.setdefault('OMP_NUM_THREADS', '2')
