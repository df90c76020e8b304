"""Every shipped real-dataset config (COCO, ADE20K, Kinetics-400, Something-Something V2, THUMOS-14,
ActivityNet-1.3, VTAB-1k) trains on a fresh install.

Each config runs unchanged through ``tools/train.py`` for two iterations (and its validation, where
the schedule validates after them) on a few samples written in the dataset's real format, with its
pretrained checkpoint found where its own loader looks; only batch size, workers and the run length
are overridden (and, for temporal action detection, the window length). A config that needs a
package the install lacks (a video reader, torchvision) or a checkpoint layout that does not fit
fails here.
"""
import re

import numpy as np
import pytest

from dr2net_mm.launch import train as train_tool

from conftest import CONFIGS, NO_WORKERS, config_id
from real_formats import (
    write_activitynet_sample,
    write_ade_sample,
    write_coco_sample,
    write_kinetics_sample,
    write_pretrained,
    write_sthv2_sample,
    write_thumos_sample,
    write_vtab_sample,
)

REAL_CONFIGS = sorted(p for p in CONFIGS.rglob('*.py') if '_base_' not in p.parts and 'demo' not in p.name)
BATCH_OF_ONE = [f'{loader}.batch_size=1' for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
# Per task: batch size (UperNet's pooling BatchNorm needs two images, as its configs have) and run length.
OPTIONS = {'detection': BATCH_OF_ONE + ['train_cfg.max_epochs=1'],
           'segmentation': ['train_cfg.max_iters=2', 'train_cfg.val_interval=2'],
           'recognition': BATCH_OF_ONE + ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1'],
           'tad': BATCH_OF_ONE + ['train_cfg.max_epochs=1'],
           'classification': BATCH_OF_ONE + ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1']}
# 16-frame windows: 1,024 (THUMOS-14) or 768 (ActivityNet-1.3) frames of Video Swin-T do not train on a CPU
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
SHORT_WINDOWS = {'thumos14': [f'{loader}.dataset.window_length=16' for loader in LOADERS],
                 'activitynet13': [f'{loader}.dataset.resize_length=16' for loader in LOADERS]}


def _options(config) -> list:
    short = [o for dataset, options in SHORT_WINDOWS.items() if dataset in config.stem for o in options]
    return OPTIONS[config.parent.name] + short
LOADED = re.compile(r'(\d+) of (\d+) backbone parameters loaded from (\S+)')


@pytest.fixture(scope='module')
def real_workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp('real')
    rng = np.random.RandomState(0)
    write_coco_sample(root / 'data', rng)
    write_ade_sample(root / 'data', rng)
    write_kinetics_sample(root / 'data', rng)
    write_sthv2_sample(root / 'data', rng)
    write_vtab_sample(root / 'data', rng)
    write_thumos_sample(root / 'data', rng)
    write_activitynet_sample(root / 'data', rng)
    return root


def test_every_real_config_is_covered():
    assert {p.parent.name for p in REAL_CONFIGS} == set(OPTIONS) and len(REAL_CONFIGS) >= 10


# ViT-B-sized backbones at 512²-640² (2.5-3.5 min for two iterations and a validation on 2 cores) and
# ConvNeXt-T (about 2 min): the default suite trains one config each of the BEiT/MAE and ConvNeXt
# adapters; the others run with ``make test-all``.
SLOW_CONFIGS = ('beit-base_upernet_8xb2-160k_ade20k-640x640_dr2net', 'beit-base_upernet_8xb2-160k_ade20k-640x640_dtl',
                'mae-base_upernet_8xb2-amp-160k_ade20k-512x512_dtl',
                'convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512_dtl',
                'mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco_dr2net',
                'mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco_dtl')


def _marked(config):
    """A temporal action detection config is a Video Swin-T at 224² for two iterations (about 1.5 min
    on 2 cores): the default suite trains the Dr²Net one per dataset; the variants of the same base
    (with_cp, fixed rewiring, DTL) run with ``make test-all``; so do ``SLOW_CONFIGS``."""
    slow = (config.parent.name == 'tad' and not config.stem.endswith('_dr2net')) or config.stem in SLOW_CONFIGS
    return pytest.param(config, marks=pytest.mark.slow) if slow else config


@pytest.mark.parametrize('config', [_marked(c) for c in REAL_CONFIGS], ids=config_id)
def test_real_config_trains_two_iterations(real_workspace, config, monkeypatch):
    monkeypatch.chdir(real_workspace)
    monkeypatch.setenv('TORCH_HOME', str(real_workspace / 'torch_home'))
    source = write_pretrained(config, real_workspace, real_workspace / 'torch_home')
    work_dir = real_workspace / 'work_dirs' / config.stem
    runner = train_tool.main([str(config), '--work-dir', str(work_dir),
                              '--cfg-options', *NO_WORKERS, *_options(config)])
    assert runner.iter == 2
    log = next(work_dir.glob('2*/2*.log')).read_text()
    loaded = LOADED.findall(log)
    assert loaded, 'the run did not report its pretrained weights'
    count, total, where = loaded[0]
    assert where == source and int(count) >= 0.9 * int(total), loaded[0]
