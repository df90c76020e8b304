"""Measuring what the methods cost: live tensor memory, saved activations, time, gradient error."""
from .memory import LiveTensorTracker, SavedTensorMeter

__all__ = ['LiveTensorTracker', 'SavedTensorMeter']
