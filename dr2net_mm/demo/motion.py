"""Short clips whose class is a motion: one frame cannot tell the classes apart.

A bright disc (random colour, size, start position) moves, grows or shrinks over a dark, textured,
still background. The disc is always brighter than the background, as a lit object usually is: Video
Swin has no absolute position in its features, so its motion cue comes from the linear
spatio-temporal filters of its patch embedding, and with a random contrast polarity the responses to
opposite directions cancel. Measured with the demo's Video Swin on 8-frame clips: chance (0.25) after
1,500 iterations with random polarity, 1.0 after 300 with a bright disc. Written as raw frames with
mmaction2 ``RawframeDataset`` lists (``frame_dir total_frames label``).
"""
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from .shapes import textured_background

DIRECTIONS = {
    'move_left': (-1, 0), 'move_right': (1, 0), 'move_up': (0, -1), 'move_down': (0, 1),
    'move_up_left': (-1, -1), 'move_up_right': (1, -1),
    'move_down_left': (-1, 1), 'move_down_right': (1, 1),
}
DARK_BACKGROUND = 0.35  # scales the textured background into 0..89
BRIGHT_DISC = 170       # lowest value of each colour channel of the disc
FRAME_NOISE = 30.0      # std of the sensor noise drawn anew for every frame


def render_clip(rng: np.random.RandomState, motion: str, size: int, frames: int,
                speed: tuple = (0.025, 0.04)) -> np.ndarray:
    """(frames, size, size, 3) uint8 clip of one motion class; ``speed`` in image sizes per frame."""
    background = (textured_background(rng, size, size) * DARK_BACKGROUND).astype(np.uint8)
    colour = tuple(int(c) for c in rng.randint(BRIGHT_DISC, 256, size=3))
    radius0 = rng.uniform(0.08, 0.15) * size
    if motion in DIRECTIONS:
        dx, dy = np.array(DIRECTIONS[motion], dtype=np.float64)
        norm = np.hypot(dx, dy)
        speed = rng.uniform(*speed) * size
        step = np.array([dx, dy]) / norm * speed
        travel = step * (frames - 1)
        lo = np.maximum(radius0, radius0 - travel)
        hi = np.minimum(size - radius0, size - radius0 - travel)
        start = rng.uniform(lo, hi)
        centres = start + np.outer(np.arange(frames), step)
        radii = np.full(frames, radius0)
    elif motion in ('grow', 'shrink'):
        small, large = rng.uniform(0.07, 0.1) * size, rng.uniform(0.22, 0.28) * size
        radii = np.linspace(small, large, frames) if motion == 'grow' else np.linspace(large, small, frames)
        start = rng.uniform(large, size - large, size=2)
        centres = np.repeat(start[None], frames, 0)
    else:
        raise ValueError(f'unknown motion {motion!r}')
    return draw_disc(rng, background, colour, centres, radii)


def draw_disc(rng: np.random.RandomState, background: np.ndarray, colour: tuple, centres: np.ndarray,
              radii: np.ndarray) -> np.ndarray:
    """(frames, H, W, 3) uint8: the disc at each frame's centre and radius, fresh sensor noise each frame."""
    video = np.empty((len(centres), *background.shape), dtype=np.uint8)
    for t, (centre, radius) in enumerate(zip(centres, radii, strict=True)):
        frame = background.copy()
        cv2.circle(frame, tuple(int(round(v)) for v in centre), int(round(radius)), colour, -1, cv2.LINE_AA)
        video[t] = np.clip(frame + rng.normal(0, FRAME_NOISE, frame.shape), 0, 255)
    return video


def write_frames(folder: Path, frames: np.ndarray) -> None:
    """``folder/img_00001.jpg`` ... (mmaction2's raw-frame layout)."""
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames, start=1):
        cv2.imwrite(str(folder / f'img_{t:05d}.jpg'), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])


def write_rawframes(rng: np.random.RandomState, classes: Sequence[str], count: int, root: Path,
                    subset: str, size: int, frames: int) -> None:
    """``root/rawframes/<subset>_<n>/img_00001.jpg`` ... and ``root/<subset>_list_rawframes.txt``."""
    lines = []
    for index in range(count):
        label = index % len(classes)   # balanced classes
        clip = render_clip(rng, classes[label], size, frames)
        name = f'{subset}_{index:05d}'
        write_frames(root / 'rawframes' / name, clip)
        lines.append(f'{name} {frames} {label}')
    (root / f'{subset}_list_rawframes.txt').write_text('\n'.join(lines) + '\n')
