# Dr²Net finetuning of SlowFast R50 (4x16): the official Kinetics-400 config with the backbone converted
# in place, alpha/beta moved by DynamicCoeffHook, and the official Kinetics-400 SlowFast checkpoint as
# the start (the official config trains from scratch; Dr²Net finetunes a pretrained network). Each
# pathway's res layers are stages; the lateral connections stay outside them. As shipped it finetunes
# on Kinetics-400 with the official schedule; for another dataset, point the data settings at its
# VideoDataset lists and set model.cls_head.num_classes (the checkpoint's 400-class head is then not
# loaded, the backbone is).
_base_ = 'mmaction::recognition/slowfast/slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.Dr2Net', backbone={{_base_.model.backbone}},
                           alpha=1.0, beta=0.0, grad_mode='auto', tol=1e-3))
load_from = ('https://download.openmmlab.com/mmaction/v1.0/recognition/slowfast/'
             'slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb/'
             'slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb_20220901-701b0f6f.pth')
# The default schedule: half cosine from the pretrained network to the reversible one over the first
# 60% of finetuning (256 epochs), then fully reversible (see the README).
custom_hooks = [
    dict(type='dr2net_mm.DynamicCoeffHook',
         alpha=dict(policy='cosine', start=1.0, end=0.0),
         beta=dict(policy='cosine', start=0.0, end=1.0),
         begin=0, end=154, by_epoch=True),
]
