# DTL finetuning: the conventional config with the backbone frozen and a low-rank side network
# beside it (dr2net_mm.DTL). The optimizer receives only trainable parameters (side network,
# neck, heads). Same checkpoint, data and schedule as the conventional config.
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=4, inject_from=8, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor')
# Swin-T has 12 blocks (2-2-6-2): maps on stages 3-4, blocks 8..12 receive side information
# (the official Swin-B setting scaled). The backbone is the official ImageNet Swin-T checkpoint, frozen.
