# DTL finetuning of Mask R-CNN ResNet-50 on COCO: the official config with the backbone frozen and a
# side network of 1x1 convolutions (rank 8) beside it. The optimizer receives only trainable
# parameters (side network, FPN, heads). Of ResNet-50's 16 bottlenecks (3-4-6-3) the first of each
# stage changes shape and runs as a frozen transition, leaving 12 residual blocks (2-3-5-2):
# blocks 6..12 (stages 3-4) receive side information; stages 1-2 emit frozen features.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=8, inject_from=6, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor')
