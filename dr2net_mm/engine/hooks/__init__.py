"""Registered hooks."""
from .coeff_schedule import POLICIES, CoeffSchedule
from .dynamic_coeff_hook import DynamicCoeffHook

__all__ = ['POLICIES', 'CoeffSchedule', 'DynamicCoeffHook']
