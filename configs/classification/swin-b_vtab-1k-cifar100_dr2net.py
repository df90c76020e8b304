# Dr²Net finetuning of Swin-B on VTAB-1k (CIFAR-100 here): the whole backbone trained, converted in
# place, alpha/beta moved by DynamicCoeffHook.
_base_ = './_base_/swin-b_vtab-1k.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.Dr2Net', backbone={{_base_.model.backbone}},
                           alpha=1.0, beta=0.0, grad_mode='auto', tol=1e-3))
custom_hooks = [
    dict(type='dr2net_mm.DynamicCoeffHook',
         alpha=dict(policy='cosine', start=1.0, end=0.0),
         beta=dict(policy='cosine', start=0.0, end=1.0),
         begin=0, end=60, by_epoch=True),
]
