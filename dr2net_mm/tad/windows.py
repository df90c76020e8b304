"""Which frames of an untrimmed video a sample sees: random truncated windows for training, sliding
windows for testing (their detections are mapped back to video frames and merged before suppression).

A window of ``length`` sampled frames, ``interval`` frames apart, spans ``length * interval`` frames
of the video from ``start``; ground truth inside it is expressed in sampled-frame units. A resized
window (ActivityNet practice) is the whole video sampled at a fractional interval.
"""
import math
from dataclasses import dataclass
from typing import List

import numpy as np


@dataclass(frozen=True)
class Window:
    start: int            # first video frame
    length: int           # sampled frames
    interval: float       # video frames between two sampled frames (fractional in a resized window)

    @property
    def span(self) -> float:
        return self.length * self.interval

    def frame_indices(self, num_frames: int) -> np.ndarray:
        """Video frames to decode; past the video's end the last frame repeats (the model masks it)."""
        frames = np.floor(self.start + np.arange(self.length) * self.interval + 1e-6).astype(np.int64)
        return np.minimum(frames, num_frames - 1)

    def valid_length(self, num_frames: int) -> int:
        """Sampled frames before the video ends."""
        return min(self.length, math.ceil((num_frames - self.start) / self.interval - 1e-6))

    def to_window(self, segments: np.ndarray) -> np.ndarray:
        """Video frames -> sampled-frame units of this window (not clipped)."""
        return (np.asarray(segments, dtype=np.float64) - self.start) / self.interval

    def to_video(self, segments):
        """Sampled-frame units of this window -> video frames (arrays or tensors alike)."""
        if not hasattr(segments, 'dtype'):
            segments = np.asarray(segments, dtype=np.float64)
        return segments * self.interval + self.start


def resized_window(num_frames: int, length: int) -> Window:
    """The whole video resampled to ``length`` frames (ActivityNet-1.3 practice: every video alike)."""
    if num_frames < 1 or length < 1:
        raise ValueError(f'a resized window needs frames and a length, got {num_frames} and {length}')
    return Window(0, length, num_frames / length)


def sliding_windows(num_frames: int, length: int, interval: int, overlap: float) -> List[Window]:
    """Windows that cover the whole video, consecutive ones sharing ``overlap`` of their span; the last
    one ends at the video's end (or starts at 0 for a video shorter than a window)."""
    if not 0 <= overlap < 1:
        raise ValueError(f'window overlap must be in [0, 1), got {overlap}')
    span = length * interval
    if num_frames <= span:
        return [Window(0, length, interval)]
    stride = max(interval, int(round(span * (1 - overlap) / interval)) * interval)
    starts = list(range(0, num_frames - span, stride)) + [num_frames - span]
    return [Window(s, length, interval) for s in sorted(set(starts))]


def truncated_window(num_frames: int, segments: np.ndarray, length: int, interval: int, rng: np.random.Generator,
                     keep_fraction: float = 0.5, trials: int = 10):
    """A random window and the ground truth it keeps: ``(window, kept, segments in window units)``.

    A segment is kept when at least ``keep_fraction`` of it lies inside the window; it is clipped to the
    window. Up to ``trials`` random starts are tried for one that keeps a segment (ActionFormer's
    rule); a video no longer than the window is taken whole.
    """
    span = length * interval
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    for _ in range(max(1, trials)):
        start = 0 if num_frames <= span else int(rng.integers(0, num_frames - span + 1))
        window = Window(start, length, interval)
        inside = np.clip(segments, start, start + span)
        lengths = segments[:, 1] - segments[:, 0]
        within = ((segments[:, 0] >= start) & (segments[:, 0] <= start + span)).astype(np.float64)
        covered = np.divide(inside[:, 1] - inside[:, 0], lengths, out=within, where=lengths > 0)
        kept = covered >= keep_fraction
        if kept.any() or num_frames <= span:
            break
    return window, kept, window.to_window(inside[kept])
