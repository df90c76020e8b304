# End-to-end temporal action detection on ActivityNet-1.3 with Video Swin-T, as OpenTAD's Re²TAL configs
# set it up (configs/re2tal/e2e_anet_*_actionformer_swin_tiny.py): every video resampled to 768 frames
# at 224x224, a Kinetics-400 checkpoint, AdamW with the backbone at 0.01 x the head's rate, drop path
# 0.2, gradient clipping at 1, EMA, mixed precision (fp32 on a machine without CUDA). The temporal
# neck is a convolutional pyramid (6 levels, 256 channels), not ActionFormer's transformer. OpenTAD
# detects class-agnostic proposals on ActivityNet and labels them with an external video-level
# classifier (CUHK's); this config detects the 200 classes itself, so its mAP is not comparable.
# Data layout as OpenTAD's: data/activitynet-1.3/{annotations/activity_net.v1-3.min.json,
# annotations/category_idx.txt, raw_data/Anet_videos_15fps_short256/v_<id>.mp4} (videos re-encoded at
# 15 fps); trained on the training videos, tested on the validation videos.
default_scope = 'mmaction'
custom_imports = dict(imports=['dr2net_mm'], allow_failed_imports=False)

resize_length = 768
model = dict(
    type='dr2net_mm.TemporalActionDetector',
    num_classes=200, in_channels=768, channels=256, levels=6,
    backbone=dict(type='SwinTransformer3D', arch='tiny', pretrained=None, pretrained2d=False,
                  patch_size=(2, 4, 4), window_size=(8, 7, 7), drop_path_rate=0.2),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], format_shape='NCTHW'))
# mmaction2's Kinetics-400 Video Swin-T recognizer: its backbone.* weights load into the detector's.
load_from = ('https://download.openmmlab.com/mmaction/v1.0/recognition/swin/'
             'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb/'
             'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb_20220930-241016b2.pth')

data_root = 'data/activitynet-1.3/'
dataset = dict(type='dr2net_mm.UntrimmedVideoDataset', ann_file=data_root + 'annotations/activity_net.v1-3.min.json',
               class_map=data_root + 'annotations/category_idx.txt', modality='video', video_prefix='v_',
               video_ext='.mp4', fps=15.0, window_length=resize_length, resize_length=resize_length,
               data_prefix=dict(video=data_root + 'raw_data/Anet_videos_15fps_short256'))
train_pipeline = [
    dict(type='DecordInit', num_threads=4),      # first: windows are placed in the decoded frame count
    dict(type='dr2net_mm.TADWindow'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='ColorJitter'),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='dr2net_mm.PackTADInputs'),
]
test_pipeline = [
    dict(type='DecordInit', num_threads=4),
    dict(type='dr2net_mm.TADWindow'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='dr2net_mm.PackTADInputs'),
]
train_dataloader = dict(batch_size=8, num_workers=2, persistent_workers=True,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(dataset, subset='training', pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, num_workers=2, persistent_workers=True,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(dataset, subset='validation', pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
# tIoU 0.5:0.05:0.95; OpenTAD's Gaussian soft-NMS sigma 0.7, up to 100 segments a video
val_evaluator = dict(type='dr2net_mm.TemporalActionMAP', tious=[round(0.5 + 0.05 * i, 2) for i in range(10)],
                     sigma=0.7, max_per_video=100)
test_evaluator = val_evaluator

# OpenTAD's ActivityNet e2e schedule: 15 epochs, 5 of warm-up, then cosine; validation each epoch from the 8th.
max_epochs = 15
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=8, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='AmpOptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.01))),   # OpenTAD: 1e-3 / 1e-5
                     clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=5, end=max_epochs, T_max=max_epochs - 5, eta_min=1e-8,
         convert_to_iter_based=True),
]
custom_hooks = [dict(type='EMAHook', momentum=0.001)]     # OpenTAD's EMA decay 0.999
default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'), timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20), param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='tad/average_mAP',
                    rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
resume = False
auto_scale_lr = dict(enable=False, base_batch_size=32)    # OpenTAD: 4 GPUs x 8 videos
