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


def _video_of_frames(root, name, frames):
    """Frame i is a flat grey image of value 4 i, so a decoded clip tells which frames it holds."""
    import cv2
    folder = root / name
    folder.mkdir(parents=True)
    for i in range(frames):
        cv2.imwrite(str(folder / f'img_{i + 1:05}.jpg'), np.full((24, 32, 3), 4 * i, dtype=np.uint8))


def _dataset(tmp_path, test_mode):
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope('mmaction')
    _video_of_frames(tmp_path / 'frames', 'video_a', 50)
    ann = {'database': {'video_a': {'subset': 'validation', 'duration': 2.0, 'frame': 50, 'annotations': [
        {'label': 'Run', 'segment': [0.4, 0.8]}, {'label': 'Jump', 'segment': [1.2, 1.9]}]}}}
    pipeline = [dict(type='dr2net_mm.TADWindow'), dict(type='RawFrameDecode'),
                dict(type='Resize', scale=(16, 16), keep_ratio=False), dict(type='FormatShape', input_format='NCTHW'),
                dict(type='dr2net_mm.PackTADInputs')]
    return DATASETS.build(dict(type='dr2net_mm.UntrimmedVideoDataset', ann_file=str(_write(tmp_path, ann)),
                               subset='validation', window_length=8, frame_interval=2, window_overlap=0.5,
                               data_prefix=dict(video=str(tmp_path / 'frames')), pipeline=pipeline,
                               test_mode=test_mode))


def test_training_samples_decode_a_random_window_with_its_ground_truth(tmp_path):
    dataset = _dataset(tmp_path, test_mode=False)
    assert len(dataset) == 1 and dataset.metainfo['classes'] == ('Jump', 'Run')
    for seed in range(5):
        np.random.seed(seed)
        out = dataset[0]
        inputs, sample = out['inputs'], out['data_samples']
        assert inputs.shape == (1, 3, 8, 16, 16)
        start = sample.metainfo['window_start']
        frames = start + 2 * np.arange(8)
        assert np.allclose(inputs[0, 0, :, 8, 8].numpy(), 4 * frames, atol=3)   # the frames asked for, in order
        # segments in video frames: Run 10-20, Jump 30-47.5; window: start .. start + 16
        for (s, e), label in zip(sample.gt_segments.tolist(), sample.gt_labels.tolist(), strict=True):
            video = (10.0, 20.0) if label == 1 else (30.0, 47.5)
            assert s == pytest.approx((max(video[0], start) - start) / 2) and e == pytest.approx(
                (min(video[1], start + 16) - start) / 2)
        assert sample.video_segments.tolist() == [[10.0, 20.0], [30.0, 47.5]]


def test_test_samples_are_the_sliding_windows(tmp_path):
    dataset = _dataset(tmp_path, test_mode=True)
    starts = [dataset.get_data_info(i)['window_start'] for i in range(len(dataset))]
    assert starts == [w.start for w in sliding_windows(50, 8, 2, 0.5)] == [0, 8, 16, 24, 32, 34]
    last = dataset[len(dataset) - 1]['data_samples']
    assert last.metainfo['valid_length'] == 8 and last.gt_labels.tolist() == [0]       # frames 34-48: Jump only
    assert last.gt_segments.tolist() == [[0.0, 6.75]]


def test_a_resized_window_samples_the_whole_video_at_a_fractional_interval():
    from dr2net_mm.tad.windows import resized_window
    window = resized_window(50, 8)
    assert window.interval == pytest.approx(6.25) and window.span == pytest.approx(50)
    assert window.frame_indices(50).tolist() == [0, 6, 12, 18, 25, 31, 37, 43]
    assert window.valid_length(50) == 8
    assert np.allclose(window.to_video(window.to_window([[10.0, 20.0]])), [[10.0, 20.0]])
    with pytest.raises(ValueError, match='needs frames and a length'):
        resized_window(0, 8)


def _encoded_video(path, frames, fps=25.0):
    """An MPEG-4 file (decord reads it) whose frame i is a flat grey of value 4 i."""
    import cv2
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, (32, 24))
    for i in range(frames):
        writer.write(np.full((24, 32, 3), 4 * i, dtype=np.uint8))
    writer.release()


@pytest.mark.parametrize('test_mode', [False, True])
def test_activitynet_style_videos_resize_to_a_fixed_length_from_their_real_frame_count(tmp_path, test_mode):
    """ActivityNet-1.3 practice: every video (``v_<id>.mp4``) resampled to ``resize_length`` frames,
    placed in the frame count the video reader finds (the annotation's duration x fps is rounded)."""
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope('mmaction')
    _encoded_video(tmp_path / 'videos' / 'v_abc.mp4', 40)
    ann = {'database': {'abc': {'subset': 'validation', 'duration': 1.63, 'annotations': [
        {'label': 'Run', 'segment': [0.4, 0.8]}]}}}
    pipeline = [dict(type='DecordInit'), dict(type='dr2net_mm.TADWindow'), dict(type='DecordDecode'),
                dict(type='FormatShape', input_format='NCTHW'), dict(type='dr2net_mm.PackTADInputs')]
    dataset = DATASETS.build(dict(type='dr2net_mm.UntrimmedVideoDataset', ann_file=str(_write(tmp_path, ann)),
                                  subset='validation', window_length=1024, resize_length=8, fps=25.0,
                                  modality='video', video_prefix='v_', data_prefix=dict(video=str(tmp_path / 'videos')),
                                  pipeline=pipeline, test_mode=test_mode))
    assert len(dataset) == 1 and dataset.get_data_info(0)['total_frames'] == 41     # 1.63 s x 25 fps, rounded
    out = dataset[0]
    sample = out['data_samples']
    assert out['inputs'].shape == (1, 3, 8, 24, 32)
    assert sample.metainfo['frame_interval'] == pytest.approx(40 / 8)               # the decoded 40 frames
    assert np.allclose(out['inputs'][0, 0, :, 4, 4].numpy(), 4 * 5 * np.arange(8), atol=4)
    assert sample.gt_segments.tolist() == [[pytest.approx(2.0), pytest.approx(4.0)]]   # frames 10-20 / 5
