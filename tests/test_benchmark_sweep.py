"""Sweeps: depth changes the backbone and nothing else; reversible memory stays flat in depth; a PNG comes out."""
import json
import re
import subprocess
import sys

import pytest
from mmengine.config import Config

from dr2net_mm.benchmark.sweep import curves, sweep_points, with_depth, with_size

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
