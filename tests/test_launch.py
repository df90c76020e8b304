"""Flags and errors of the shared train/test entry (no training here)."""
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from dr2net_mm.launch import config as launch_config
from dr2net_mm.launch.checkpoints import checkpoint_problem
from dr2net_mm.launch.codebases import CODEBASES, check_out_path, codebase_of
from dr2net_mm.launch.config import ConfigError
from dr2net_mm.launch.test import build_test_config
from dr2net_mm.launch.test import parse_args as parse_test_args
from dr2net_mm.launch.train import build_train_config, parse_args

from conftest import CONFIGS, REPO, logged_messages

DET = str(CONFIGS / 'detection/mask-rcnn_swin-nano_fpn_demo-shapes-finetune.py')
SEG = str(CONFIGS / 'segmentation/upernet_swin-nano_demo-shapes-finetune.py')
REC = str(CONFIGS / 'recognition/swin3d-nano_demo-motion-finetune.py')


def test_codebase_follows_default_scope():
    assert codebase_of(Config.fromfile(DET)).scope == 'mmdet'
    assert codebase_of(Config.fromfile(SEG)).scope == 'mmseg'
    assert codebase_of(Config.fromfile(REC)).scope == 'mmaction'
    with pytest.raises(ValueError, match='default_scope'):
        codebase_of(Config(dict(model=dict())))


def test_missing_config_suggests_close_names():
    with pytest.raises(ConfigError, match='does not exist.*Did you mean'):
        launch_config.load_config(DET.replace('finetune', 'finetun'))


def test_unknown_cfg_option_is_an_error_with_hint():
    with pytest.raises(ConfigError, match='no "max_epoch" under train_cfg.*max_epochs'):
        build_train_config(parse_args([DET, '--cfg-options', 'train_cfg.max_epoch=3']))
    cfg = build_train_config(parse_args([DET, '--cfg-options', 'train_cfg.max_epochs=3',
                                         'train_dataloader.dataset.pipeline.3.prob=0.0']))
    assert cfg.train_cfg.max_epochs == 3 and cfg.train_dataloader.dataset.pipeline[3].prob == 0.0


