# Dr²Net finetuning of Mask R-CNN ConvNeXt-T (mmpretrain.ConvNeXt) on COCO: the official config with the
# backbone converted in place and alpha/beta moved by DynamicCoeffHook. Same ImageNet checkpoint
# (init_cfg), data, layer-wise learning-rate decay, mixed precision (where CUDA is) and 3x schedule.
_base_ = 'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.Dr2Net', backbone={{_base_.model.backbone}},
                           alpha=1.0, beta=0.0, grad_mode='auto', tol=1e-3))
# The default schedule: half cosine from the pretrained network to the reversible one over the first
# 60% of finetuning (36 epochs), then fully reversible (see the README).
custom_hooks = [
    dict(type='dr2net_mm.DynamicCoeffHook',
         alpha=dict(policy='cosine', start=1.0, end=0.0),
         beta=dict(policy='cosine', start=0.0, end=1.0),
         begin=0, end=22, by_epoch=True),
]
