"""Untrimmed-video annotations and the windows a sample sees."""
import json

import numpy as np
import pytest

from dr2net_mm.tad.annotations import load_database, read_class_names
from dr2net_mm.tad.windows import Window, sliding_windows, truncated_window

THUMOS_LIKE = {'database': {
    'video_b': {'subset': 'validation', 'duration': 10.0, 'frame': 300,
                'annotations': [{'label': 'Jump', 'segment': [1.0, 2.0]}, {'label': 'Ambiguous', 'segment': [3, 4]}]},
    'video_a': {'subset': 'validation', 'duration': 5.0, 'frame': 125,
                'annotations': [{'label': 'Run', 'segment': [0.4, 2.0]}, {'label': 'Jump', 'segment': [4.0, 4.8]}]},
    'video_c': {'subset': 'training', 'duration': 2.0, 'frame': 50, 'annotations': []}}}


def _write(tmp_path, data):
    path = tmp_path / 'anno.json'
    path.write_text(json.dumps(data))
    return path


def test_thumos_style_database(tmp_path):
    records, classes = load_database(_write(tmp_path, THUMOS_LIKE), 'validation')
    assert classes == ['Jump', 'Run'] and [r.name for r in records] == ['video_a', 'video_b']
    a, b = records
    assert a.fps == 25 and a.num_frames == 125 and a.duration == 5.0
    assert a.segments.tolist() == [[10.0, 50.0], [100.0, 120.0]] and a.labels.tolist() == [1, 0]
    assert b.fps == 30 and b.segments.tolist() == [[30.0, 60.0]] and b.labels.tolist() == [0]   # Ambiguous dropped
    class_map = tmp_path / 'category_idx.txt'
    class_map.write_text('Run\nJump\n')
    records, classes = load_database(_write(tmp_path, THUMOS_LIKE), 'validation', read_class_names(class_map))
    assert classes == ['Run', 'Jump'] and records[0].labels.tolist() == [0, 1]


def test_activitynet_style_needs_a_frame_rate_and_errors_say_what_is_wrong(tmp_path):
    anet = {'database': {'v1': {'subset': 'training', 'duration': 4.0,
                                'annotations': [{'label': 'Dance', 'segment': [1.0, 3.0]}]}}}
    with pytest.raises(ValueError, match='neither "frame" nor "fps"; pass the dataset'):
        load_database(_write(tmp_path, anet), 'training')
    (record,), _ = load_database(_write(tmp_path, anet), 'training', fps=15)
    assert record.num_frames == 60 and record.segments.tolist() == [[15.0, 45.0]]
    with pytest.raises(ValueError, match="no video of subset 'validation'; its subsets are \\['training'\\]"):
        load_database(_write(tmp_path, anet), 'validation', fps=15)
    with pytest.raises(ValueError, match="label 'Dance', not in the class map"):
        load_database(_write(tmp_path, anet), 'training', ['Swim'], fps=15)
    with pytest.raises(ValueError, match='"database" mapping'):
        load_database(_write(tmp_path, {'videos': []}), 'training')


def test_sliding_windows_cover_the_video_with_the_overlap_asked_for():
    windows = sliding_windows(100, length=16, interval=2, overlap=0.5)
    assert [w.start for w in windows] == [0, 16, 32, 48, 64, 68]
    covered = np.zeros(100, dtype=bool)
    for w in windows:
        covered[w.start:w.start + w.span] = True
    assert covered.all() and windows[-1].start + windows[-1].span == 100
    assert sliding_windows(20, length=16, interval=2, overlap=0.25) == [Window(0, 16, 2)]
    assert Window(0, 16, 2).frame_indices(20).tolist()[-3:] == [19, 19, 19]   # past the end: the last frame
    with pytest.raises(ValueError, match='overlap must be in'):
        sliding_windows(100, 16, 2, 1.0)


def test_window_coordinates_round_trip():
    w = Window(40, 16, 4)
    segments = np.array([[44.0, 60.0]])
    assert w.to_window(segments).tolist() == [[1.0, 5.0]] and w.to_video(w.to_window(segments)).tolist() == [[44, 60]]


def test_truncated_window_keeps_segments_mostly_inside_and_clips_them():
    segments = np.array([[10.0, 30.0], [90.0, 130.0], [300.0, 310.0]])
    rng = np.random.default_rng(0)
    for _ in range(50):
        window, kept, inside = truncated_window(400, segments, length=25, interval=4, rng=rng, keep_fraction=0.5)
        assert window.span == 100 and 0 <= window.start <= 300
        lo, hi = window.start, window.start + window.span
        expected = [(min(e, hi) - max(s, lo)) / (e - s) >= 0.5 for s, e in segments]
        assert kept.tolist() == expected
        assert np.all(inside >= 0) and np.all(inside <= window.length)
        clipped = np.clip(segments[kept], lo, hi)
        assert np.allclose(window.to_video(inside), clipped)
    # a video shorter than the window: taken whole, every segment kept
    window, kept, inside = truncated_window(60, segments[:1], length=25, interval=4, rng=rng)
    assert window.start == 0 and kept.tolist() == [True] and inside.tolist() == [[2.5, 7.5]]
