"""Suppression of overlapping temporal detections: Gaussian soft-NMS per class, as ActionFormer and
OpenTAD post-process, on mmcv's CPU soft-NMS.

A segment ``[start, end]`` is the box ``[start, 0, end, 1]``: two such boxes overlap by the segments'
overlap times 1, so their box IoU is exactly the segments' temporal IoU.
"""
from typing import Sequence, Tuple

import torch
from mmcv.ops import soft_nms
from torch import Tensor


def segments_as_boxes(segments: Tensor) -> Tensor:
    """``(N, 2)`` segments as ``(N, 4)`` boxes of unit height."""
    zeros, ones = segments.new_zeros(len(segments)), segments.new_ones(len(segments))
    return torch.stack([segments[:, 0], zeros, segments[:, 1], ones], dim=1)


def soft_nms_1d(segments: Tensor, scores: Tensor, labels: Tensor, sigma: float = 0.5, min_score: float = 1e-3,
                max_segments: int = 200) -> Tuple[Tensor, Tensor, Tensor]:
    """Each class on its own: every segment's score decays by ``exp(-iou² / sigma)`` against each
    higher-scoring segment kept before it; segments under ``min_score`` go; the ``max_segments``
    highest scores over all classes stay. Returns segments, scores and labels, best first."""
    if not (segments.ndim == 2 and segments.shape[1] == 2 and len(scores) == len(labels) == len(segments)):
        raise ValueError(f'soft_nms_1d: segments must be (N, 2) with N scores and labels, got {tuple(segments.shape)}, '
                         f'{tuple(scores.shape)}, {tuple(labels.shape)}')
    if (segments[:, 1] < segments[:, 0]).any():
        raise ValueError('soft_nms_1d: a segment ends before it starts')
    kept_segments, kept_scores, kept_labels = [], [], []
    for label in labels.unique():
        mask = labels == label
        dets, _ = soft_nms(segments_as_boxes(segments[mask].float()), scores[mask].float().contiguous(),
                           iou_threshold=0.0, sigma=sigma, min_score=min_score, method='gaussian')
        kept_segments.append(dets[:, [0, 2]])
        kept_scores.append(dets[:, 4])
        kept_labels.append(labels.new_full((len(dets),), int(label)))
    if not kept_segments:
        return segments.new_zeros((0, 2)), scores.new_zeros(0), labels.new_zeros(0)
    segments, scores, labels = torch.cat(kept_segments), torch.cat(kept_scores), torch.cat(kept_labels)
    order = scores.argsort(descending=True, stable=True)[:max_segments]
    return segments[order], scores[order], labels[order]


def merge_windows(window_detections: Sequence[Tuple[object, Tensor, Tensor, Tensor]], num_frames: int,
                  sigma: float = 0.5, min_score: float = 1e-3,
                  max_segments: int = 200) -> Tuple[Tensor, Tensor, Tensor]:
    """One video's detections from its sliding windows: ``(window, segments, scores, labels)`` with
    segments in each window's sampled-frame units (``windows.Window``). They are mapped to video frames,
    clipped to the video (segments wholly past its end are dropped), merged, and only then suppressed,
    so that an action seen by two overlapping windows is one detection."""
    segments, scores, labels = [], [], []
    for window, seg, score, label in window_detections:
        seg = window.to_video(seg.double()).clamp(0, num_frames)
        inside = seg[:, 1] > seg[:, 0]        # past the video's end (a window's padding): nothing left
        segments.append(seg[inside])
        scores.append(score[inside])
        labels.append(label[inside])
    if not segments:
        return torch.zeros((0, 2)), torch.zeros(0), torch.zeros(0, dtype=torch.long)
    return soft_nms_1d(torch.cat(segments).float(), torch.cat(scores), torch.cat(labels), sigma=sigma,
                       min_score=min_score, max_segments=max_segments)
