"""``type='dr2net_mm.UntrimmedVideoDataset'``: untrimmed videos with action segments, one sample per
video in training (``dr2net_mm.TADWindow`` then draws a random truncated window) and one per sliding
window in testing; or, with ``resize_length`` (ActivityNet-1.3 practice), one sample per video that
sees the whole video resampled to that many frames. Frames come as raw frames
(``frame_dir/img_00001.jpg``, mmaction2's ``RawFrameDecode``) or encoded videos (``DecordInit``
before ``dr2net_mm.TADWindow``, so that the window is placed in the video's real frame count, then
``DecordDecode``)."""
from pathlib import Path
from typing import Optional, Sequence, Union

from mmengine.dataset import BaseDataset

from ..registry import DATASETS
from .annotations import load_database, read_class_names
from .windows import sliding_windows


@DATASETS.register_module()
class UntrimmedVideoDataset(BaseDataset):
    """Args beyond mmengine's ``BaseDataset``:

    ann_file: the JSON ``database``; subset: e.g. 'training' / 'validation';
    window_length: sampled frames per window; frame_interval: video frames between them;
    resize_length: instead of windows, every video resampled to this many frames (then
        ``window_length`` and ``frame_interval`` are unused);
    class_map: a file of class names (one per line) or the names, default the sorted labels;
    fps: the frame rate where the annotation gives neither ``frame`` nor ``fps`` (ActivityNet);
    modality: 'frames' (a folder of images per video) or 'video' (``<video_prefix><name><video_ext>``
        files; ActivityNet's are named ``v_<id>.mp4``);
    window_overlap: sliding-window overlap in test mode.
    """

    def __init__(self, ann_file: str, subset: str, window_length: int, frame_interval: int = 1,
                 class_map: Union[str, Sequence[str], None] = None, fps: Optional[float] = None,
                 modality: str = 'frames', filename_tmpl: str = 'img_{:05}.jpg', start_index: int = 1,
                 video_ext: str = '.mp4', video_prefix: str = '', window_overlap: float = 0.5,
                 resize_length: Optional[int] = None, data_prefix: Optional[dict] = None, **kwargs):
        if modality not in ('frames', 'video'):
            raise ValueError(f"modality must be 'frames' or 'video', got {modality!r}")
        if window_length < 1 or frame_interval < 1:
            raise ValueError(f'window_length and frame_interval must be >= 1, got {window_length}, {frame_interval}')
        if resize_length is not None and resize_length < 1:
            raise ValueError(f'resize_length must be >= 1 (or None for windows), got {resize_length}')
        self.subset, self.window_length, self.frame_interval = subset, window_length, frame_interval
        self.resize_length, self.video_prefix = resize_length, video_prefix
        self.class_names = read_class_names(class_map) if class_map is not None else None
        self.fps, self.modality, self.filename_tmpl = fps, modality, filename_tmpl
        self.start_index, self.video_ext, self.window_overlap = start_index, video_ext, window_overlap
        super().__init__(ann_file=ann_file, data_prefix=data_prefix or dict(video=''), **kwargs)

    def load_data_list(self):
        records, classes = load_database(self.ann_file, self.subset, self.class_names, self.fps)
        self._metainfo['classes'] = tuple(classes)
        root = Path(self.data_prefix.get('video', ''))
        data_list = []
        for r in records:
            info = dict(video_name=r.name, total_frames=r.num_frames, fps=r.fps, segments=r.segments,
                        labels=r.labels, window_length=self.window_length, frame_interval=self.frame_interval,
                        start_index=self.start_index if self.modality == 'frames' else 0)
            if self.resize_length is not None:      # TADWindow places it in the decoded frame count
                info.update(resize_length=self.resize_length, window_length=self.resize_length)
            if self.modality == 'frames':
                info.update(frame_dir=str(root / r.name), filename_tmpl=self.filename_tmpl, modality='RGB')
            else:
                info.update(filename=str(root / f'{self.video_prefix}{r.name}{self.video_ext}'), modality='RGB')
            if not self.test_mode or self.resize_length is not None:
                data_list.append(info)
                continue
            for window in sliding_windows(r.num_frames, self.window_length, self.frame_interval,
                                          self.window_overlap):
                data_list.append(dict(info, window_start=window.start))
        return data_list
