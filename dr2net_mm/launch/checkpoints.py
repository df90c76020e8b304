"""Checkpoint helpers: find a run's last checkpoint, publish it the way the model zoo does."""
import os.path as osp
from pathlib import Path
from typing import Optional, Union

import torch


def last_checkpoint(work_dir: Union[str, Path]) -> Optional[str]:
    """The path mmengine's CheckpointHook recorded in ``work_dir/last_checkpoint``, if any."""
    record = Path(work_dir) / 'last_checkpoint'
    if not record.is_file():
        return None
    path = record.read_text().strip()
    return path if osp.isfile(path) else None


def publish_checkpoint(src: Union[str, Path], dst: Union[str, Path]) -> Path:
    """Keep only ``state_dict`` and ``meta`` (as OpenMMLab's ``publish_model``): a model zoo checkpoint."""
    checkpoint = torch.load(src, map_location='cpu', weights_only=False)
    meta = {k: v for k, v in checkpoint.get('meta', {}).items() if k in ('dataset_meta', 'mmengine_version',
                                                                       'epoch', 'iter', 'cfg', 'seed')}
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(state_dict=checkpoint['state_dict'], meta=meta), dst)
    return dst
