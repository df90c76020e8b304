# Dr²Net finetuning of Mask R-CNN ResNet-50 on COCO: the official config with the backbone converted
# in place and alpha/beta moved by DynamicCoeffHook. Same torchvision ImageNet checkpoint (init_cfg),
# data and schedule; frozen_stages=1 and norm_eval=True keep their meaning (stage 1 runs frozen, the
# BatchNorms stay in eval mode). Each bottleneck is one unit whose post op is the ReLU after the sum.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.Dr2Net', backbone={{_base_.model.backbone}},
                           alpha=1.0, beta=0.0, grad_mode='auto', tol=1e-3))
# The default schedule: half cosine over the first 7 of 12 epochs (60%), then fully reversible.
custom_hooks = [
    dict(type='dr2net_mm.DynamicCoeffHook',
         alpha=dict(policy='cosine', start=1.0, end=0.0),
         beta=dict(policy='cosine', start=0.0, end=1.0),
         begin=0, end=7, by_epoch=True),
]
