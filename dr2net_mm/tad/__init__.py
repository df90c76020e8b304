"""Temporal action detection on untrimmed videos: annotations (annotations.py), the windows a sample
sees (windows.py), the detector (detector.py, targets.py), soft-NMS (postprocess.py) and the mAP at
temporal-IoU thresholds (metric.py)."""
from .average_precision import ACTIVITYNET_TIOUS, THUMOS14_TIOUS, average_precision, detection_map, segment_iou
from .dataset import UntrimmedVideoDataset
from .detector import TemporalActionDetector
from .metric import TemporalActionMAP
from .transforms import PackTADInputs, TADWindow

__all__ = ['ACTIVITYNET_TIOUS', 'THUMOS14_TIOUS', 'PackTADInputs', 'TADWindow', 'TemporalActionDetector',
           'TemporalActionMAP', 'UntrimmedVideoDataset', 'average_precision', 'detection_map', 'segment_iou']
