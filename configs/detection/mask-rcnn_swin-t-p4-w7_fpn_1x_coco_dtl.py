# DTL finetuning: the conventional config with the backbone frozen and a low-rank side network
# beside it (dr2net_mm.DTL). The optimizer receives only trainable parameters (side network,
# neck, heads). Same checkpoint, data and schedule as the conventional config.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=4, inject_from=8, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor')
# Swin-T has 12 blocks (2-2-6-2). As the official Swin-B setting (rank 4, maps on stages 3-4, side
# information into the last 10 of 24 blocks), scaled: maps on stages 3-4, blocks 8..12 receive it.
# The backbone is the official ImageNet Swin-T checkpoint (init_cfg), frozen.
