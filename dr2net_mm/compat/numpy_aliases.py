"""numpy 2 removed aliases that 2023-era OpenMMLab code still calls.

Seen in the pinned releases: ``np.Inf`` (mmaction2 ``utils/misc.py``, pose transforms), ``np.NAN``
(AVA evaluation), ``np.trapz`` (mmaction2 proposal AR/AUC), ``np.in1d`` (retrieval metric),
``np.float`` (mmdet YTVIS evaluation, mmcv ``pixel_group``). Each alias is added only when numpy
lacks the name, and maps to the documented numpy 2 replacement.
"""
import warnings
from typing import Any, Callable, Dict

import numpy as np


def _in1d(ar1: Any, ar2: Any, assume_unique: bool = False, invert: bool = False) -> np.ndarray:
    """``np.in1d`` flattened its first argument; ``np.isin`` keeps the shape."""
    return np.isin(np.asarray(ar1).ravel(), ar2, assume_unique=assume_unique, invert=invert)


def _replacements() -> Dict[str, Callable[[], Any]]:
    """Only the names the pinned packages use (checked by grepping mmdet, mmseg, mmaction2, mmcv, mmengine)."""
    return {
        'Inf': lambda: np.inf,
        'NAN': lambda: np.nan,
        'float': lambda: float,
        'trapz': lambda: np.trapezoid,
        'in1d': lambda: _in1d,
    }


def _has(name: str) -> bool:
    # numpy 2 raises AttributeError with an explanatory message for removed names; probing
    # ``np.object`` and friends only warns about their future meaning, so keep that quiet.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            getattr(np, name)
            return True
        except AttributeError:
            return False


def restore_numpy_aliases() -> list:
    """Add the removed names that are missing; return the names that were added."""
    added = []
    for name, make in _replacements().items():
        if not _has(name):
            setattr(np, name, make())
            added.append(name)
    return added
