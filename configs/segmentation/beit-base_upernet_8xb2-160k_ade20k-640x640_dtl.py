# DTL finetuning of UperNet BEiT-B/16 on ADE20K: the official config with the backbone frozen and a
# low-rank side network beside it. The optimizer receives only trainable parameters (side network,
# neck, heads), with the config's layer-wise decay (the side network counts as the last layer).
# Official DTL ViT-B setting: rank 2, side information from layer 7 of 12 on.
_base_ = 'mmseg::beit/beit-base_upernet_8xb2-160k_ade20k-640x640.py'

model = dict(backbone=dict(_delete_=True, type='dr2net_mm.DTL', backbone={{_base_.model.backbone}},
                           rank=2, inject_from=7, dwconv_kernel=None))
optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor',
                     paramwise_cfg=dict(base='LayerDecayOptimizerConstructor'))
