# DTL on ViT-B/16, VTAB-1k (CIFAR-100 here; set data_root and num_classes for another task): the
# backbone frozen, a low-rank side network beside it, the classification head trained. Official DTL
# ViT-B setting: rank 2, side information from block 7 of 12 on.
_base_ = './_base_/vit-b16_vtab-1k.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=2, inject_from=7, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor')
