"""Nothing accumulates over a long run: live tensors, RNG states and statistics stay flat across
hundreds of iterations, also where a forward runs without a backward."""
import gc

import torch

import dr2net_mm
from dr2net_mm.methods.dr2net import dr2net_methods

from conftest import build_swin, weighted_output_loss


def live_tensors() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, torch.Tensor))


def test_hundreds_of_iterations_leave_nothing_behind():
    model, x = build_swin('mmdet')
    model = dr2net_mm.to_dr2net(model)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    (method,) = dr2net_methods(model)

    def iteration(i: int) -> None:
        t = (i % 50) / 49                    # the schedule, over and over: every chunking and probe path
        dr2net_mm.set_coefficients(model, 1.0 - t, t)
        loss = weighted_output_loss(model(x))
        if i % 7 == 3:                       # a skipped step: forward with gradients, no backward
            del loss
            return
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i % 11 == 5:                      # validation with gradients enabled, in eval mode
            model.eval()
            weighted_output_loss(model(x))
            model.train()

    for i in range(50):
        iteration(i)
    before, stats_before = live_tensors(), len(method.stats)
    for i in range(50, 300):
        iteration(i)
    assert live_tensors() <= before, (before, live_tensors())
    assert len(method.stats) == stats_before
    for stats in method.stats.values():
        assert stats.shrink == 0 and stats.fallbacks == 0
