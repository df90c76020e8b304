# DTL finetuning: the backbone frozen, a low-rank side network beside it (rank 4, side information
# into blocks 5..8 of 2-2-2-2), as the recognition demo. Same checkpoint, data and schedule; the
# side network is new, so it learns at the head's rate, not the backbone's 0.1 x.
_base_ = './swin3d-nano_demo-untrimmed-finetune.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=4, inject_from=5, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor',
                     paramwise_cfg=dict(custom_keys={'backbone.dtl_side': dict(lr_mult=1.0)}))
