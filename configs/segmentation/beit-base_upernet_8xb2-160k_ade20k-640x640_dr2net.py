# Dr²Net finetuning of UperNet BEiT-B/16 on ADE20K (640 x 640 crops): the official config with the
# backbone converted in place and alpha/beta moved by DynamicCoeffHook. Same BEiT checkpoint (the
# config's `pretrained`, converted with mmseg's tools/model_converters/beit2mmseg.py), data, layer-wise
# learning-rate decay and schedule. The 12 layers are one segment, cut where out_indices (3, 5, 7, 11)
# take features; each layer's attention is recomputed a few heads at a time.
_base_ = 'mmseg::beit/beit-base_upernet_8xb2-160k_ade20k-640x640.py'

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
