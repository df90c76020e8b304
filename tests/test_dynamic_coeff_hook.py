"""DynamicCoeffHook: schedules, start-up validation, logging, resume, and coefficients at test time."""
import itertools
import json
import math
import re
import shutil
import subprocess
import sys

import pytest
import torch

import dr2net_mm
from dr2net_mm.engine.hooks import CoeffSchedule, DynamicCoeffHook
from dr2net_mm.launch import train as train_tool
from dr2net_mm.launch.checkpoints import last_checkpoint
from dr2net_mm.launch.runner import build_runner
from dr2net_mm.launch.test import build_test_config
from dr2net_mm.launch.test import parse_args as parse_test_args

from conftest import CONFIGS, NO_WORKERS, REPO

SEG_DR2NET = str(CONFIGS / 'segmentation/upernet_swin-nano_demo-shapes-dr2net.py')
FAST = NO_WORKERS + [
    'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=3', 'custom_hooks.0.end=4',
    'train_cfg.val_interval=100', 'load_from=None']


@pytest.mark.parametrize('spec, points', [
    (0.5, [(0, 0.5), (1, 0.5)]),
    (dict(policy='constant', value=0.2), [(0.3, 0.2)]),
    (dict(policy='linear', start=1.0, end=0.0), [(0, 1.0), (0.25, 0.75), (1, 0.0), (2, 0.0)]),
    (dict(policy='cosine', start=0.0, end=1.0), [(0, 0.0), (0.5, 0.5), (1, 1.0)]),
    (dict(policy='exp', start=0.0, end=1.0, rate=5.0),
     [(0, 0.0), (1, 1.0), (0.2, (1 - math.exp(-1)) / (1 - math.exp(-5)))]),
])
def test_schedule_values(spec, points):
    schedule = CoeffSchedule(spec, 'beta')
    for t, value in points:
        assert schedule(t, 0) == pytest.approx(value)


def test_step_schedule_uses_milestones():
    schedule = CoeffSchedule(dict(policy='step', start=0.0, milestones=[10, 20], values=[0.5, 1.0]), 'beta')
    assert [schedule(0, e) for e in (0, 9, 10, 19, 20, 99)] == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]


def test_without_end_the_move_spans_the_first_60_percent_of_training():
    """The README's default schedule: half cosine from (1, 0) to (0, 1) over 60 % of finetuning."""
    hook = DynamicCoeffHook()
    assert hook.span_end(1000) == pytest.approx(600)
    assert hook.coefficients_at(300, hook.span_end(1000)) == pytest.approx((0.5, 0.5))
    assert hook.coefficients_at(600, hook.span_end(1000)) == pytest.approx((0.0, 1.0))
    assert hook.coefficients_at(900, hook.span_end(1000)) == pytest.approx((0.0, 1.0))
    assert DynamicCoeffHook(end=7).span_end(12) == 7
    with pytest.raises(ValueError, match='first 60% of the training .* ends before begin=8; set end'):
        DynamicCoeffHook(begin=8).span_end(12)


@pytest.mark.parametrize('kwargs, message', [
    (dict(alpha=dict(policy='wavy', start=1, end=0)), "unknown alpha schedule policy 'wavy'"),
    (dict(beta=dict(policy='linear', start=0)), r"missing \['end'\]"),
    (dict(beta=dict(policy='linear', start=0, end=1, gamma=2)), r"unknown \['gamma'\]"),
    (dict(begin=100, end=50), 'end \\(50\\) must be after begin \\(100\\)'),
    (dict(beta=dict(policy='linear', start=-1, end=1)), 'finite and >= 0'),
    (dict(beta=dict(policy='step', start=0, milestones=[5, 2], values=[1, 1])), 'increasing milestones'),
])
def test_invalid_settings_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DynamicCoeffHook(**kwargs)


def _run_dir_scalars(work_dir):
    runs = sorted(p for p in work_dir.iterdir() if p.is_dir() and p.name[:1].isdigit())
    files = [run / 'vis_data' / 'scalars.json' for run in runs]
    rows = [json.loads(line) for f in files if f.exists() for line in f.read_text().splitlines()]
    return {row['iter']: row for row in rows if 'dr2net_alpha' in row}


def _train_in_subprocess(workspace, *args):
    """One runner per process, as users run it (mmengine's visualizer is a per-process singleton)."""
    subprocess.run([sys.executable, str(REPO / 'tools/train.py'), SEG_DR2NET, *args], cwd=workspace, check=True,
                   capture_output=True)


