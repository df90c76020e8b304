"""Temporal action detection mAP against hand-computed average precision."""
import numpy as np
import pytest

from dr2net_mm.tad import ACTIVITYNET_TIOUS, THUMOS14_TIOUS, average_precision, detection_map, segment_iou


def test_segment_iou():
    assert segment_iou((0, 10), np.array([[0, 10], [5, 15], [10, 20], [2, 4]])).tolist() == pytest.approx(
        [1.0, 5 / 15, 0.0, 0.2])


def test_thresholds():
    assert THUMOS14_TIOUS == (0.3, 0.4, 0.5, 0.6, 0.7)
    assert ACTIVITYNET_TIOUS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def test_duplicates_are_false_positives_and_the_threshold_decides():
    gts = [('v', 0, 10), ('v', 20, 30)]
    dets = [('v', 0, 10, 0.9), ('v', 21, 29, 0.8), ('v', 0, 10, 0.7)]   # the second overlaps by 0.8
    # 0.5: TP TP FP -> precision 1, 1 at recalls 0.5, 1 -> AP 1
    # 0.9: TP FP FP -> precision 1 at recall 0.5 only -> AP 0.5
    assert average_precision(dets, gts, [0.5, 0.9]).tolist() == pytest.approx([1.0, 0.5])


def test_precision_is_made_monotone():
    gts = [('v', 0, 10), ('v', 20, 30)]
    dets = [('v', 40, 50, 0.95), ('v', 0, 10, 0.9), ('v', 20, 30, 0.5)]
    # FP TP TP: precision 0, 1/2, 2/3 at recalls 0, 1/2, 1; made monotone 2/3 everywhere -> AP 2/3
    assert average_precision(dets, gts, [0.5]).tolist() == pytest.approx([2 / 3])


def test_a_matched_segment_passes_the_detection_on_to_the_next_best_overlap():
    gts = [('v', 0, 10), ('v', 5, 15)]
    dets = [('v', 5, 15, 0.9), ('v', 4, 14, 0.8)]   # the second: 9/11 with the matched one, 6/14 with the other
    assert average_precision(dets, gts, [0.4, 0.5]).tolist() == pytest.approx([1.0, 0.5])


def test_videos_are_kept_apart_and_scores_order_across_videos():
    gts = [('a', 0, 10), ('b', 0, 10)]
    dets = [('b', 0, 10, 0.3), ('a', 0, 10, 0.6), ('c', 0, 10, 0.9), ('a', 0, 10, 0.1)]
    # by score: c (no ground truth: FP), a TP, b TP, a duplicate FP -> precision 0, 1/2, 2/3 -> AP 2/3
    assert average_precision(dets, gts, [0.5]).tolist() == pytest.approx([2 / 3])


def test_no_detection_gives_zero_and_missing_ground_truth_is_an_error():
    assert average_precision([], [('v', 0, 1)], [0.5]).tolist() == [0.0]
    with pytest.raises(ValueError, match='at least one ground-truth segment'):
        average_precision([('v', 0, 1, 0.5)], [], [0.5])


def test_map_averages_classes_with_ground_truth_then_thresholds():
    gts = [('v', 0, 0, 10), ('v', 1, 20, 30)]
    dets = [('v', 0, 0, 10, 0.9), ('v', 1, 21, 29, 0.8), ('v', 1, 0, 10, 0.95), ('v', 2, 40, 50, 0.99)]
    # class 0: AP 1 at both; class 1: FP then TP (IoU 0.8): 0.5 at 0.5, 0 at 0.9; class 2 has no ground truth
    result = detection_map(dets, gts, [0.5, 0.9])
    assert result == pytest.approx({'mAP@0.50': 0.75, 'mAP@0.90': 0.5, 'average_mAP': 0.625})


def test_the_metric_builds_from_an_mmaction_config_and_evaluates_samples():
    import torch
    from mmengine.evaluator import Evaluator
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    evaluator = Evaluator(dict(type='dr2net_mm.TemporalActionMAP', tious=[0.5, 0.9]))
    samples = [dict(video_name='v', pred_segments=torch.tensor([[0., 10.], [21., 29.], [0., 10.], [40., 50.]]),
                    pred_labels=torch.tensor([0, 1, 1, 2]), pred_scores=torch.tensor([0.9, 0.8, 0.95, 0.99]),
                    gt_segments=torch.tensor([[0., 10.], [20., 30.]]), gt_labels=torch.tensor([0, 1]))]
    evaluator.process(samples)
    assert evaluator.evaluate(1) == pytest.approx({'tad/mAP@0.50': 0.75, 'tad/mAP@0.90': 0.5,
                                                   'tad/average_mAP': 0.625})
    with pytest.raises(KeyError, match="lacks \\['gt_labels'\\]"):
        evaluator.process([{k: v for k, v in samples[0].items() if k != 'gt_labels'}])
    with pytest.raises(ValueError, match='tious must be thresholds'):
        Evaluator(dict(type='dr2net_mm.TemporalActionMAP', tious=[0.5, 1.5]))


