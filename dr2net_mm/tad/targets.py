"""Anchor-free targets and losses of a temporal detection head (FCOS / ActionFormer style, in 1D).

Each feature position of each pyramid level is a *point* at the centre of the frames it covers. A
point is positive for an action when it lies within ``center_radius`` strides of the action's centre
(and inside it), and the larger of its distances to the action's start and end falls in the level's
regression range; among several such actions the shortest wins. Its targets: the action's class
(one-hot) and the two distances divided by the level's stride.
"""
from typing import Sequence, Tuple

import torch
from torch import Tensor


def point_grid(lengths: Sequence[int], strides: Sequence[float], ranges: Sequence[Tuple[float, float]]) -> Tensor:
    """``(P, 4)``: position, regression range low, high, stride of every point of every level (in the
    input's units: sampled frames of the window)."""
    rows = []
    for n, stride, (lo, hi) in zip(lengths, strides, ranges, strict=True):
        t = (torch.arange(n, dtype=torch.float32) + 0.5) * stride
        rows.append(torch.stack([t, torch.full_like(t, lo), torch.full_like(t, hi), torch.full_like(t, stride)], 1))
    return torch.cat(rows)


def assign(points: Tensor, segments: Tensor, labels: Tensor, num_classes: int,
           center_radius: float = 1.5) -> Tuple[Tensor, Tensor, Tensor]:
    """``(cls_targets (P, C), reg_targets (P, 2) in strides, positive (P,))`` for one window."""
    num_points = len(points)
    if len(segments) == 0:
        return points.new_zeros((num_points, num_classes)), points.new_zeros((num_points, 2)), \
            torch.zeros(num_points, dtype=torch.bool, device=points.device)
    t, lo, hi, stride = (points[:, i:i + 1] for i in range(4))           # (P, 1) each
    start, end = segments[:, 0][None], segments[:, 1][None]              # (1, N)
    left, right = t - start, end - t                                     # (P, N)
    centre = 0.5 * (start + end)
    near_centre = torch.minimum(t - torch.maximum(centre - center_radius * stride, start),
                                torch.minimum(centre + center_radius * stride, end) - t) > 0
    reach = torch.maximum(left, right)
    in_range = (reach >= lo) & (reach <= hi)
    lengths = (end - start).expand(num_points, -1).clone()
    lengths[~(near_centre & in_range)] = float('inf')
    shortest, index = lengths.min(dim=1)
    positive = torch.isfinite(shortest)
    winners = (lengths == shortest[:, None]) & positive[:, None]         # ties: every shortest action's class
    cls_targets = points.new_zeros((num_points, num_classes))
    for j in range(len(segments)):
        cls_targets[winners[:, j], int(labels[j])] = 1.0
    reg_targets = torch.stack([left.gather(1, index[:, None])[:, 0], right.gather(1, index[:, None])[:, 0]], 1)
    reg_targets = torch.where(positive[:, None], reg_targets / stride, torch.zeros_like(reg_targets))
    return cls_targets, reg_targets, positive


def diou_loss_1d(pred: Tensor, target: Tensor, eps: float = 1e-8) -> Tensor:
    """1 - DIoU of segments given as distances (left, right) from one point, per row (1D: the enclosing
    segment's length squared normalises the squared distance of the centres)."""
    pl, pr, tl, tr = pred[:, 0], pred[:, 1], target[:, 0], target[:, 1]
    inter = torch.minimum(pl, tl) + torch.minimum(pr, tr)
    union = (pl + pr) + (tl + tr) - inter
    iou = inter / union.clamp_min(eps)
    enclosing = torch.maximum(pl, tl) + torch.maximum(pr, tr)
    centre_distance = 0.5 * ((pr - pl) - (tr - tl))
    return 1 - iou + (centre_distance / enclosing.clamp_min(eps)) ** 2


def decode(points: Tensor, distances: Tensor) -> Tensor:
    """Segments ``(P, 2)`` from per-point distances in strides."""
    t, stride = points[:, 0], points[:, 3]
    return torch.stack([t - distances[:, 0] * stride, t + distances[:, 1] * stride], 1)



