# Conventional end-to-end finetuning with mmaction2's activation checkpointing (OpenTAD's Swin-T row:
# "activation checkpointing to save the memory in non-reversible models").
_base_ = './_base_/swin-t_conv-pyramid_activitynet13.py'

model = dict(backbone=dict(with_cp=True))
