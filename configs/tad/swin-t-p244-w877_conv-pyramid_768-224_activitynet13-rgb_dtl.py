# DTL: the backbone frozen, a low-rank side network (rank 4, side information into blocks 7..12 of
# 2-2-6-2, stages 3-4) learning at the head's rate.
_base_ = './_base_/swin-t_conv-pyramid_activitynet13.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=4, inject_from=7, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor',
                     paramwise_cfg=dict(custom_keys={'backbone.dtl_side': dict(lr_mult=1.0)}))
