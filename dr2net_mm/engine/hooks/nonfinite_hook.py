"""NonFiniteCheckHook: a run whose loss goes NaN or infinite stops, naming the iteration, before it
writes a checkpoint with non-finite weights.

mmengine trains on silently after a NaN loss (its ``CheckInvalidLossHook`` is opt-in and checks every
50 iterations): the weights turn NaN at the next step and every later checkpoint is useless. Under
fp16 loss scaling (``AmpOptimWrapper``) a non-finite loss is routine: the scaler skips that step and
lowers its scale, so the hook only counts and logs those steps. ``tools/train.py`` adds it to every
run; a config that lists it itself keeps its own settings.
"""
import math
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper

from ...methods import dr2net_summary
from ...registry import HOOKS
from .runner_model import runner_model

SHOWN_NAMES = 5


def _non_finite_losses(outputs: Optional[Dict]) -> Dict[str, float]:
    """The logged loss terms (``loss`` and ``*loss*`` keys) whose value is not finite."""
    found = {}
    for name, value in (outputs or {}).items():
        if 'loss' not in name:
            continue
        number = float(value.detach().float().mean()) if isinstance(value, torch.Tensor) else float(value)
        if not math.isfinite(number):
            found[name] = number
    return found


def non_finite_parameters(model: torch.nn.Module) -> List[str]:
    """Names of the model's parameters that hold a NaN or an infinity (buffers are left alone: a mask
    buffer may hold -inf by design)."""
    return [name for name, p in model.named_parameters() if not bool(torch.isfinite(p).all())]


@HOOKS.register_module()
class NonFiniteCheckHook(Hook):
    """Stop at the first non-finite loss (count it under loss scaling); refuse to save non-finite weights."""

    priority = 'ABOVE_NORMAL'    # before CheckpointHook (VERY_LOW) saves this iteration's weights

    def __init__(self):
        self.skipped_steps = 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        bad = _non_finite_losses(outputs)
        if not bad:
            return
        terms = ', '.join(f'{name}={value}' for name, value in bad.items())
        iteration = runner.iter + 1
        if isinstance(runner.optim_wrapper, AmpOptimWrapper):
            self.skipped_steps += 1
            runner.logger.warning(f'iteration {iteration}: {terms}; loss scaling skipped this step '
                                  f'({self.skipped_steps} skipped so far)')
            runner.message_hub.update_scalar('train/skipped_steps', float(self.skipped_steps))
            return
        raise RuntimeError(
            f'iteration {iteration}: non-finite loss ({terms}){self._dr2net_note(runner)}. Training stopped '
            'before a checkpoint with non-finite weights is written. Lower the learning rate, add gradient '
            'clipping (optim_wrapper.clip_grad), or resume from the last checkpoint.')

    @staticmethod
    def _dr2net_note(runner) -> str:
        summary = dr2net_summary(runner_model(runner))
        return f'; Dr²Net reconstruction error {summary["recon_error"]:.3g}' if summary else ''

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        bad = non_finite_parameters(runner_model(runner))
        if bad:
            shown = ', '.join(bad[:SHOWN_NAMES]) + (' ...' if len(bad) > SHOWN_NAMES else '')
            raise RuntimeError(f'iteration {runner.iter}: refusing to save a checkpoint whose weights are not '
                               f'finite ({len(bad)} parameters: {shown}); the last checkpoint written is intact')
