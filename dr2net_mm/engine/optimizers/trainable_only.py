"""An optimizer wrapper constructor that gives the optimizer only trainable parameters.

mmengine's constructors put frozen parameters into the param groups too (harmless for the update,
but they cost optimizer bookkeeping and hide what is really trained). This one delegates to any
constructor (``base``, default ``DefaultOptimWrapperConstructor``; the Video Swin configs use
``SwinOptimWrapperConstructor``) and then drops parameters with ``requires_grad=False``, and logs
what the model trains:

    optim_wrapper = dict(constructor='dr2net_mm.TrainableOnlyOptimWrapperConstructor',
                         paramwise_cfg=dict(base='SwinOptimWrapperConstructor', ...))
"""
from typing import Optional

from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as ROOT_CONSTRUCTORS
from torch import nn

from ...registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableOnlyOptimWrapperConstructor:

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None):
        paramwise_cfg = dict(paramwise_cfg or {})
        base = paramwise_cfg.pop('base', 'DefaultOptimWrapperConstructor')
        self.base = ROOT_CONSTRUCTORS.build(dict(type=base, optim_wrapper_cfg=optim_wrapper_cfg,
                                                 paramwise_cfg=paramwise_cfg or None))

    def __call__(self, model: nn.Module) -> OptimWrapper:
        wrapper = self.base(model)
        optimizer = wrapper.optimizer
        kept = []
        for group in optimizer.param_groups:
            group['params'] = [p for p in group['params'] if p.requires_grad]
            if group['params']:
                kept.append(group)
        optimizer.param_groups[:] = kept
        trainable = sum(p.numel() for g in kept for p in g['params'])
        total = sum(p.numel() for p in model.parameters())
        print_log(f'optimizer: {trainable:,} trainable parameters of {total:,} '
                  f'({100.0 * trainable / max(total, 1):.2f}%), {len(kept)} param groups', logger='current')
        return wrapper
