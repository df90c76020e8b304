# Dr²Net finetuning of SegFormer (MiT-B0) on ADE20K: the official config with the backbone converted
# in place and alpha/beta moved by DynamicCoeffHook. Same ImageNet MiT checkpoint (init_cfg), data
# and schedule. Each of MiT's four layers is a stage; its blocks' efficient-attention and Mix-FFN
# branches are the units. For a larger MiT, inherit segformer_mit-b{1..5}_8xb2-160k_ade20k-512x512.py.
_base_ = 'mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py'

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
