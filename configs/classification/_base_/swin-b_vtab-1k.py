# Swin-B on one VTAB-1k task, set up as DTL's official code trains it (as vit-b16_vtab-1k.py: resize to
# 224 x 224, AdamW with weight decay 0.05, 100 epochs with 10 of warm-up then cosine, batch 32;
# the learning rate 1e-3 is ours), without the ImageNet config's Mixup/CutMix and label smoothing.
# The model is mmpretrain's Swin-B classifier (_base_/models/swin_transformer/base_224.py) with
# cross-entropy. The backbone starts from Swin-B pretrained on ImageNet-22k and finetuned on ImageNet-1k (mmpretrain's
# converted release; DTL's paper uses the ImageNet-22k weights, which mmpretrain's zoo lacks).
_base_ = './vit-b16_vtab-1k.py'

checkpoint = ('https://download.openmmlab.com/mmclassification/v0/swin-transformer/convert/'
              'swin_base_patch4_window7_224_22kto1k-f967f799.pth')
model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(type='SwinTransformer', arch='base', img_size=224, drop_path_rate=0.1,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes={{_base_.num_classes}}, in_channels=1024,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
data_preprocessor = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
