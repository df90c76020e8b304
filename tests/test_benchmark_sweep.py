"""Sweeps: depth changes the backbone and nothing else; reversible memory stays flat in depth; a PNG comes out."""
import json
import re
import subprocess
import sys

import pytest
from mmengine.config import Config

from dr2net_mm.benchmark.sweep import budget_table, curves, largest_fitting, sweep_points, with_depth, with_size

from conftest import CONFIGS, REPO

SWIN = CONFIGS / 'detection/mask-rcnn_swin-nano_fpn_demo-shapes-dr2net.py'


def test_depth_sets_blocks_per_stage_inside_the_wrapper():
    cfg = Config.fromfile(str(SWIN))
    deeper = with_depth(cfg, 4)
    assert deeper.model.backbone.backbone.depths == [4] * len(cfg.model.backbone.backbone.depths)
    assert cfg.model.backbone.backbone.depths != deeper.model.backbone.backbone.depths   # the original is kept
    vit = Config(dict(model=dict(backbone=dict(type='VisionTransformer', num_layers=12, out_indices=(2, 5, 8, 11)))))
    assert with_depth(vit, 24).model.backbone.out_indices == [5, 11, 17, 23]
    assert with_depth(vit, 4).model.backbone.out_indices == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="'depths'"):
        with_depth(Config(dict(model=dict(backbone=dict(type='ResNet', depth=50)))), 4)


def test_sizes_and_bad_sweeps():
    assert with_size((2, 3, 224, 224), 'resolution', 320) == (2, 3, 320, 320)
    assert with_size((1, 3, 16, 224, 224), 'frames', 8) == (1, 3, 8, 224, 224)
    with pytest.raises(ValueError, match='N C T H W'):
        with_size((2, 3, 224, 224), 'frames', 8)
    cfg = Config.fromfile(str(SWIN))
    with pytest.raises(ValueError, match='unknown sweep'):
        list(sweep_points(cfg, (1, 3, 64, 64), 'width', [1]))
    with pytest.raises(ValueError, match='needs --values'):
        list(sweep_points(cfg, (1, 3, 64, 64), 'depth', []))


