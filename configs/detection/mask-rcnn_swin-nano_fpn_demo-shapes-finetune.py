# Conventional finetuning: the whole detector, initialised from the demo pretraining checkpoint,
# on new classes (pentagon, star, cross). The class-specific head layers are re-initialised
# (size mismatch on load), exactly as when finetuning a COCO model zoo checkpoint on a new dataset.
_base_ = './_base_/mask-rcnn_swin-nano_fpn_demo-shapes.py'

load_from = 'checkpoints/demo/mask-rcnn_swin-nano_fpn_demo-shapes-pretrain.pth'
data_root = 'data/demo/coco_shapes/finetune/'
metainfo = dict(classes=('pentagon', 'star', 'cross'))
train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_epochs = 16
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5),
]
