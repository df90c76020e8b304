# DTL finetuning: the conventional config with the backbone frozen and a low-rank side network
# beside it (dr2net_mm.DTL). The optimizer receives only trainable parameters (side network,
# neck, heads). Same checkpoint, data and schedule as the conventional config.
_base_ = './upernet_swin-nano_demo-shapes-finetune.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=4, inject_from=5, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor')
# 8 blocks (2-2-2-2): side maps on stages 3-4, side information into blocks 5..8.
