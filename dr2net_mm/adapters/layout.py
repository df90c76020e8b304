"""How a stage's tokens sit on a spatial grid (DTL+ convolves side information over it)."""
from dataclasses import dataclass
from typing import Tuple

from torch import Tensor


@dataclass(frozen=True)
class SequenceLayout:
    """``(B, prefix + prod(grid), C)`` tokens: Swin (no prefix), ViT (a class token), VideoMAE (T, H, W)."""

    hw: Tuple[int, ...]
    prefix: int = 0

    def to_grid(self, x: Tensor) -> Tensor:
        B, _, C = x.shape
        return x[:, self.prefix:].transpose(1, 2).reshape(B, C, *self.hw)

    def from_grid(self, grid: Tensor, like: Tensor) -> Tensor:
        """Back to tokens; prefix tokens take ``like``'s prefix (they have no grid position)."""
        tokens = grid.flatten(2).transpose(1, 2)
        if self.prefix:
            from torch import cat
            tokens = cat([like[:, :self.prefix], tokens], dim=1)
        return tokens


@dataclass(frozen=True)
class ChannelsLastGrid:
    """``(B, *spatial, C)``, e.g. Video Swin's ``(B, D, H, W, C)``."""

    def to_grid(self, x: Tensor) -> Tensor:
        return x.movedim(-1, 1)

    def from_grid(self, grid: Tensor, like: Tensor) -> Tensor:
        return grid.movedim(1, -1)


@dataclass(frozen=True)
class ChannelsFirstGrid:
    """``(B, C, *spatial)``: convolutional backbones."""

    def to_grid(self, x: Tensor) -> Tensor:
        return x

    def from_grid(self, grid: Tensor, like: Tensor) -> Tensor:
        return grid