def test_logs_resumes_exactly_and_tests_at_trained_coefficients(in_workspace):
    """The coefficients are logged; a run killed after its iteration-3 checkpoint and resumed ends with
    the uninterrupted run's weights, losses and coefficients (same seed; drop-path and augmentation draw
    the same numbers: RngStateHook); a test of that checkpoint runs at its coefficients."""
    straight = in_workspace / 'hook_straight'
    _train_in_subprocess(in_workspace, '--work-dir', str(straight), '--seed', '0', '--cfg-options', *FAST,
                         'train_cfg.max_iters=6')
    logged = _run_dir_scalars(straight)
    assert sorted(logged) == [1, 2, 3, 4, 5, 6]
    alphas = [logged[i]['dr2net_alpha'] for i in range(1, 7)]
    betas = [logged[i]['dr2net_beta'] for i in range(1, 7)]
    assert alphas[0] == 1.0 and betas[0] == 0.0 and alphas[-1] == 0.0 and betas[-1] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(alphas))
    assert {'dr2net_chunk_length', 'dr2net_recon_error'} <= set(logged[6])
    assert logged[1]['dr2net_chunk_length'] == 1 and logged[6]['dr2net_chunk_length'] == 4
    assert all(row['dr2net_recon_error'] < 1e-3 for row in logged.values())
    assert list(straight.glob('2*/vis_data/events.out.tfevents*'))   # TensorBoard too
    text_log = next(straight.glob('2*/2*.log')).read_text()
    shown = re.findall(r'dr2net_recon_error: (\S+)', text_log)
    assert len(shown) == 6 and all(re.fullmatch(r'\d\.\d+e[-+]\d+', v) for v in shown), shown

    interrupted = in_workspace / 'hook_interrupted'      # killed after saving iter_3.pth
    interrupted.mkdir()
    shutil.copy(straight / 'iter_3.pth', interrupted / 'iter_3.pth')
    (interrupted / 'last_checkpoint').write_text(str(interrupted / 'iter_3.pth'))
    _train_in_subprocess(in_workspace, '--work-dir', str(interrupted), '--resume', '--seed', '0', '--cfg-options',
                         *FAST, 'train_cfg.max_iters=6')
    resumed = _run_dir_scalars(interrupted)
    assert sorted(resumed) == [4, 5, 6]
    for i in (4, 5, 6):
        for key in ('dr2net_alpha', 'dr2net_beta', 'loss'):
            assert resumed[i][key] == pytest.approx(logged[i][key], rel=1e-6, abs=1e-9), (i, key)
    final = [torch.load(run / 'iter_6.pth', map_location='cpu', weights_only=False)['state_dict']
             for run in (straight, interrupted)]
    assert final[0].keys() == final[1].keys()
    for name, weight in final[0].items():
        assert torch.allclose(final[1][name].float(), weight.float(), rtol=0, atol=1e-6), name

    # The checkpoint taken at iteration 3 was trained at the coefficients of iteration 3, not the defaults.
    checkpoint = str(interrupted / 'iter_3.pth')
    cfg = build_test_config(parse_test_args([SEG_DR2NET, checkpoint, '--work-dir', str(in_workspace / 't'),
                                             '--cfg-options', *FAST]))
    tester = build_runner(cfg)
    tester.test()
    alpha3, beta3 = DynamicCoeffHook().coefficients_at(2, 4)   # set before the 3rd iteration
    assert dr2net_mm.get_coefficients(tester.model) == pytest.approx((alpha3, beta3))
    test_log = next((in_workspace / 't').glob('2*/2*.log')).read_text()
    assert f'Dr2Net: alpha={alpha3:.4g}, beta={beta3:.4g} restored from the checkpoint' in test_log
    assert f'Dr2Net: testing at alpha={alpha3:.4g}, beta={beta3:.4g}' in test_log
    assert last_checkpoint(interrupted).endswith('iter_6.pth')


def test_reversible_mode_with_beta_reaching_zero_fails_at_start(in_workspace):
    with pytest.raises(ValueError, match="reaches 0, which grad_mode='reversible' cannot invert"):
        train_tool.main([SEG_DR2NET, '--work-dir', str(in_workspace / 'bad'), '--cfg-options', *FAST,
                         'train_cfg.max_iters=2', 'model.backbone.grad_mode=reversible', 'model.backbone.beta=0.5'])


def test_end_beyond_the_training_length_warns_at_start(in_workspace):
    work_dir = in_workspace / 'short'
    train_tool.main([SEG_DR2NET, '--work-dir', str(work_dir), '--cfg-options', *FAST, 'train_cfg.max_iters=2'])
    log = next(work_dir.glob('2*/2*.log')).read_text()
    alpha, beta = DynamicCoeffHook().coefficients_at(2, 4)
    assert (f'end=4 iterations lies beyond the training length (2 iterations); alpha, beta will stop at '
            f'({alpha:.3g}, {beta:.3g}) instead of reaching (0, 1)') in log
