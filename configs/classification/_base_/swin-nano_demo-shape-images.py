# mmpretrain Swin classifier, shrunk for CPU: 64 x 64 single-shape images of the demo data (ImageFolder
# layout), 4 x 4 patches, windows of 4, three stages of width 32-128 (a fourth would see 2 x 2 maps).
# Model settings from mmpretrain's Swin-B config (global pooling, linear head) without its Mixup/CutMix,
# as in the VTAB-1k configs.
_base_ = ['mmpretrain::_base_/models/swin_transformer/base_224.py', 'mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['dr2net_mm'], allow_failed_imports=False)

embed_dims = 32
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=embed_dims, depths=[2, 2, 2], num_heads=[1, 2, 4]),
                  img_size=64, out_indices=(2, ), window_size=4, drop_path_rate=0.1),
    head=dict(num_classes=3, in_channels=embed_dims * 4, cal_acc=True,
              loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(_delete_=True))
data_preprocessor = dict(num_classes=3, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], to_rgb=True)

# Flips keep every demo shape's class; no crops (they could cut the outline that tells classes apart).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
dataset = dict(type='CustomDataset', with_label=True)
train_dataloader = dict(batch_size=32, num_workers=1, persistent_workers=True,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(dataset, data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, num_workers=1, persistent_workers=True,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(dataset, data_prefix='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05), clip_grad=dict(max_norm=10.0))
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='accuracy/top1', rule='greater'))
log_processor = dict(window_size=10)
auto_scale_lr = dict(enable=False, base_batch_size=32)
