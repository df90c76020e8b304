"""Average precision of temporal detections, as the ActivityNet and THUMOS-14 evaluations define it.

For one class and one temporal-IoU threshold: detections of all videos are taken in descending score;
each is a true positive if some not-yet-matched ground-truth segment of its video overlaps it by at
least the threshold (the best-overlapping such segment is matched), else a false positive. AP is the
area under the precision-recall curve after making precision monotone (each precision replaced by
the highest precision at any higher recall), summed at the recalls where it changes. mAP averages
AP over the classes that have ground truth; "average mAP" averages mAP over the thresholds.
"""
from typing import Dict, Hashable, List, Sequence, Tuple

import numpy as np

THUMOS14_TIOUS = (0.3, 0.4, 0.5, 0.6, 0.7)
ACTIVITYNET_TIOUS = tuple(np.round(np.linspace(0.5, 0.95, 10), 2).tolist())

Segment = Tuple[float, float]


def segment_iou(segment: Segment, others: np.ndarray) -> np.ndarray:
    """Temporal IoU of one ``(start, end)`` segment with each row of ``others`` (N x 2)."""
    others = np.asarray(others, dtype=np.float64).reshape(-1, 2)
    inter = np.clip(np.minimum(segment[1], others[:, 1]) - np.maximum(segment[0], others[:, 0]), 0, None)
    union = (segment[1] - segment[0]) + (others[:, 1] - others[:, 0]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    precision = np.concatenate([[0.0], precision, [0.0]])
    recall = np.concatenate([[0.0], recall, [1.0]])
    for i in range(len(precision) - 2, -1, -1):
        precision[i] = max(precision[i], precision[i + 1])
    steps = np.nonzero(recall[1:] != recall[:-1])[0] + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def average_precision(detections: Sequence[Tuple[Hashable, float, float, float]],
                      ground_truth: Sequence[Tuple[Hashable, float, float]],
                      tious: Sequence[float]) -> np.ndarray:
    """AP of one class at each threshold in ``tious``.

    ``detections``: ``(video, start, end, score)``; ``ground_truth``: ``(video, start, end)``.
    Detections with equal scores keep their given order (a stable sort), as the reference code does.
    """
    tious = list(tious)
    if not ground_truth:
        raise ValueError('average precision needs at least one ground-truth segment of the class')
    by_video: Dict[Hashable, np.ndarray] = {}
    for video, start, end in ground_truth:
        by_video.setdefault(video, []).append((start, end))
    by_video = {v: np.asarray(s, dtype=np.float64) for v, s in by_video.items()}
    order = sorted(range(len(detections)), key=lambda i: -detections[i][3])
    tp = np.zeros((len(tious), len(order)))
    matched = {(t, v): np.zeros(len(s), dtype=bool) for t in range(len(tious)) for v, s in by_video.items()}
    for rank, i in enumerate(order):
        video, start, end, _ = detections[i]
        if video not in by_video:
            continue
        overlaps = segment_iou((start, end), by_video[video])
        best_first = np.argsort(-overlaps, kind='stable')
        for t, threshold in enumerate(tious):
            taken = matched[(t, video)]
            for j in best_first:
                if overlaps[j] < threshold:
                    break
                if not taken[j]:
                    taken[j] = True
                    tp[t, rank] = 1
                    break
    fp = 1 - tp
    result = np.zeros(len(tious))
    for t in range(len(tious)):
        tp_sum, fp_sum = np.cumsum(tp[t]), np.cumsum(fp[t])
        recall = tp_sum / len(ground_truth)
        precision = tp_sum / np.maximum(tp_sum + fp_sum, np.finfo(np.float64).eps)
        result[t] = _interpolated_ap(precision, recall)
    return result


def detection_map(detections: Sequence[Tuple[Hashable, int, float, float, float]],
                  ground_truth: Sequence[Tuple[Hashable, int, float, float]],
                  tious: Sequence[float]) -> Dict[str, float]:
    """mAP per threshold and their average over the classes with ground truth.

    ``detections``: ``(video, label, start, end, score)``; ``ground_truth``: ``(video, label, start, end)``.
    """
    classes = sorted({g[1] for g in ground_truth})
    if not classes:
        raise ValueError('no ground-truth segments to evaluate against')
    per_class: List[np.ndarray] = []
    for label in classes:
        dets = [(d[0], d[2], d[3], d[4]) for d in detections if d[1] == label]
        gts = [(g[0], g[2], g[3]) for g in ground_truth if g[1] == label]
        per_class.append(average_precision(dets, gts, tious))
    maps = np.mean(per_class, axis=0)
    out = {f'mAP@{t:.2f}': float(m) for t, m in zip(tious, maps, strict=True)}
    out['average_mAP'] = float(np.mean(maps))
    return out
