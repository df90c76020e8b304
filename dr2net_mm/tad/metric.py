"""``type='dr2net_mm.TemporalActionMAP'``: the detection mAP of an untrimmed-video test set."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from ..registry import METRICS
from .average_precision import THUMOS14_TIOUS, detection_map
from .postprocess import merge_windows
from .windows import Window

PER_VIDEO = ('video_name', 'pred_segments', 'pred_labels', 'pred_scores', 'gt_segments', 'gt_labels')
PER_WINDOW = ('video_name', 'window_start', 'frame_interval', 'window_length', 'total_frames', 'pred_segments',
              'pred_labels', 'pred_scores', 'video_segments', 'video_labels')


def _array(value) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, 'detach') else np.asarray(value)


@METRICS.register_module()
class TemporalActionMAP(BaseMetric):
    """mAP at each temporal-IoU threshold and their average (THUMOS-14's 0.3:0.1:0.7 by default;
    ActivityNet's is ``ACTIVITYNET_TIOUS``).

    A data sample is either one video's detections (``video_name``, ``pred_segments`` (N x 2, in the
    ground truth's unit), ``pred_labels``, ``pred_scores``, ``gt_segments``, ``gt_labels``) or, as
    ``TemporalActionDetector`` predicts them, one sliding window's (also ``window_start``,
    ``frame_interval``, ``window_length``, ``total_frames``, and the whole video's ``video_segments`` /
    ``video_labels`` in frames): a video's windows are then merged in video frames and suppressed
    (Gaussian soft-NMS: ``sigma``, ``min_score``, ``max_per_video``) before the evaluation.
    """

    default_prefix = 'tad'

    def __init__(self, tious: Sequence[float] = THUMOS14_TIOUS, sigma: float = 0.5, min_score: float = 1e-3,
                 max_per_video: int = 200, collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.sigma, self.min_score, self.max_per_video = sigma, min_score, max_per_video
        tious = [float(t) for t in tious]
        if not tious or not all(0 < t <= 1 for t in tious):
            raise ValueError(f'tious must be thresholds in (0, 1], got {tious}')
        self.tious = tious

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            keys = PER_WINDOW if 'window_start' in sample else PER_VIDEO
            missing = [k for k in keys if k not in sample]
            if missing:
                raise KeyError(f'TemporalActionMAP: a data sample lacks {missing}; it has {sorted(sample)}')
            self.results.append({k: sample[k] if k == 'video_name' else _array(sample[k]) for k in keys})

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        detections, ground_truth = [], []
        for r in self._per_video(results):
            video = r['video_name']
            for (start, end), label, score in zip(r['pred_segments'].reshape(-1, 2), r['pred_labels'].reshape(-1),
                                                  r['pred_scores'].reshape(-1), strict=True):
                detections.append((video, int(label), float(start), float(end), float(score)))
            for (start, end), label in zip(r['gt_segments'].reshape(-1, 2), r['gt_labels'].reshape(-1), strict=True):
                ground_truth.append((video, int(label), float(start), float(end)))
        return detection_map(detections, ground_truth, self.tious)

    def _per_video(self, results: List[dict]) -> List[dict]:
        """Window results merged into one result per video (video frames); per-video ones as they are."""
        videos: Dict[str, List[dict]] = {}
        out = []
        for r in results:
            if 'window_start' in r:
                videos.setdefault(r['video_name'], []).append(r)
            else:
                out.append(r)
        for name, windows in videos.items():
            detections = [(Window(int(w['window_start']), int(w['window_length']), float(w['frame_interval'])),
                           torch.as_tensor(w['pred_segments']).reshape(-1, 2), torch.as_tensor(w['pred_scores']),
                           torch.as_tensor(w['pred_labels']).long()) for w in windows]
            segments, scores, labels = merge_windows(detections, int(windows[0]['total_frames']), self.sigma,
                                                     self.min_score, self.max_per_video)
            out.append(dict(video_name=name, pred_segments=segments.numpy(), pred_scores=scores.numpy(),
                            pred_labels=labels.numpy(), gt_segments=windows[0]['video_segments'],
                            gt_labels=windows[0]['video_labels']))
        return out
