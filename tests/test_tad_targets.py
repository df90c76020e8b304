"""Targets and losses of the anchor-free temporal head, against hand-worked cases."""
import pytest
import torch

from dr2net_mm.tad.targets import assign, decode, diou_loss_1d, point_grid


def test_point_grid_centres_and_strides():
    points = point_grid([4, 2], [2, 4], [(0, 4), (4, float('inf'))])
    assert points[:, 0].tolist() == [1, 3, 5, 7, 2, 6] and points[:, 3].tolist() == [2, 2, 2, 2, 4, 4]
    assert points[:4, 2].tolist() == [4] * 4 and points[4:, 1].tolist() == [4, 4]


def test_a_point_is_positive_near_an_actions_centre_in_its_levels_range():
    points = point_grid([8, 4], [1, 2], [(0, 3), (3, float('inf'))])
    # one action 2..6 (centre 4): level 0 (stride 1) points within 1.5 of the centre whose reach is <= 3,
    # level 1 (stride 2) points within 3 of it whose reach is >= 3 (both bounds count, as in ActionFormer)
    cls, reg, pos = assign(points, torch.tensor([[2.0, 6.0]]), torch.tensor([1]), num_classes=2, center_radius=1.5)
    assert points[pos, 0].tolist() == [3.5, 4.5, 3.0, 5.0] and points[pos, 3].tolist() == [1, 1, 2, 2]
    assert cls[pos].tolist() == [[0, 1]] * 4 and cls[~pos].abs().sum() == 0
    assert reg[pos].tolist() == [[1.5, 2.5], [2.5, 1.5], [0.5, 1.5], [1.5, 0.5]]   # in strides of each level
    # an action 0..8: every level-0 point near its centre reaches beyond 3, so level 1 takes it
    cls, reg, pos = assign(points, torch.tensor([[0.0, 8.0]]), torch.tensor([0]), num_classes=2)
    assert points[pos, 0].tolist() == [3.0, 5.0] and points[pos, 3].tolist() == [2, 2]
    assert torch.allclose(decode(points[pos], reg[pos]), torch.tensor([[0.0, 8.0]] * 2))


def test_the_shortest_action_wins_and_equal_lengths_share_the_point():
    points = point_grid([10], [1], [(0, float('inf'))])
    segments = torch.tensor([[2.0, 8.0], [4.0, 6.0], [4.0, 6.0]])
    cls, reg, pos = assign(points, segments, torch.tensor([0, 1, 2]), num_classes=3, center_radius=2.0)
    at = points[:, 0].tolist().index(4.5)
    assert cls[at].tolist() == [0, 1, 1] and reg[at].tolist() == [0.5, 1.5]
    no_action = assign(points, torch.zeros((0, 2)), torch.zeros(0, dtype=torch.long), 3)
    assert not no_action[2].any() and no_action[0].sum() == 0


def test_diou_loss_1d():
    same = diou_loss_1d(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 2.0]]))
    assert same.tolist() == pytest.approx([0.0], abs=1e-7)
    # pred -1..2 (centre 0.5), target -1..3 (centre 1): IoU 3/4, enclosing 4, centre distance 0.5
    loss = diou_loss_1d(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 3.0]]))
    assert loss.tolist() == pytest.approx([1 - 0.75 + (0.5 / 4) ** 2])
    # disjoint (pred -3..-1 seen from a point outside it is not representable); shifted: pred 0..2, target -2..0
    loss = diou_loss_1d(torch.tensor([[0.0, 2.0]]), torch.tensor([[2.0, 0.0]]))
    assert loss.tolist() == pytest.approx([1 - 0 + (2 / 4) ** 2])
