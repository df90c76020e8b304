# DTL finetuning: the conventional config with the backbone frozen and a low-rank side network
# beside it (dr2net_mm.DTL). The optimizer receives only trainable parameters (side network,
# neck, heads). Same checkpoint, data and schedule as the conventional config.
_base_ = 'mmaction::recognition/swin/swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=4, inject_from=8, dwconv_kernel=None))
# The official backbone lr_mult=0.1 would also slow the side network (it lives under backbone.dtl_side).
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor',
                     paramwise_cfg=dict(base='SwinOptimWrapperConstructor', backbone=dict(lr_mult=1.0)))
# Swin-T has 12 blocks (2-2-6-2): maps on stages 3-4, blocks 8..12 receive side information.
# The backbone is the official ImageNet Swin-T checkpoint (pretrained), frozen.
