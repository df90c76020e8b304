# DTL finetuning of MViTv2-S on Something-Something V2 from its Kinetics-400 checkpoint: the official
# config with the backbone frozen and a low-rank side network beside it. The optimizer receives only
# trainable parameters (side network, head). MViTv2-S has 16 blocks, 3 of which pool or widen
# (transitions, not counted); of the 13 size-keeping blocks, 7..13 (the second half of the third scale
# and the fourth) receive side information.
_base_ = 'mmaction::recognition/mvit/mvit-small-p244_k400-pre_16xb16-u16-100e_sthv2-rgb.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=4, inject_from=7, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor')
