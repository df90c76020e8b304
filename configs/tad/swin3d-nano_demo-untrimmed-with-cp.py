# Conventional finetuning with mmaction2's own activation checkpointing (exact gradients, less memory).
_base_ = './swin3d-nano_demo-untrimmed-finetune.py'

model = dict(backbone=dict(with_cp=True))
