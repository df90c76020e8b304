# DTL on Swin-B, VTAB-1k (CIFAR-100 here; set data_root and num_classes for another task). Official DTL
# Swin-B setting: rank 4, side maps on stages 3-4 only (the state restarts per stage), side information
# in the last 10 of the 24 blocks (from block 15).
_base_ = './_base_/swin-b_vtab-1k.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=4, inject_from=15, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor')
