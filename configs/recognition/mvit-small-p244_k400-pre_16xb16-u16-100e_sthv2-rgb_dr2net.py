# Dr²Net finetuning of MViTv2-S on Something-Something V2 from its Kinetics-400 checkpoint: the official
# config with the backbone converted in place and alpha/beta moved by DynamicCoeffHook. Same checkpoint
# (init_cfg), data, RandAugment (pytorchvideo) and schedule. A stage is a pooling (or widening) block,
# a transition, and the size-keeping blocks after it; the attention is recomputed a few heads at a time.
_base_ = 'mmaction::recognition/mvit/mvit-small-p244_k400-pre_16xb16-u16-100e_sthv2-rgb.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.Dr2Net', backbone={{_base_.model.backbone}},
                           alpha=1.0, beta=0.0, grad_mode='auto', tol=1e-3))
# The default schedule: half cosine from the pretrained network to the reversible one over the first
# 60% of finetuning (100 epochs), then fully reversible (see the README).
custom_hooks = [
    dict(type='dr2net_mm.DynamicCoeffHook',
         alpha=dict(policy='cosine', start=1.0, end=0.0),
         beta=dict(policy='cosine', start=0.0, end=1.0),
         begin=0, end=60, by_epoch=True),
]
