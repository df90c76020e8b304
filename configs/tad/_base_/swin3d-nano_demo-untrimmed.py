# Temporal action detection on the demo's untrimmed videos: the recognition demo's Video Swin-nano
# sees a whole window of 64 frames (every 2nd of 128) at 64x64; its features, averaged over space,
# feed a convolutional pyramid (4 levels: 32, 16, 8, 4 positions) and an anchor-free point head.
default_scope = 'mmaction'
custom_imports = dict(imports=['dr2net_mm'], allow_failed_imports=False)

embed_dims = 32
window_length, frame_interval = 64, 2
model = dict(
    type='dr2net_mm.TemporalActionDetector',
    num_classes=6, in_channels=embed_dims * 8, channels=64, levels=4,
    backbone=dict(type='SwinTransformer3D',
                  arch=dict(embed_dims=embed_dims, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8]),
                  pretrained=None, pretrained2d=False, window_size=(4, 4, 4), drop_path_rate=0.1),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], format_shape='NCTHW'))

data_root = 'data/demo/untrimmed/'
dataset = dict(type='dr2net_mm.UntrimmedVideoDataset', ann_file=data_root + 'annotations.json',
               class_map=data_root + 'classes.txt', window_length=window_length,
               frame_interval=frame_interval, data_prefix=dict(video=data_root + 'rawframes'))
# No flips or crops that move things: they would change the motion class.
train_pipeline = [
    dict(type='dr2net_mm.TADWindow'),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='dr2net_mm.PackTADInputs'),
]
test_pipeline = train_pipeline
train_dataloader = dict(batch_size=4, num_workers=1, persistent_workers=True,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(dataset, subset='training', pipeline=train_pipeline))
val_dataloader = dict(batch_size=4, num_workers=1, persistent_workers=True,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(dataset, subset='validation', pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='dr2net_mm.TemporalActionMAP')    # THUMOS-14's tIoUs 0.3:0.1:0.7
test_evaluator = val_evaluator

max_epochs = 40      # 60 training videos, 15 iterations an epoch
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# AdamW, the backbone at 0.1 x the head's rate (as OpenTAD's Re²TAL configs: 1e-4 / 1e-5).
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.1))), clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=60),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5),
]
default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'), timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10), param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2), sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(type='LogProcessor', window_size=10, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
auto_scale_lr = dict(enable=False, base_batch_size=4)
