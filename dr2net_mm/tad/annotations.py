"""Untrimmed-video annotations in the THUMOS-14 / ActivityNet-1.3 JSON ``database`` format.

    {"database": {"video_test_0000004": {"subset": "validation", "duration": 33.5, "frame": 1004,
                                          "annotations": [{"label": "CricketBowling", "segment": [0.2, 1.1]}]}}}

``frame`` (THUMOS-14 as OpenTAD ships it) or ``fps`` gives the frame rate; ActivityNet files have
neither, so a dataset's ``fps`` must be given. Segments are kept in frames of the stored video.
Labels named in ``ignore`` (THUMOS-14's "Ambiguous") are dropped, as the official evaluation does.
"""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np


@dataclass(frozen=True)
class VideoRecord:
    name: str
    num_frames: int
    fps: float
    segments: np.ndarray     # (N, 2) start and end frame
    labels: np.ndarray       # (N,) class indices

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def read_class_names(class_map: Union[str, Path, Sequence[str]]) -> List[str]:
    """A class map file (one name per line, OpenTAD's ``category_idx.txt``) or the names themselves."""
    if isinstance(class_map, (str, Path)):
        names = [line.strip() for line in Path(class_map).read_text().splitlines() if line.strip()]
    else:
        names = list(class_map)
    if len(set(names)) != len(names):
        raise ValueError(f'class names repeat in {class_map!r}')
    return names


def load_database(ann_file: Union[str, Path], subset: str, class_names: Optional[Sequence[str]] = None,
                  fps: Optional[float] = None, ignore: Sequence[str] = ('Ambiguous',)) -> tuple:
    """``(records, class_names)`` of the videos of ``subset``; class names default to the sorted labels."""
    database = json.loads(Path(ann_file).read_text()).get('database')
    if not isinstance(database, dict):
        raise ValueError(f'{ann_file}: expected a JSON object with a "database" mapping of videos')
    videos = {name: info for name, info in database.items() if info.get('subset') == subset}
    if not videos:
        subsets = sorted({str(info.get('subset')) for info in database.values()})
        raise ValueError(f'{ann_file}: no video of subset {subset!r}; its subsets are {subsets}')
    if class_names is None:
        class_names = sorted({a['label'] for info in database.values() for a in info.get('annotations', [])
                              if a['label'] not in ignore})
    index = {name: i for i, name in enumerate(class_names)}
    records = []
    for name, info in sorted(videos.items()):
        rate = _frame_rate(name, info, fps)
        segments, labels = [], []
        for a in info.get('annotations', []):
            if a['label'] in ignore:
                continue
            if a['label'] not in index:
                raise ValueError(f'{ann_file}: video {name} has label {a["label"]!r}, not in the class map')
            start, end = (float(t) * rate for t in a['segment'])
            if end < start:
                raise ValueError(f'{ann_file}: video {name} has a segment that ends before it starts: {a["segment"]}')
            segments.append((start, end))
            labels.append(index[a['label']])
        num_frames = int(info['frame']) if 'frame' in info else int(round(float(info['duration']) * rate))
        records.append(VideoRecord(name, num_frames, rate, np.asarray(segments, dtype=np.float64).reshape(-1, 2),
                                   np.asarray(labels, dtype=np.int64)))
    return records, list(class_names)


def _frame_rate(name: str, info: dict, fps: Optional[float]) -> float:
    if fps is not None:
        return float(fps)
    if 'fps' in info:
        return float(info['fps'])
    if 'frame' in info and float(info.get('duration', 0)) > 0:
        return float(info['frame']) / float(info['duration'])
    raise ValueError(f'video {name}: the annotation gives neither "frame" nor "fps"; pass the dataset\'s fps')
