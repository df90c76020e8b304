# Dr²Net finetuning of UperNet ConvNeXt-T (mmpretrain.ConvNeXt) on ADE20K: the official config with the
# backbone converted in place and alpha/beta moved by DynamicCoeffHook. Same ImageNet checkpoint
# (init_cfg), data, stage-wise learning-rate decay, mixed precision (where CUDA is) and schedule. Each
# ConvNeXt block is a unit; the downsampling layers between stages stay outside them.
_base_ = 'mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.Dr2Net', backbone={{_base_.model.backbone}},
                           alpha=1.0, beta=0.0, grad_mode='auto', tol=1e-3))
# The default schedule: half cosine from the pretrained network to the reversible one over the
# first 60% of finetuning, then fully reversible (see the README).
custom_hooks = [
    dict(type='dr2net_mm.DynamicCoeffHook',
         alpha=dict(policy='cosine', start=1.0, end=0.0),
         beta=dict(policy='cosine', start=0.0, end=1.0),
         begin=0, end=96000, by_epoch=False),
]
