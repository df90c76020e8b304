# Dr²Net rewired to the reversible network (alpha=0, beta=1) from the first iteration: Re²TAL's fixed
# rewiring, but from the ordinary Kinetics-400 checkpoint (Re²TAL finetunes a reversible one first).
_base_ = './_base_/swin-t_conv-pyramid_activitynet13.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.Dr2Net', backbone={{_base_.model.backbone}},
                           alpha=0.0, beta=1.0, grad_mode='auto', tol=1e-3))
