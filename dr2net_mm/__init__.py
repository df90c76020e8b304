"""dr2net-mm: memory-efficient finetuning of pretrained OpenMMLab backbones.

Python entry points: :func:`to_dr2net`, :func:`set_coefficients`, :func:`get_coefficients`, :func:`get_stats`,
:func:`to_dtl`.
Config entry points: ``type='dr2net_mm.Dr2Net'``, ``type='dr2net_mm.DTL'``, ``type='dr2net_mm.DynamicCoeffHook'``.
"""
from . import compat

compat.apply_all()

from .adapters import supported_backbones  # noqa: E402
from .methods import get_coefficients, get_stats, set_coefficients, to_dr2net, to_dtl  # noqa: E402

__version__ = '0.1.0'
__all__ = ['to_dr2net', 'set_coefficients', 'get_coefficients', 'get_stats', 'to_dtl', 'supported_backbones']
