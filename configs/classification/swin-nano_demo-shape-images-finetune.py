# Conventional finetuning from the demo pretraining checkpoint on new shapes (cross, pentagon, star),
# few-shot: 8 training images per class, 100 val images per class. The whole checkpoint is loaded (as
# when finetuning a model zoo classifier); the 3-way head starts from the pretraining classes' head.
_base_ = './_base_/swin-nano_demo-shape-images.py'

load_from = 'checkpoints/demo/swin-nano_demo-shape-images-pretrain.pth'
data_root = 'data/demo/shape_images/finetune/'
train_dataloader = dict(batch_size=8, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

# 100 epochs of 3 iterations each, at the pretraining's learning rate.
max_epochs = 100
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=12),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-6),
]
