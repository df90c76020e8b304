# DTL+ on ViT-B/16, VTAB-1k: as the DTL config, with the side information passed through one depthwise
# convolution over the patch grid (shared by the injecting blocks; the class token bypasses it). The
# official VTAB scripts choose its kernel per task among 3, 4 and 5; 3 here.
_base_ = './vit-b16_vtab-1k-cifar100_dtl.py'

model = dict(backbone=dict(dwconv_kernel=3))
