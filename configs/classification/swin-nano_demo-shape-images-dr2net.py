# Dr²Net finetuning: the conventional config with the backbone converted in place and alpha/beta
# moved by DynamicCoeffHook. Nothing else changes (same checkpoint, data, schedule).
_base_ = './swin-nano_demo-shape-images-finetune.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.Dr2Net', backbone={{_base_.model.backbone}},
                           alpha=1.0, beta=0.0, grad_mode='auto', tol=1e-3))
# The default schedule: a half cosine from the pretrained network (alpha=1, beta=0) to the precise
# reversible one (alpha=0, beta=1) over the first 60% of finetuning (60 of 100 epochs), then fully
# reversible.
custom_hooks = [
    dict(type='dr2net_mm.DynamicCoeffHook',
         alpha=dict(policy='cosine', start=1.0, end=0.0),
         beta=dict(policy='cosine', start=0.0, end=1.0),
         begin=0, end=60, by_epoch=True),
]
