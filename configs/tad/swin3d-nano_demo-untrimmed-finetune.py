# Conventional finetuning of the recognition demo's pretrained Video Swin-nano for detection of the
# finetuning motions (four diagonals, grow, shrink) in untrimmed videos; neck and head are new.
_base_ = './_base_/swin3d-nano_demo-untrimmed.py'

load_from = 'checkpoints/demo/swin3d-nano_demo-motion-pretrain.pth'