def test_train_flags(tmp_path):
    cfg = build_train_config(parse_args([SEG, '--work-dir', str(tmp_path), '--seed', '7', '--deterministic',
                                         '--resume']))
    assert cfg.randomness.seed == 7 and cfg.randomness.deterministic
    # --resume (auto) in a work dir without checkpoints: a fresh finetuning from the config's load_from.
    assert cfg.work_dir == str(tmp_path) and cfg.resume is False
    assert cfg.load_from == 'checkpoints/demo/upernet_swin-nano_demo-shapes-pretrain.pth'
    torch.save(dict(meta={}, state_dict={}), tmp_path / 'iter_4.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    cfg = build_train_config(parse_args([SEG, '--work-dir', str(tmp_path), '--resume', 'auto']))
    assert cfg.resume is True and cfg.load_from == str(tmp_path / 'iter_4.pth')
    cfg = build_train_config(parse_args([SEG]))
    assert cfg.work_dir.endswith('work_dirs/upernet_swin-nano_demo-shapes-finetune')
    with pytest.raises(ConfigError, match='no such checkpoint'):
        build_train_config(parse_args([SEG, '--resume', str(tmp_path / 'nope.pth')]))
    cfg = build_train_config(parse_args([REC, '--auto-scale-lr']))
    assert cfg.auto_scale_lr.enable
    with pytest.raises(ConfigError, match='auto_scale_lr'):
        build_train_config(parse_args([SEG, '--auto-scale-lr']))


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU-only message')
def test_amp_without_cuda_is_refused():
    with pytest.raises(ConfigError, match='--amp needs a CUDA device'):
        build_train_config(parse_args([DET, '--amp']))


def test_official_amp_config_falls_back_to_fp32_on_cpu():
    # The Video Swin demo overrides AMP itself; the official Kinetics config asks for it.
    cfg = build_train_config(parse_args([REC, '--cfg-options', 'optim_wrapper.type=AmpOptimWrapper']))
    assert cfg.optim_wrapper.type == ('AmpOptimWrapper' if torch.cuda.is_available() else 'OptimWrapper')


def test_test_flags(tmp_path):
    ckpt = tmp_path / 'm.pth'
    torch.save(dict(meta={}, state_dict={}), ckpt)
    cfg = build_test_config(parse_test_args([DET, str(ckpt), '--out', str(tmp_path / 'r.pkl'),
                                             '--show-dir', 'vis']))
    assert cfg.load_from == str(ckpt) and cfg.test_evaluator[-1]['type'] == 'DumpDetResults'
    assert cfg.default_hooks.visualization.draw
    cfg = build_test_config(parse_test_args([SEG, str(ckpt), '--out', str(tmp_path / 'preds')]))
    assert cfg.test_evaluator['output_dir'] == str(tmp_path / 'preds')
    cfg = build_test_config(parse_test_args([REC, str(ckpt), '--out', str(tmp_path / 'r.pkl'), '--show-dir', 'v']))
    assert cfg.test_evaluator[-1]['type'] == 'DumpResults' and cfg.default_hooks.visualization.enable
    with pytest.raises(ValueError, match='pickle'):
        check_out_path(CODEBASES['mmdet'], 'r.json')
    with pytest.raises(ConfigError, match='does not exist'):
        build_test_config(parse_test_args([DET, str(tmp_path / 'none.pth')]))


def test_tools_report_bad_input_clearly():
    result = subprocess.run([sys.executable, 'tools/train.py', 'configs/nope.py'], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode != 0 and "error: config file 'configs/nope.py' does not exist" in result.stderr
    result = subprocess.run([sys.executable, 'tools/train.py', DET, '--launcher', 'bogus'], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 2 and 'invalid choice' in result.stderr


def test_back_to_back_runs_never_share_a_log_folder(tmp_path):
    """mmengine names log folders by the second: a run right after another must not reopen its folder."""
    import time

    from dr2net_mm.launch.runner import build_runner
    cfg = build_train_config(parse_args([REC, '--work-dir', str(tmp_path), '--cfg-options', 'load_from=None']))
    build_runner(cfg.copy())  # the first build in a process pays for imports; the next one is quick
    time.sleep(1.02 - time.time() % 1.0)  # start of a second: without the wait, the runner would land in it
    taken = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    (tmp_path / taken).mkdir()
    runner = build_runner(cfg.copy())
    assert runner.timestamp != taken
    runner.logger.info('logged by the second run')
    assert 'logged by the second run' in (tmp_path / runner.timestamp / f'{runner.timestamp}.log').read_text()


def test_damaged_checkpoints_fall_back_or_fail_in_one_line(tmp_path):
    """A latest checkpoint truncated by a killed job: ``--resume auto`` takes the newest readable one and
    names both; a damaged explicit checkpoint (to resume, to load, to test) is a one-line error naming it."""
    for n in (2, 4):
        torch.save(dict(meta=dict(iter=n), state_dict=dict(w=torch.ones(1000))), tmp_path / f'iter_{n}.pth')
    latest = tmp_path / 'iter_6.pth'
    torch.save(dict(meta=dict(iter=6), state_dict=dict(w=torch.ones(1000))), latest)
    latest.write_bytes(latest.read_bytes()[:-300])                     # truncated while saving
    (tmp_path / 'last_checkpoint').write_text(str(latest))
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(bytes(range(256)) * 8)
    assert checkpoint_problem(tmp_path / 'iter_4.pth') is None
    assert checkpoint_problem(latest) and checkpoint_problem(garbage)

    with logged_messages() as messages:
        cfg = build_train_config(parse_args([SEG, '--work-dir', str(tmp_path), '--resume', 'auto']))
    assert cfg.resume is True and cfg.load_from == str(tmp_path / 'iter_4.pth')
    assert any(str(latest) in m and str(tmp_path / 'iter_4.pth') in m and 'damaged' in m for m in messages), messages

    explicit = [(['--resume', str(garbage)], '--resume'), (['--cfg-options', f'load_from={garbage}'], 'load_from')]
    for flags, what in explicit:
        with pytest.raises(ConfigError, match=f"{what} '{garbage}' is not a readable checkpoint") as error:
            build_train_config(parse_args([SEG, '--work-dir', str(tmp_path / 'other'), *flags]))
        assert '\n' not in str(error.value)
    with pytest.raises(ConfigError, match=f"checkpoint '{latest}' is not a readable checkpoint"):
        build_test_config(parse_test_args([SEG, str(latest)]))

    for n in (2, 4):
        (tmp_path / f'iter_{n}.pth').write_bytes(b'not a checkpoint')
    with pytest.raises(ConfigError, match='no other checkpoint .* is readable'):
        build_train_config(parse_args([SEG, '--work-dir', str(tmp_path), '--resume', 'auto']))
