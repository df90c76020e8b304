# End-to-end temporal action detection on THUMOS-14 with Video Swin-T, as OpenTAD's Re²TAL configs set
# it up (configs/re2tal/e2e_thumos_*_actionformer_swin_tiny.py): windows of 1,024 frames (every 2nd
# frame of the video) at 224x224, a Kinetics-400 checkpoint, AdamW with the backbone at 0.1 x the
# head's rate, drop path 0.2, gradient clipping at 1, EMA, mixed precision (fp32 on a machine without
# CUDA). The temporal neck is a convolutional pyramid (6 levels), not ActionFormer's transformer.
# Data layout as OpenTAD's: data/thumos-14/{annotations/thumos_14_anno.json,
# annotations/category_idx.txt, raw_data/video/<video>.mp4}; trained on the validation videos,
# tested on the test videos (THUMOS-14's usual split).
default_scope = 'mmaction'
custom_imports = dict(imports=['dr2net_mm'], allow_failed_imports=False)

window_length, frame_interval = 1024, 2
model = dict(
    type='dr2net_mm.TemporalActionDetector',
    num_classes=20, in_channels=768, channels=512, levels=6,
    backbone=dict(type='SwinTransformer3D', arch='tiny', pretrained=None, pretrained2d=False,
                  patch_size=(2, 4, 4), window_size=(8, 7, 7), drop_path_rate=0.2),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], format_shape='NCTHW'))
# mmaction2's Kinetics-400 Video Swin-T recognizer: its backbone.* weights load into the detector's.
load_from = ('https://download.openmmlab.com/mmaction/v1.0/recognition/swin/'
             'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb/'
             'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb_20220930-241016b2.pth')

data_root = 'data/thumos-14/'
dataset = dict(type='dr2net_mm.UntrimmedVideoDataset', ann_file=data_root + 'annotations/thumos_14_anno.json',
               class_map=data_root + 'annotations/category_idx.txt', modality='video', video_ext='.mp4',
               window_length=window_length, frame_interval=frame_interval,
               data_prefix=dict(video=data_root + 'raw_data/video'))
train_pipeline = [
    dict(type='DecordInit', num_threads=4),      # first: windows are placed in the decoded frame count
    dict(type='dr2net_mm.TADWindow', keep_fraction=0.75),
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
train_dataloader = dict(batch_size=2, num_workers=2, persistent_workers=True,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(dataset, subset='validation', pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, num_workers=2, persistent_workers=True,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(dataset, subset='test', pipeline=test_pipeline, test_mode=True,
                                   window_overlap=0.5))
test_dataloader = val_dataloader
# tIoU 0.3:0.1:0.7; OpenTAD's Gaussian soft-NMS sigma 0.7, up to 2,000 segments a video
val_evaluator = dict(type='dr2net_mm.TemporalActionMAP', sigma=0.7, max_per_video=2000)
test_evaluator = val_evaluator

# OpenTAD: 120 epochs, validation from epoch 80 every 5, 5 warm-up epochs then cosine.
max_epochs = 120
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=80, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='AmpOptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
                     paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=0.1))),
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
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3, save_best='tad/average_mAP',
                    rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
resume = False
auto_scale_lr = dict(enable=False, base_batch_size=4)    # OpenTAD: 2 GPUs x 2 windows
