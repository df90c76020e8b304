# DTL finetuning of SlowFast R50 (4x16) from the official Kinetics-400 checkpoint: the official config
# with the backbone frozen (BatchNorm statistics included) and a low-rank side network beside it
# (1x1 convolutions). The optimizer receives only trainable parameters (side network, head). For
# another dataset, as the Dr²Net config says: its VideoDataset lists and model.cls_head.num_classes.
_base_ = 'mmaction::recognition/slowfast/slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb.py'

# Blocks are numbered in the order the backbone runs the layers (slow layer1, fast layer1, slow layer2,
# ...; each layer's first block, a transition, not counted: 2, 3, 5, 2 blocks per pathway): from block
# 11 on, side information reaches layers 3-4 of both pathways.
model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=4, inject_from=11, dwconv_kernel=None))
load_from = ('https://download.openmmlab.com/mmaction/v1.0/recognition/slowfast/'
             'slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb/'
             'slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb_20220901-701b0f6f.pth')
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor')
