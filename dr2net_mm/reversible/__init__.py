"""The framework-agnostic reversible engine (pure PyTorch, no OpenMMLab import)."""
from .pieces import PIECE_WORKING_SET, Pieces, SamplePieces
from .planner import GRAD_MODES, chunk_length, growth_rate, validate_grad_mode
from .replay import train_batchnorms
from .segment import DualResidualFunction, SegmentStats, run_segment
from .transition import run_transition
from .units import Unit, identity

__all__ = ['GRAD_MODES', 'PIECE_WORKING_SET', 'Pieces', 'SamplePieces', 'chunk_length', 'growth_rate',
           'validate_grad_mode', 'DualResidualFunction', 'SegmentStats', 'run_segment', 'run_transition',
           'train_batchnorms', 'Unit', 'identity']
