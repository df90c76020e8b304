# DTL finetuning: the conventional config with the backbone frozen and a low-rank side network
# beside it (dr2net_mm.DTL). The optimizer receives only trainable parameters (side network, head).
# Same checkpoint, data and schedule as the conventional config. 6 blocks (2-2-2): side information
# into blocks 3..6 (stages 2-3), rank 4.
_base_ = './swin-nano_demo-shape-images-finetune.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=4, inject_from=3, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor')
