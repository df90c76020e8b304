# ViT-B/16 on one VTAB-1k task, set up as DTL's official code trains it: 224 x 224 images resized
# without augmentation, AdamW (weight decay 0.05), 100 epochs with 10 of linear warm-up then cosine,
# batch 32, cross-entropy. The learning rate (1e-3) is ours. Data: the VTAB-1k release in the layout
# NOAH's and DTL's code read, one folder per task holding its images and the lists train800val200.txt
# (the 1,000 training images) and test.txt, each line "<image path relative to the folder> <label>".
# Set data_root and num_classes for the task (CIFAR-100 here).
# DTL's paper starts from ImageNet-21k ViT-B/16 weights (timm); mmpretrain's model zoo has those only
# finetuned on ImageNet-1k (at 384 px; the position embedding is resized to 224 on load), which this
# config loads.
_base_ = ['mmpretrain::_base_/models/vit-base-p16.py', 'mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['dr2net_mm'], allow_failed_imports=False)

num_classes = 100
data_root = 'data/vtab-1k/cifar/'
checkpoint = ('https://download.openmmlab.com/mmclassification/v0/vit/finetune/'
              'vit-base-p16_in21k-pre-3rdparty_ft-64xb64_in1k-384_20210928-98e8652b.pth')
model = dict(
    backbone=dict(img_size=224, drop_rate=0.0, drop_path_rate=0.1,
                  init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    head=dict(num_classes=num_classes, loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)))
data_preprocessor = dict(num_classes=num_classes, mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5],
                         to_rgb=True)

pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224), interpolation='bicubic'),
    dict(type='PackInputs'),
]
dataset = dict(type='CustomDataset', data_root=data_root, data_prefix='', with_label=True, pipeline=pipeline)
train_dataloader = dict(batch_size=32, num_workers=4, persistent_workers=True,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(dataset, ann_file='train800val200.txt'))
val_dataloader = dict(batch_size=64, num_workers=4, persistent_workers=True,
                      sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(dataset, ann_file='test.txt'))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=90, by_epoch=True, begin=10, end=100, eta_min=1e-8),
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=10)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=32)
