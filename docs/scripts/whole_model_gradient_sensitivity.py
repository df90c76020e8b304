"""How far do a whole model's gradients move when its backbone's outputs move by rounding? (docs/results.md)

The benchmark's whole-model gradient errors compare Dr²Net with ordinary backprop of the same network,
but Dr²Net's forward computes units a piece at a time and the reference whole, so the backbone outputs
already differ in the seventh digit before any backward. This script takes ordinary backprop alone
(``grad_mode='autograd'``) twice on the benchmark's synthetic batch: once as is, once with every
backbone output multiplied by ``1 + eps * noise`` (fixed noise). Any gradient difference is then the
model's response to rounding-sized changes of its features (proposal NMS, RoI sampling, target
assignment are discrete), not an error of Dr²Net's backward.

    .venv/bin/python docs/scripts/whole_model_gradient_sensitivity.py \\
        configs/detection/mask-rcnn_swin-t-p4-w7_fpn_1x_coco_dr2net.py --input-shape 3 512 512 --batch-size 2
"""
import argparse

import torch
from mmengine.config import Config

from dr2net_mm.benchmark.run import _build_variant, build_model
from dr2net_mm.benchmark.step import relative_gradient_error
from dr2net_mm.benchmark.synthetic import ModelLoss, synthetic_batch
from dr2net_mm.benchmark.variants import original_backbone_cfg


def gradients(model, loss, eps: float):
    """Parameter gradients of one seeded training step, backbone outputs scaled by ``1 + eps * noise``."""
    def perturb(module, args, outputs):
        g = torch.Generator().manual_seed(7)
        return tuple(o * (1 + eps * torch.randn(o.shape, generator=g)) for o in outputs)

    handle = model.backbone.register_forward_hook(perturb) if eps else None
    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    loss(model).backward()
    if handle is not None:
        handle.remove()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--input-shape', type=int, nargs='+', default=[3, 512, 512])
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--alpha', type=float, default=1.0)
    parser.add_argument('--beta', type=float, default=0.0)
    parser.add_argument('--eps', type=float, nargs='+', default=[1e-7, 1e-6])
    args = parser.parse_args()

    cfg = Config.fromfile(args.config)
    batch = synthetic_batch(cfg, (args.batch_size, *args.input_shape))
    torch.manual_seed(0)
    state = build_model(cfg, original_backbone_cfg(cfg.model.backbone), None, torch.device('cpu'), True).state_dict()
    model = _build_variant(cfg, 'dr2net', args.alpha, args.beta, state, torch.device('cpu'), True, None,
                           grad_mode='autograd')
    loss = ModelLoss(model, batch)
    reference = gradients(model, loss, 0.0)
    again = gradients(model, loss, 0.0)
    print(f'alpha={args.alpha} beta={args.beta}, ordinary backprop')
    print(f'  the same step again:               {relative_gradient_error(again, reference):.1e}')
    for eps in args.eps:
        moved = gradients(model, loss, eps)
        print(f'  backbone outputs x (1 + {eps:.0e} noise): {relative_gradient_error(moved, reference):.1e}')


if __name__ == '__main__':
    main()