def test_gaussian_soft_nms_decays_overlaps_within_a_class_only():
    import math

    import torch

    from dr2net_mm.tad.postprocess import segments_as_boxes, soft_nms_1d
    segments = torch.tensor([[0., 10.], [5., 15.], [5., 15.], [40., 41.]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.0005])
    labels = torch.tensor([0, 0, 1, 0])
    from mmdet.structures.bbox import bbox_overlaps
    boxes = segments_as_boxes(segments)
    assert torch.allclose(bbox_overlaps(boxes, boxes), torch.tensor(
        [segment_iou(tuple(s.tolist()), segments.numpy()) for s in segments], dtype=torch.float32))
    kept, kept_scores, kept_labels = soft_nms_1d(segments, scores, labels, sigma=0.5, min_score=1e-3)
    # class 0: (5, 15) overlaps the kept (0, 10) by 1/3 -> 0.8 exp(-(1/9) / 0.5); (40, 41) under min_score
    assert kept_scores.tolist() == pytest.approx([0.9, 0.7, 0.8 * math.exp(-1 / 9 / 0.5)], rel=1e-5)
    assert kept.tolist() == [[0., 10.], [5., 15.], [5., 15.]] and kept_labels.tolist() == [0, 1, 0]
    assert soft_nms_1d(segments, scores, labels, max_segments=1)[1].tolist() == pytest.approx([0.9])
    with pytest.raises(ValueError, match='ends before it starts'):
        soft_nms_1d(torch.tensor([[3., 1.]]), torch.tensor([1.]), torch.tensor([0]))


def test_windows_are_merged_in_video_frames_before_suppression():
    import torch

    from dr2net_mm.tad.postprocess import merge_windows
    from dr2net_mm.tad.windows import Window
    first, second = Window(0, 16, 2), Window(16, 16, 2)       # video frames 0-32 and 16-48 of a 40-frame video
    # the same action (video frames 20-30) seen by both windows; one past the video's end; one across it
    detections = [(first, torch.tensor([[10., 15.]]), torch.tensor([0.9]), torch.tensor([3])),
                  (second, torch.tensor([[2., 7.], [14., 17.], [10., 13.]]), torch.tensor([0.6, 0.5, 0.4]),
                   torch.tensor([3, 3, 3]))]
    segments, scores, labels = merge_windows(detections, num_frames=40, sigma=0.5)
    # the duplicate (IoU 1 with the kept one) decays to 0.6 exp(-1 / 0.5); (36, 42) is clipped to (36, 40)
    assert segments.tolist() == [[20., 30.], [36., 40.], [20., 30.]]
    assert scores.tolist() == pytest.approx([0.9, 0.4, 0.6 * np.exp(-2.0)], rel=1e-5)
    assert labels.tolist() == [3, 3, 3]


def test_window_samples_are_merged_per_video_before_evaluation():
    import torch
    from mmengine.evaluator import Evaluator
    from mmengine.registry import init_default_scope
    from mmengine.structures import BaseDataElement
    init_default_scope('mmaction')
    evaluator = Evaluator(dict(type='dr2net_mm.TemporalActionMAP', tious=[0.5], sigma=0.5))

    def window(start, segments, scores):
        sample = BaseDataElement(metainfo=dict(video_name='v', window_start=start, frame_interval=2, window_length=16,
                                               valid_length=16, total_frames=40, fps=25.0))
        sample.video_segments, sample.video_labels = torch.tensor([[20., 30.], [0., 6.]]), torch.tensor([1, 0])
        sample.pred_segments, sample.pred_scores = torch.tensor(segments), torch.tensor(scores)
        sample.pred_labels = torch.ones(len(scores), dtype=torch.long)
        return sample

    # both windows find the class-1 action (video frames 20-30); nothing finds the class-0 one
    evaluator.process([window(0, [[10., 15.]], [0.9]), window(16, [[2., 7.]], [0.8])])
    result = evaluator.evaluate(2)
    # class 1: the action once (TP), its duplicate decayed (FP after it) -> AP 1; class 0: AP 0
    assert result == pytest.approx({'tad/mAP@0.50': 0.5, 'tad/average_mAP': 0.5})
