"""mmaction2 1.2.0's ``ColorJitter`` fails under numpy 2 for a negative hue shift.

``adjust_hue`` adds ``int(factor * 255)`` (negative half of the time) to a uint8 HSV channel; numpy 2
refuses a Python int outside uint8's range (``OverflowError: Python integer -1 out of bounds for
uint8``), so a training whose pipeline jitters colour (OpenTAD-style temporal action detection
configs) stops at a random iteration. The fix shifts the hue in a wider integer type, which is what
numpy 1 did implicitly. It is installed as an import hook, so ``mmaction`` is not imported for it,
and it leaves a ``ColorJitter`` that already handles the shift alone.
"""
import importlib.abc
import importlib.util
import sys

import cv2
import numpy as np

MODULE = 'mmaction.datasets.transforms.processing'


def adjust_hue(img: np.ndarray, factor: float) -> np.ndarray:
    """mmaction2's ``ColorJitter.adjust_hue``, with the hue shifted in int16 (OpenCV's hue is 0..179)."""
    img = np.clip(img, 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    offset = int(factor * 255)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + offset) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)


def _needs_fix(color_jitter) -> bool:
    try:
        color_jitter.adjust_hue(np.zeros((2, 2, 3), np.float32), -0.1)
        return False
    except OverflowError:
        return True


def patch(module) -> bool:
    """Replace ``module.ColorJitter.adjust_hue`` if it overflows; whether it was replaced."""
    color_jitter = getattr(module, 'ColorJitter', None)
    if color_jitter is None or not _needs_fix(color_jitter):
        return False
    color_jitter.adjust_hue = staticmethod(adjust_hue)
    return True


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    """Finds ``MODULE`` with the other finders, then patches it once it has executed."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != MODULE:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            patch(module)
        spec.loader.exec_module = exec_and_patch
        return spec


def fix_color_jitter_hue() -> None:
    """Patch now if mmaction2's transforms are imported already, else when they are (idempotent)."""
    if MODULE in sys.modules:
        patch(sys.modules[MODULE])
    elif not any(isinstance(f, _PatchAfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchAfterImport())
