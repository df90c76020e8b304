"""``type='dr2net_mm.TemporalActionMAP'``: the detection mAP of an untrimmed-video test set."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from ..registry import METRICS
from .average_precision import THUMOS14_TIOUS, detection_map


def _array(value) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, 'detach') else np.asarray(value)


@METRICS.register_module()
class TemporalActionMAP(BaseMetric):
    """mAP at each temporal-IoU threshold and their average (THUMOS-14's 0.3:0.1:0.7 by default;
    ActivityNet's is ``ACTIVITYNET_TIOUS``).

    Each data sample is a dict with ``video_name``, ``pred_segments`` (N x 2, seconds or frames, the
    same unit as the ground truth), ``pred_labels``, ``pred_scores``, ``gt_segments`` and ``gt_labels``.
    """

    default_prefix = 'tad'

    def __init__(self, tious: Sequence[float] = THUMOS14_TIOUS, collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        tious = [float(t) for t in tious]
        if not tious or not all(0 < t <= 1 for t in tious):
            raise ValueError(f'tious must be thresholds in (0, 1], got {tious}')
        self.tious = tious

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            missing = [k for k in ('video_name', 'pred_segments', 'pred_labels', 'pred_scores', 'gt_segments',
                                   'gt_labels') if k not in sample]
            if missing:
                raise KeyError(f'TemporalActionMAP: a data sample lacks {missing}; it has {sorted(sample)}')
            self.results.append({k: sample[k] if k == 'video_name' else _array(sample[k]) for k in sample
                                 if k in ('video_name', 'pred_segments', 'pred_labels', 'pred_scores',
                                          'gt_segments', 'gt_labels')})

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        detections, ground_truth = [], []
        for r in results:
            video = r['video_name']
            for (start, end), label, score in zip(r['pred_segments'].reshape(-1, 2), r['pred_labels'].reshape(-1),
                                                  r['pred_scores'].reshape(-1), strict=True):
                detections.append((video, int(label), float(start), float(end), float(score)))
            for (start, end), label in zip(r['gt_segments'].reshape(-1, 2), r['gt_labels'].reshape(-1), strict=True):
                ground_truth.append((video, int(label), float(start), float(end)))
        return detection_map(detections, ground_truth, self.tious)
