"""Temporal action detection on untrimmed videos: evaluation first (mAP at temporal IoU thresholds)."""
from .average_precision import ACTIVITYNET_TIOUS, THUMOS14_TIOUS, average_precision, detection_map, segment_iou
from .metric import TemporalActionMAP

__all__ = ['ACTIVITYNET_TIOUS', 'THUMOS14_TIOUS', 'TemporalActionMAP', 'average_precision', 'detection_map',
           'segment_iou']
