"""``type='dr2net_mm.TemporalActionDetector'``: end-to-end temporal action detection from frames.

The backbone (any mmaction2 video backbone; ``dr2net_mm.Dr2Net`` / ``dr2net_mm.DTL`` wrap it as
usual) sees the whole window; its features are averaged over space into a sequence, a convolutional
pyramid halves it ``levels - 1`` times, and a head shared by the levels scores each point for every
class (sigmoid focal loss) and regresses its distances to the action's start and end (1D DIoU loss).
Detections come out in the window's sampled-frame units; ``TemporalActionMAP`` maps them back to the
video, merges a video's windows and suppresses (Gaussian soft-NMS).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModel
from mmengine.registry import MODELS as ROOT_MODELS
from torch import Tensor, nn

from ..registry import MODELS
from .targets import assign, decode, diou_loss_1d, point_grid


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0) -> Tensor:
    """Summed focal loss of independent sigmoid classifiers (Lin et al.)."""
    p = logits.sigmoid()
    ce = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction='none')
    p_t = p * targets + (1 - p) * (1 - targets)
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (alpha_t * ce * (1 - p_t) ** gamma).sum()


def _conv_block(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(channels, channels, 3, padding=1), nn.GroupNorm(min(16, channels), channels),
                         nn.ReLU(inplace=True))


class ConvPyramid(nn.Module):
    """A projection, then ``levels - 1`` stride-2 convolutions: sequences of T, T/2, ... positions."""

    def __init__(self, in_channels: int, channels: int, levels: int):
        super().__init__()
        self.project = nn.Sequential(nn.Conv1d(in_channels, channels, 1), _conv_block(channels))
        self.down = nn.ModuleList(nn.Sequential(nn.Conv1d(channels, channels, 3, stride=2, padding=1),
                                                nn.GroupNorm(min(16, channels), channels), nn.ReLU(inplace=True))
                                  for _ in range(levels - 1))

    def forward(self, x: Tensor) -> List[Tensor]:
        outs = [self.project(x)]
        for down in self.down:
            outs.append(down(outs[-1]))
        return outs


class PointHead(nn.Module):
    """Class scores and distances for every point of every level (weights shared across levels)."""

    def __init__(self, channels: int, num_classes: int, levels: int, prior: float = 0.01):
        super().__init__()
        self.cls = nn.Sequential(_conv_block(channels), _conv_block(channels), nn.Conv1d(channels, num_classes, 3,
                                                                                         padding=1))
        self.reg = nn.Sequential(_conv_block(channels), _conv_block(channels), nn.Conv1d(channels, 2, 3, padding=1))
        self.scales = nn.Parameter(torch.ones(levels))
        nn.init.constant_(self.cls[-1].bias, -math.log((1 - prior) / prior))

    def forward(self, levels: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """``(B, P, C)`` logits and ``(B, P, 2)`` non-negative distances in strides, levels concatenated."""
        logits = torch.cat([self.cls(x).transpose(1, 2) for x in levels], 1)
        dists = torch.cat([nn.functional.relu(self.reg(x) * s).transpose(1, 2)
                           for x, s in zip(levels, self.scales, strict=True)], 1)
        return logits, dists


@MODELS.register_module()
class TemporalActionDetector(BaseModel):
    def __init__(self, backbone: dict, num_classes: int, in_channels: int, channels: int = 256, levels: int = 6,
                 regression_ranges: Optional[Sequence[Tuple[float, float]]] = None, center_radius: float = 1.5,
                 reg_weight: float = 1.0, min_score: float = 1e-3, max_per_window: int = 200,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = ROOT_MODELS.build(backbone)
        self.neck = ConvPyramid(in_channels, channels, levels)
        self.head = PointHead(channels, num_classes, levels)
        self.num_classes, self.levels, self.center_radius = num_classes, levels, center_radius
        # in positions of the first level, as ActionFormer: [0, 4], [4, 8], [8, 16], ... [2^L, inf)
        self.ranges = list(regression_ranges) if regression_ranges is not None else [
            (0.0 if i == 0 else 2.0 ** (i + 1), float('inf') if i == levels - 1 else 2.0 ** (i + 2))
            for i in range(levels)]
        if len(self.ranges) != levels:
            raise ValueError(f'{levels} levels need {levels} regression ranges, got {len(self.ranges)}')
        self.reg_weight, self.min_score, self.max_per_window = reg_weight, min_score, max_per_window

    def sequence(self, inputs: Tensor) -> Tensor:
        """``(B, C, T')``: the backbone's last feature map averaged over space."""
        feats = self.backbone(inputs)
        feats = feats[-1] if isinstance(feats, (list, tuple)) else feats
        if feats.ndim != 5:
            raise ValueError('TemporalActionDetector expects (B, C, T, H, W) backbone features, got '
                             f'{tuple(feats.shape)}')
        return feats.mean(dim=(3, 4))

    def _points(self, inputs: Tensor, pyramid: Sequence[Tensor]) -> Tensor:
        window = inputs.shape[2]                         # sampled frames (NCTHW)
        base = window / pyramid[0].shape[-1]
        strides = [base * 2 ** i for i in range(len(pyramid))]
        ranges = [(lo * base, hi * base) for lo, hi in self.ranges]
        return point_grid([x.shape[-1] for x in pyramid], strides, ranges).to(inputs.device)

    def _outputs(self, inputs: Tensor):
        pyramid = self.neck(self.sequence(inputs))
        logits, dists = self.head(pyramid)
        return self._points(inputs, pyramid), logits, dists

    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        if inputs.ndim == 6:                             # (B, clips, C, T, H, W) from the pipeline: one clip
            if inputs.shape[1] != 1:
                raise ValueError(f'one clip per window expected, got {inputs.shape[1]}')
            inputs = inputs[:, 0]
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return self._outputs(inputs)[1:]

    def loss(self, inputs: Tensor, data_samples) -> Dict[str, Tensor]:
        points, logits, dists = self._outputs(inputs)
        cls_losses, reg_losses, num_pos = [], [], 0
        for b, sample in enumerate(data_samples):
            cls_t, reg_t, pos = assign(points, sample.gt_segments.to(points), sample.gt_labels, self.num_classes,
                                       self.center_radius)
            valid = points[:, 0] < sample.metainfo.get('valid_length', inputs.shape[2])
            cls_losses.append(sigmoid_focal_loss(logits[b][valid], cls_t[valid]))
            pos = pos & valid
            num_pos += int(pos.sum())
            reg_losses.append(diou_loss_1d(dists[b][pos], reg_t[pos]).sum())
        norm = max(num_pos, 1)
        return dict(loss_cls=sum(cls_losses) / norm, loss_reg=self.reg_weight * sum(reg_losses) / norm)

    def predict(self, inputs: Tensor, data_samples) -> list:
        points, logits, dists = self._outputs(inputs)
        for b, sample in enumerate(data_samples):
            valid_length = sample.metainfo.get('valid_length', inputs.shape[2])
            scores = logits[b].sigmoid() * (points[:, 0] < valid_length)[:, None]
            flat = scores.flatten()
            keep = flat > self.min_score
            top = flat[keep].topk(min(self.max_per_window, int(keep.sum()))).indices
            index = keep.nonzero()[:, 0][top]
            point, label = index // self.num_classes, index % self.num_classes
            segments = decode(points[point], dists[b][point]).clamp(0, valid_length)
            sample.pred_segments, sample.pred_scores, sample.pred_labels = segments, flat[index], label
        return data_samples
