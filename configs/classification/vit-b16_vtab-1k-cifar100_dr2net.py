# Dr²Net finetuning of ViT-B/16 on VTAB-1k (CIFAR-100 here): the whole backbone trained, converted in
# place, alpha/beta moved by DynamicCoeffHook; the 12 layers are one segment.
_base_ = './_base_/vit-b16_vtab-1k.py'

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
