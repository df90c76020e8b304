# Pretraining on the demo's single-shape images (circle, square, triangle) from scratch.
_base_ = './_base_/swin-nano_demo-shape-images.py'

data_root = 'data/demo/shape_images/pretrain/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

max_epochs = 60
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5),
]
