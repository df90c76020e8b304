"""Temporal action detection through tools/train.py and tools/test.py on a tiny untrimmed video set."""
import json

import cv2
import numpy as np

from dr2net_mm.launch import test as test_tool
from dr2net_mm.launch import train as train_tool
from dr2net_mm.launch.checkpoints import last_checkpoint

CONFIG = '''
default_scope = 'mmaction'
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=2), logger=dict(type='LoggerHook', interval=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
model = dict(type='dr2net_mm.TemporalActionDetector', num_classes=2, in_channels=128, channels=16, levels=3,
             backbone=dict(type='SwinTransformer3D', arch=dict(embed_dims=16, depths=[1, 1, 1, 1],
                           num_heads=[1, 1, 2, 2]), window_size=(2, 4, 4), pretrained=None, pretrained2d=False),
             data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                                    std=[58.395, 57.12, 57.375], format_shape='NCTHW'))
common = dict(type='dr2net_mm.UntrimmedVideoDataset', ann_file='anno.json', window_length=16, frame_interval=2,
              data_prefix=dict(video='frames'))
pipeline = [dict(type='dr2net_mm.TADWindow'), dict(type='RawFrameDecode'),
            dict(type='Resize', scale=(32, 32), keep_ratio=False), dict(type='FormatShape', input_format='NCTHW'),
            dict(type='dr2net_mm.PackTADInputs')]
train_dataloader = dict(batch_size=2, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(common, subset='training', pipeline=pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(common, subset='validation', pipeline=pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='dr2net_mm.TemporalActionMAP', tious=[0.3, 0.5])
test_evaluator = val_evaluator
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3))
'''


def _untrimmed_set(root):
    """Three 60-frame videos of raw frames (two for training, one for validation), two classes."""
    database = {}
    for v, subset in enumerate(('training', 'training', 'validation')):
        folder = root / 'frames' / f'video_{v}'
        folder.mkdir(parents=True)
        for i in range(60):
            cv2.imwrite(str(folder / f'img_{i + 1:05}.jpg'), np.full((24, 24, 3), (i * 3 + 40 * v) % 255, np.uint8))
        database[f'video_{v}'] = dict(subset=subset, duration=2.4, frame=60, annotations=[
            dict(label='A', segment=[0.2, 0.8]), dict(label='B', segment=[1.2, 2.0])])
    (root / 'anno.json').write_text(json.dumps(dict(database=database)))
    (root / 'tad.py').write_text(CONFIG)


def test_a_detector_trains_tests_and_reports_the_map(tmp_path, monkeypatch):
    _untrimmed_set(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = train_tool.main(['tad.py', '--work-dir', 'work'])
    assert runner.iter == 2
    metrics = test_tool.main(['tad.py', last_checkpoint(tmp_path / 'work'), '--work-dir', 'work/test'])
    assert set(metrics) == {'tad/mAP@0.30', 'tad/mAP@0.50', 'tad/average_mAP'}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
