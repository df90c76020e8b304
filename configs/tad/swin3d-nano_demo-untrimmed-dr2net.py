# Dr²Net finetuning: the conventional config with the backbone converted in place and alpha/beta
# moved by DynamicCoeffHook over the first 30% of training (as the recognition demo), then fully
# reversible. Nothing else changes (same checkpoint, data, schedule).
_base_ = './swin3d-nano_demo-untrimmed-finetune.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.Dr2Net', backbone={{_base_.model.backbone}},
                           alpha=1.0, beta=0.0, grad_mode='auto', tol=1e-3))
custom_hooks = [
    dict(type='dr2net_mm.DynamicCoeffHook',
         alpha=dict(policy='cosine', start=1.0, end=0.0),
         beta=dict(policy='cosine', start=0.0, end=1.0),
         begin=0, end=180, by_epoch=False),     # 30% of 40 epochs x 15 iterations
]
