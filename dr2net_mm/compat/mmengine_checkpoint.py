"""mmengine 0.10.7 resume under torch >= 2.6 (mmengine #1655, fixed only on mmengine's main).

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine's local checkpoint loader calls
``torch.load`` without the argument, so resuming fails on the ``HistoryBuffer`` objects the message
hub stores in every checkpoint. We re-register mmengine's local-file scheme with the loader it had
before torch 2.6 (``weights_only=False``), as mmengine's own fix does. As with any pickle, only load
checkpoints you trust (your own runs, the official model zoo). HTTP(S) loading goes through
``torch.hub.load_state_dict_from_url``, whose default is already ``weights_only=False``.
"""
import inspect
import os
import os.path as osp
from typing import Any, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader


def _torch_load_accepts_weights_only() -> bool:
    return 'weights_only' in inspect.signature(torch.load).parameters


def load_local_checkpoint(filename: str, map_location: Optional[Any] = None) -> Any:
    """mmengine's ``load_from_local`` with an explicit ``weights_only=False``."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'checkpoint {filename} can not be found (relative paths start at {os.getcwd()}). A config that '
            f'names a model zoo checkpoint by a local path needs it downloaded (and, for the ViT, BEiT and MAE '
            f'configs, converted) first: see "Pretrained checkpoints" in the README.')
    if _torch_load_accepts_weights_only():
        return torch.load(filename, map_location=map_location, weights_only=False)
    return torch.load(filename, map_location=map_location)


def allow_full_checkpoint_load() -> None:
    """Route mmengine's local-file checkpoint scheme through :func:`load_local_checkpoint`."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