def test_depth_sweep_reversible_memory_is_flat_and_plotted(tmp_path):
    out = tmp_path / 'sweep.json'
    done = subprocess.run(
        [sys.executable, str(REPO / 'tools/benchmark.py'), str(SWIN), '--backbone-only', '--input-shape', '1', '3',
         '64', '64', '--sweep', 'depth', '--values', '1', '2', '4', '--methods', 'autograd,with_cp,dr2net',
         '--iters', '0', '--warmup', '0', '--out', str(out)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'peak MiB against depth' in done.stdout
    assert '| method | fits in 8192 MiB: blocks per stage | × with_cp |' in done.stdout
    png = tmp_path / 'mask-rcnn_swin-nano_fpn_demo-shapes-dr2net_depth.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    lines = curves(json.loads(out.read_text())[0]['rows'])
    autograd, reversible = dict(lines['conventional (autograd)']), dict(lines['Dr²Net (α=0, β=1)'])
    assert autograd[4] > 2 * autograd[1]                       # stored activations grow with depth ...
    # ... reversible ones do not (from 2 blocks per stage on: a single block has no shifted window,
    # so its stage builds no shift mask)
    assert reversible[4] < 1.02 * reversible[2]
    assert reversible[4] < dict(lines['with_cp=True'])[4]


@pytest.mark.parametrize('args, message', [
    (['--methods', 'autograd,magic'], "--methods: unknown \\['magic'\\]"),
    (['--points', '1,0', '0.5'], "--points takes ALPHA,BETA pairs such as 0.5,0.5; got '0.5'"),
    (['--points', '0.5,-1'], '--points/--alpha/--beta 0.5,-1: beta must be a finite number >= 0'),
    (['--input-shape', '64', '64'],
     '--input-shape takes C H W \\(with --batch-size N\\) or N C H W for this mmdet config'),
    (['--input-shape', '2', '3', '64', '64', '--batch-size', '4'], 'has batch 2 but --batch-size is 4'),
])
def test_benchmark_command_line_errors_exit_non_zero(args, message):
    done = subprocess.run([sys.executable, str(REPO / 'tools/benchmark.py'), str(SWIN), '--backbone-only',
                           '--iters', '0', '--warmup', '0', *args], capture_output=True, text=True, cwd=REPO)
    assert done.returncode != 0 and 'Traceback' not in done.stderr
    assert re.search(message, done.stderr.strip().splitlines()[-1]), done.stderr[-500:]


def test_input_shape_per_sample_with_batch_size():
    from dr2net_mm.benchmark.shapes import resolve_input_shape
    det = Config.fromfile(str(SWIN))
    video = Config.fromfile(str(CONFIGS / 'recognition/swin3d-nano_demo-motion-dtl.py'))
    assert resolve_input_shape(det, [3, 96, 128], 5) == (5, 3, 96, 128)
    assert resolve_input_shape(det, [3, 96, 128], None) == (det.train_dataloader.batch_size, 3, 96, 128)
    assert resolve_input_shape(det, [2, 3, 96, 128], None) == (2, 3, 96, 128)
    assert resolve_input_shape(video, [3, 8, 64, 64], 2) == (2, 3, 8, 64, 64)
    with pytest.raises(ValueError, match='C T H W'):
        resolve_input_shape(video, [3, 64, 64], 2)
    # temporal action detection: a sample is its window (THUMOS-14) or the resampled video (ActivityNet)
    thumos = Config.fromfile(str(CONFIGS / 'tad/swin-t-p244-w877_conv-pyramid_1024x2-224_thumos14-rgb_dr2net.py'))
    anet = Config.fromfile(str(CONFIGS / 'tad/swin-t-p244-w877_conv-pyramid_768-224_activitynet13-rgb_dr2net.py'))
    assert resolve_input_shape(thumos, None, None) == (2, 3, 1024, 224, 224)
    assert resolve_input_shape(anet, None, 1) == (1, 3, 768, 224, 224)


def test_largest_fitting_value_from_a_fit_of_the_sweep():
    linear = [(8, 100.0 + 10 * 8), (16, 100.0 + 10 * 16), (32, 100.0 + 10 * 32)]
    assert largest_fitting(linear, 'frames', 1000.0) == (90, True)            # 100 + 10 * 90 = 1000
    assert largest_fitting(linear, 'frames', 300.0) == (20, False)            # inside the measured range
    assert largest_fitting(linear[:2], 'frames', 1000.0) == (90, True)        # two points: a line
    # Resolution: memory grows with pixels; a kept token x token matrix makes it quadratic in them.
    quadratic = [(side, 50 + 1e-3 * side ** 2 + 1e-8 * side ** 4) for side in (128, 256, 512)]
    side, extrapolated = largest_fitting(quadratic, 'resolution', 2000.0)
    assert extrapolated and 50 + 1e-3 * side ** 2 + 1e-8 * side ** 4 <= 2000 < 50 + 1e-3 * (side + 1) ** 2 + \
        1e-8 * (side + 1) ** 4
    assert largest_fitting(linear[:1], 'frames', 1000.0) is None             # one point: no fit
    assert largest_fitting([(8, 50.0), (16, 50.0)], 'frames', 10.0) is None    # flat and above the budget


def test_budget_table_names_each_method_and_its_ratio_to_checkpointing():
    rows = [dict(method=m, alpha=a, beta=b, status='ok', sweep_value=v, peak_mib=base + slope * v)
            for m, a, b, base, slope in (('with_cp', None, None, 10, 20), ('dr2net', 0.0, 1.0, 10, 5))
            for v in (4, 8)]
    table = budget_table(rows, 'frames', 410.0)
    assert '| with_cp=True | 20 (extrapolated) | 1.00 |' in table
    assert '| Dr²Net (α=0, β=1) | 80 (extrapolated) | 4.00 |' in table
