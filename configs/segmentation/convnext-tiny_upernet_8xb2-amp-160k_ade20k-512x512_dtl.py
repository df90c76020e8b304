# DTL finetuning of UperNet ConvNeXt-T on ADE20K: the official config with the backbone frozen and a
# low-rank side network beside it (1x1 convolutions). The optimizer receives only trainable parameters
# (side network, neck, heads), with the config's stage-wise decay (the side network counts as the last
# stage). ConvNeXt-T has 18 blocks (3-3-9-3): side information from block 7 on (stages 3-4), as the
# Swin configs inject over the last stages.
_base_ = 'mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=4, inject_from=7, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor',
                     paramwise_cfg=dict(base='LearningRateDecayOptimizerConstructor'))
