"""Pipeline steps of temporal action detection, around mmaction2's decoding and image transforms."""
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from ..registry import TRANSFORMS
from .windows import Window, resized_window, truncated_window


@TRANSFORMS.register_module()
class TADWindow(BaseTransform):
    """The frames a sample decodes and its ground truth in window units (sampled frames).

    With ``resize_length`` the window is the whole video resampled; with ``window_start`` (test
    mode's sliding windows) it is fixed. Either way every segment that overlaps it is kept, clipped.
    Otherwise a random truncated window keeps the segments of which at least ``keep_fraction`` lies
    inside (``windows.truncated_window``). ``total_frames`` is the decoded video's where a video
    reader ran before (``DecordInit``), else the annotation's."""

    def __init__(self, keep_fraction: float = 0.5, trials: int = 10):
        self.keep_fraction, self.trials = keep_fraction, trials

    def transform(self, results: dict) -> dict:
        length, interval, frames = results['window_length'], results['frame_interval'], results['total_frames']
        segments = np.asarray(results['segments'], dtype=np.float64).reshape(-1, 2)
        if 'resize_length' in results or 'window_start' in results:
            window = (resized_window(frames, results['resize_length']) if 'resize_length' in results
                      else Window(int(results['window_start']), length, interval))
            lo, hi = window.start, window.start + window.span
            kept = (segments[:, 1] > lo) & (segments[:, 0] < hi)
            inside = window.to_window(np.clip(segments[kept], lo, hi))
        else:
            rng = np.random.default_rng(np.random.randint(2 ** 31))   # seeded by mmengine's randomness
            window, kept, inside = truncated_window(frames, segments, length, interval, rng, self.keep_fraction,
                                                    self.trials)
        results.update(frame_inds=window.frame_indices(frames) + results.get('start_index', 0),
                       clip_len=window.length, num_clips=1, window_start=window.start,
                       frame_interval=window.interval, valid_length=window.valid_length(frames),
                       gt_segments=inside.astype(np.float32), gt_labels=np.asarray(results['labels'])[kept])
        return results


@TRANSFORMS.register_module()
class PackTADInputs(BaseTransform):
    """``inputs`` (the formatted clip) and a data sample with the window's ground truth and what is
    needed to map detections back to the video (``video_name``, ``window_start``, ``frame_interval``,
    ``window_length``, ``valid_length``, ``total_frames``, ``fps``); the whole video's segments in
    frames as ``video_segments`` / ``video_labels`` for evaluation."""

    META = ('video_name', 'window_start', 'frame_interval', 'window_length', 'valid_length', 'total_frames', 'fps')

    def transform(self, results: dict) -> dict:
        sample = BaseDataElement(metainfo={k: results[k] for k in self.META})
        sample.gt_segments = torch.as_tensor(results['gt_segments'], dtype=torch.float32).reshape(-1, 2)
        sample.gt_labels = torch.as_tensor(results['gt_labels'], dtype=torch.long)
        sample.video_segments = torch.as_tensor(results['segments'], dtype=torch.float32).reshape(-1, 2)
        sample.video_labels = torch.as_tensor(results['labels'], dtype=torch.long)
        return dict(inputs=torch.from_numpy(np.ascontiguousarray(results['imgs'])), data_samples=sample)
