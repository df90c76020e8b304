"""Temporal action detection on untrimmed videos: annotations (annotations.py), the windows a sample
sees (windows.py), soft-NMS (postprocess.py) and the mAP at temporal-IoU thresholds (metric.py)."""
from .average_precision import ACTIVITYNET_TIOUS, THUMOS14_TIOUS, average_precision, detection_map, segment_iou
from .metric import TemporalActionMAP

__all__ = ['ACTIVITYNET_TIOUS', 'THUMOS14_TIOUS', 'TemporalActionMAP', 'average_precision', 'detection_map',
           'segment_iou']
