# Conventional finetuning from the demo pretraining checkpoint on new motions (four diagonals, grow,
# shrink): the classifier is re-initialised (size mismatch), as when finetuning a Kinetics checkpoint.
_base_ = './_base_/swin3d-nano_demo-motion.py'

load_from = 'checkpoints/demo/swin3d-nano_demo-motion-pretrain.pth'
model = dict(cls_head=dict(num_classes=6))
data_root = 'data/demo/motion/finetune/'
train_dataloader = dict(dataset=dict(ann_file=data_root + 'train_list_rawframes.txt',
                                     data_prefix=dict(img=data_root + 'rawframes')))
val_dataloader = dict(dataset=dict(ann_file=data_root + 'val_list_rawframes.txt',
                                   data_prefix=dict(img=data_root + 'rawframes')))
test_dataloader = val_dataloader

# Few-shot: 24 training clips (4 per class), 360 val clips. 40 epochs of 3 iterations each.
max_epochs = 40
train_cfg = dict(max_epochs=max_epochs, val_begin=1, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=12),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5),
]
