# DTL finetuning of SegFormer (MiT-B0) on ADE20K: the official config with the backbone frozen and a
# low-rank side network beside it. The optimizer receives only trainable parameters (side network,
# head). MiT-B0 has 8 blocks (2-2-2-2): side information from block 5 on (stages 3-4), as the Swin
# configs inject over the last stages.
_base_ = 'mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=4, inject_from=5, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor')
