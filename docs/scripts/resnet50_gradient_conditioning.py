"""How precise can ResNet-50's gradients at the end of the schedule be? (docs/results.md)

The converted mmdet ResNet-50 (``frozen_stages=1``, ``norm_eval=True``, PyTorch's default init) at
(alpha, beta) on 2 x 3 x 512^2, with the benchmark's loss (every output against fixed random weights,
``--loss random``) or every output's mean square (``--loss squares``). Prints the relative difference of
all parameter gradients between ``grad_mode='autograd'`` on 1 and on 2 threads (the reference against
itself: only the order of the kernels' sums differs) and between ``auto`` and ``autograd`` on each.

    .venv/bin/python docs/scripts/resnet50_gradient_conditioning.py --alpha 0 --beta 1 --loss random
"""
import argparse

import torch
from mmengine.registry import MODELS, init_default_scope

import dr2net_mm
from dr2net_mm.methods.dr2net import dr2net_methods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--alpha', type=float, default=0.0)
    parser.add_argument('--beta', type=float, default=1.0)
    parser.add_argument('--loss', choices=('random', 'squares'), default='random')
    args = parser.parse_args()

    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = dr2net_mm.to_dr2net(MODELS.build(dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3),
                                                  frozen_stages=1, norm_eval=True)))
    model.train()
    dr2net_mm.set_coefficients(model, args.alpha, args.beta)
    x = torch.randn(2, 3, 512, 512, generator=torch.Generator().manual_seed(1))
    weights = None

    def loss(outs):
        nonlocal weights
        if args.loss == 'squares':
            return sum((o ** 2).mean() for o in outs)
        if weights is None:
            generator = torch.Generator().manual_seed(1234)
            weights = [torch.randn(o.shape, generator=generator) for o in outs]
        return sum((o * w).mean() for o, w in zip(outs, weights, strict=True))

    def gradients(mode: str, threads: int) -> torch.Tensor:
        torch.set_num_threads(threads)
        for method in dr2net_methods(model):
            method.grad_mode = mode
        model.zero_grad(set_to_none=True)
        torch.manual_seed(3)
        loss(model(x)).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    def error(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).norm() / b.norm())

    g = {(mode, threads): gradients(mode, threads) for mode in ('autograd', 'auto') for threads in (1, 2)}
    print(f'ResNet-50 at ({args.alpha}, {args.beta}), loss {args.loss}: relative gradient differences')
    print(f'  autograd, 1 vs 2 threads:      {error(g["autograd", 2], g["autograd", 1]):.1e}')
    print(f'  auto vs autograd, 1 thread:    {error(g["auto", 1], g["autograd", 1]):.1e}')
    print(f'  auto vs autograd, 2 threads:   {error(g["auto", 2], g["autograd", 2]):.1e}')


if __name__ == '__main__':
    main()
