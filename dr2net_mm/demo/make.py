"""Generate every split of the demo data (fixed seeds: the same bytes on every run)."""
import json
from pathlib import Path
from typing import Union

import numpy as np

from .layout import (IMAGE_SIZE, MOTION_CLASSES, NUM_IMAGES, NUM_VIDEOS, SHAPE_CLASSES, SPLITS, VIDEO_FRAMES,
                     VIDEO_SIZE, demo_paths)
from .motion import write_rawframes
from .shapes import random_scene
from .writers import write_ade, write_coco

SEED = 20240101
SUBSETS = (('train', 'training'), ('val', 'validation'))


def _count(n: int, scale: float) -> int:
    return max(2, int(round(n * scale)))


def make_demo_data(root: Union[str, Path] = 'data/demo', scale: float = 1.0, seed: int = SEED) -> Path:
    """Write COCO, ADE20K-layout and raw-frame demo data for both splits under ``root``.

    ``scale`` shrinks the number of samples (tests use a small one). A ``manifest.json`` records
    what was generated, so callers can tell complete data from an interrupted run.
    """
    root = Path(root)
    for split_index, split in enumerate(SPLITS):
        paths = demo_paths(split, root)
        classes = SHAPE_CLASSES[split]
        for subset_index, (subset, ade_subset) in enumerate(SUBSETS):
            rng = np.random.RandomState(seed + 100 * split_index + subset_index)
            scenes = [random_scene(rng, classes, IMAGE_SIZE)
                      for _ in range(_count(NUM_IMAGES[split][subset_index], scale))]
            write_coco(scenes, classes, paths.coco / 'images' / subset,
                       paths.coco / 'annotations' / f'instances_{subset}.json', prefix=subset)
            write_ade(scenes, paths.ade / 'images' / ade_subset, paths.ade / 'annotations' / ade_subset,
                      prefix=subset)
            rng = np.random.RandomState(seed + 1000 + 100 * split_index + subset_index)
            write_rawframes(rng, MOTION_CLASSES[split], _count(NUM_VIDEOS[split][subset_index], scale),
                            paths.motion, subset, VIDEO_SIZE, VIDEO_FRAMES)
    manifest = dict(seed=seed, scale=scale, shape_classes=SHAPE_CLASSES, motion_classes=MOTION_CLASSES)
    (root / 'manifest.json').write_text(json.dumps(manifest, indent=2))
    return root
