# Pretraining on the demo shapes (circle, square, triangle) from scratch: produces the
# "model zoo" checkpoint that the finetuning configs load.
_base_ = './_base_/mask-rcnn_swin-nano_fpn_demo-shapes.py'

data_root = 'data/demo/coco_shapes/pretrain/'
metainfo = dict(classes=('circle', 'square', 'triangle'))
train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5),
]
