"""Memory-efficient finetuning methods built on the adapters and the engine."""
from .dr2net import Dr2NetMethod, dr2net_summary, get_coefficients, get_stats, set_coefficients, to_dr2net
from .dtl import DTLMethod, to_dtl

__all__ = ['DTLMethod', 'to_dtl', 'Dr2NetMethod', 'dr2net_summary', 'get_coefficients', 'get_stats',
           'set_coefficients', 'to_dr2net']
