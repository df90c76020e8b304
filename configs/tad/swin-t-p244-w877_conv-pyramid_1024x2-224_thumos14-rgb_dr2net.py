# Dr²Net: the ordinary Kinetics-400 checkpoint converted in place, alpha/beta moved by
# DynamicCoeffHook from the pretrained network (1, 0) to the reversible one (0, 1) over the first 60%
# of training (the hook's default span; ours, the paper's values were not available to us).
_base_ = './_base_/swin-t_conv-pyramid_thumos14.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.Dr2Net', backbone={{_base_.model.backbone}},
                           alpha=1.0, beta=0.0, grad_mode='auto', tol=1e-3))
custom_hooks = [
    dict(type='EMAHook', momentum=0.001),
    dict(type='dr2net_mm.DynamicCoeffHook',
         alpha=dict(policy='cosine', start=1.0, end=0.0),
         beta=dict(policy='cosine', start=0.0, end=1.0),
         begin=0, end=72, by_epoch=True),       # 60% of 120 epochs
]
