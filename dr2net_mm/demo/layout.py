"""Where the demo data lives and what each split contains (the configs read these names too)."""
from dataclasses import dataclass
from pathlib import Path

DEMO_ROOT = Path('data/demo')

# Classes per split. Pretraining and finetuning use disjoint class sets.
SHAPE_CLASSES = {
    'pretrain': ('circle', 'square', 'triangle'),
    'finetune': ('pentagon', 'star', 'cross'),
}
MOTION_CLASSES = {
    'pretrain': ('move_left', 'move_right', 'move_up', 'move_down'),
    'finetune': ('move_up_left', 'move_up_right', 'move_down_left', 'move_down_right', 'grow', 'shrink'),
}
SPLITS = tuple(SHAPE_CLASSES)

# Images (train, val) and videos (train, val) per split at scale 1.0.
NUM_IMAGES = {'pretrain': (480, 60), 'finetune': (240, 60)}
# Finetuning is few-shot (4 clips per class) with a large val split, so that methods can differ: with
# 240 training clips every method and even training from scratch reached top-1 0.99-1.00 (measured).
NUM_VIDEOS = {'pretrain': (320, 64), 'finetune': (24, 360)}

# Untrimmed videos (temporal action detection) per subset, finetuning classes only: the detector's
# backbone starts from the recognition demo's pretraining.
NUM_UNTRIMMED = {'training': 60, 'validation': 30}

# Single-shape images (classification, ImageFolder layout) per split: (train, val). Finetuning is
# few-shot (8 images per class), like VTAB-1k's 1,000 training images against a large test set.
NUM_SHAPE_IMAGES = {'pretrain': (900, 150), 'finetune': (24, 300)}

IMAGE_SIZE = 128
SHAPE_IMAGE_SIZE = 64
VIDEO_SIZE = 64
VIDEO_FRAMES = 16


@dataclass(frozen=True)
class DemoPaths:
    """Folders of one split of the demo data under ``root``."""

    root: Path
    split: str

    @property
    def coco(self) -> Path:
        return self.root / 'coco_shapes' / self.split

    @property
    def ade(self) -> Path:
        return self.root / 'ade_shapes' / self.split

    @property
    def shape_images(self) -> Path:
        return self.root / 'shape_images' / self.split

    @property
    def motion(self) -> Path:
        return self.root / 'motion' / self.split


def demo_paths(split: str, root: Path = DEMO_ROOT) -> DemoPaths:
    if split not in SPLITS:
        raise ValueError(f'unknown demo split {split!r}; expected one of {SPLITS}')
    return DemoPaths(Path(root), split)


def untrimmed_root(root: Path = DEMO_ROOT) -> Path:
    return Path(root) / 'untrimmed'
