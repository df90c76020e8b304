"""Optimizer wrapper constructors."""
from .trainable_only import TrainableOnlyOptimWrapperConstructor

__all__ = ['TrainableOnlyOptimWrapperConstructor']
