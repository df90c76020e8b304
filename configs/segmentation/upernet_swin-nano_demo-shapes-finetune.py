# Conventional finetuning of the whole segmentor from the demo pretraining checkpoint on new classes
# (background, pentagon, star, cross): the classifier layers are re-initialised (size mismatch),
# as when finetuning an ADE20K model zoo checkpoint on another dataset.
_base_ = './_base_/upernet_swin-nano_demo-shapes.py'

load_from = 'checkpoints/demo/upernet_swin-nano_demo-shapes-pretrain.pth'
data_root = 'data/demo/ade_shapes/finetune/'
metainfo = dict(classes=('background', 'pentagon', 'star', 'cross'),
                palette=[[0, 0, 0], [220, 20, 60], [0, 128, 255], [255, 200, 0]])
train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader

max_iters = 3000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', eta_min=1e-6, power=1.0, begin=30, end=max_iters, by_epoch=False),
]
