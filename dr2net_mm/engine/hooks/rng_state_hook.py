"""RngStateHook: a resumed run draws the random numbers the uninterrupted run would have drawn.

mmengine's resume restores weights, optimizer, schedulers and the seed, but not the state of the random
generators: it re-seeds them, so drop-path masks and data augmentation after a resume differ from the
run that was never stopped. This hook saves the Python, NumPy and torch (CPU and CUDA) generator states
in every checkpoint and puts them back at the point where the uninterrupted run stood: at the start
of the next epoch, or (iteration-based loops) after the loop has advanced its dataloader past the
batches already trained, right before it fetches the first new one. Dataloader workers need nothing:
they are seeded at start and replay the skipped batches. ``tools/train.py`` adds it to every run.
"""
import random
from typing import Any, Dict, Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop

from ...registry import HOOKS

KEY = 'dr2net_rng_state'


def capture() -> Dict[str, Any]:
    state = dict(python=random.getstate(), numpy=np.random.get_state(), torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore(state: Dict[str, Any]) -> None:
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreAfter:
    """A dataloader iterator that restores ``state`` once ``skip`` batches have been taken from it."""

    def __init__(self, iterator, skip: int, state: Dict[str, Any]):
        self.iterator, self.skip, self.state = iterator, skip, state

    def __next__(self):
        if self.skip == 0 and self.state is not None:
            restore(self.state)
            self.state = None
        self.skip -= 1
        return next(self.iterator)

    def __iter__(self):
        return self

    def __getattr__(self, name):
        return getattr(self.iterator, name)


@HOOKS.register_module()
class RngStateHook(Hook):
    """Save the random generators' states with each checkpoint; restore them where the run stood."""

    priority = 'VERY_HIGH'

    def __init__(self):
        self._loaded: Optional[Dict[str, Any]] = None
        self._checkpoint_loaded = False

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[KEY] = capture()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded, self._checkpoint_loaded = checkpoint.get(KEY), True

    def before_train_epoch(self, runner) -> None:
        """Only a resume (the loop's counters came back with the checkpoint) takes the states over; a
        finetuning that starts from a checkpoint (``load_from``) draws from its own seed."""
        loaded, self._loaded = self._loaded, None
        checkpoint_loaded, self._checkpoint_loaded = self._checkpoint_loaded, False    # the first epoch only
        loop = runner.train_loop
        if not checkpoint_loaded or loop.iter == 0:
            return
        if loaded is None:
            runner.logger.warning('the checkpoint holds no random generator states (saved without RngStateHook): '
                                  'the resumed run draws other random numbers than an uninterrupted one would')
        elif isinstance(loop, IterBasedTrainLoop):
            loop.dataloader_iterator = _RestoreAfter(loop.dataloader_iterator, loop.iter, loaded)
        else:
            restore(loaded)
