"""Registered hooks."""
from .coeff_schedule import POLICIES, CoeffSchedule
from .dynamic_coeff_hook import DynamicCoeffHook
from .nonfinite_hook import NonFiniteCheckHook
from .pretrained_load_hook import PretrainedLoadCheckHook
from .rng_state_hook import RngStateHook

__all__ = ['POLICIES', 'CoeffSchedule', 'DynamicCoeffHook', 'NonFiniteCheckHook', 'PretrainedLoadCheckHook',
           'RngStateHook']
