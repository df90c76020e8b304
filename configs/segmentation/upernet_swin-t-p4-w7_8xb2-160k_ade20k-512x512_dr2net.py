# Dr²Net finetuning: the conventional config with the backbone converted in place and alpha/beta
# moved by DynamicCoeffHook. Nothing else changes (same checkpoint, data, schedule).
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.Dr2Net', backbone={{_base_.model.backbone}},
                           alpha=1.0, beta=0.0, grad_mode='auto', tol=1e-3))
# Schedule: 160k iterations; the backbone starts from the official ImageNet Swin-T checkpoint (init_cfg).
# The default schedule (ours, chosen without the paper's values: its body was not available to us):
# a half cosine from the pretrained network (alpha=1, beta=0) to the precise reversible one (alpha=0,
# beta=1) over the first 60% of finetuning, then fully reversible. grad_mode='auto' keeps gradients
# within tol of autograd all along.
custom_hooks = [
    dict(type='dr2net_mm.DynamicCoeffHook',
         alpha=dict(policy='cosine', start=1.0, end=0.0),
         beta=dict(policy='cosine', start=0.0, end=1.0),
         begin=0, end=96000, by_epoch=False),
]
