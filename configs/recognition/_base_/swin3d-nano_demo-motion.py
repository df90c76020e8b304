# Video Swin recognizer, shrunk for CPU: 8-frame 64x64 clips of the demo motion data (raw frames).
# Everything not set here comes from the official mmaction2 Kinetics-400 config.
_base_ = 'mmaction::recognition/swin/swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py'
custom_imports = dict(imports=['dr2net_mm'], allow_failed_imports=False)

embed_dims = 32
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=embed_dims, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8]),
        pretrained=None,
        pretrained2d=False,
        window_size=(4, 4, 4),
        drop_path_rate=0.1),
    cls_head=dict(in_channels=embed_dims * 8, num_classes=4, dropout_ratio=0.2))

dataset_type = 'RawframeDataset'
# No flips or crops that move things: they would change the motion class.
train_pipeline = [
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
val_pipeline = [
    dict(type='SampleFrames', clip_len=8, frame_interval=2, num_clips=1, test_mode=True),
    dict(type='RawFrameDecode'),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(type=dataset_type, ann_file='train_list_rawframes.txt', data_prefix=dict(img='rawframes'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(type=dataset_type, ann_file='val_list_rawframes.txt', data_prefix=dict(img='rawframes'),
                 pipeline=val_pipeline, test_mode=True))
test_dataloader = val_dataloader

# fp32 on CPU; the backbone learns at the full rate in these short demo runs. lr 3e-4: at 1e-3 the
# from-scratch pretraining learnt more slowly (measured).
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=3e-4),
                     paramwise_cfg=dict(backbone=dict(lr_mult=1.0)), clip_grad=dict(max_norm=10.0))
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='acc/top1', rule='greater'))
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
log_processor = dict(window_size=10)
auto_scale_lr = dict(enable=False, base_batch_size=8)
