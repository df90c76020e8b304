"""Checkpoint helpers: find a run's last checkpoint, tell a damaged one, publish one the way the model
zoo does."""
import os.path as osp
import re
import zipfile
from pathlib import Path
from typing import List, Optional, Union

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


def checkpoint_problem(path: Union[str, Path]) -> Optional[str]:
    """Why ``path`` is not a checkpoint torch can load (one line), or None.

    ``torch.save`` writes a zip archive: its members are checked against their CRCs without unpickling
    (a checkpoint truncated by a killed job fails here). A file in torch's legacy format is loaded."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                if not any(name.endswith('data.pkl') for name in archive.namelist()):
                    return 'a zip archive, but not one torch.save wrote (no data.pkl)'
                damaged = archive.testzip()
            return None if damaged is None else f'its member {damaged} is damaged'
        torch.load(path, map_location='cpu', weights_only=False)
        return None
    except Exception as error:   # noqa: BLE001  (whatever torch or zipfile raise, the file is unusable)
        lines = str(error).strip().splitlines()
        return f'{type(error).__name__}: {lines[0] if lines else ""}'.rstrip(': ')


def run_checkpoints(work_dir: Union[str, Path]) -> List[str]:
    """The work dir's ``iter_N.pth`` / ``epoch_N.pth`` checkpoints, newest (largest N) first."""
    found = []
    for path in Path(work_dir).glob('*.pth'):
        match = re.fullmatch(r'(?:iter|epoch)_(\d+)\.pth', path.name)
        if match:
            found.append((int(match.group(1)), str(path)))
    return [path for _, path in sorted(found, reverse=True)]
