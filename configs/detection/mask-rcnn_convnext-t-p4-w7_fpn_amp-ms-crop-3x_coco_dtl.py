# DTL finetuning of Mask R-CNN ConvNeXt-T on COCO: the official config with the backbone frozen and a
# low-rank side network beside it (1x1 convolutions). The optimizer receives only trainable parameters
# (side network, neck, heads), with the config's layer-wise decay (the side network counts as the last
# layer). ConvNeXt-T has 18 blocks (3-3-9-3): side information from block 7 on (stages 3-4).
_base_ = 'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=4, inject_from=7, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor',
                     paramwise_cfg=dict(base='LearningRateDecayOptimizerConstructor'))
