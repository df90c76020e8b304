"""Scenes of non-overlapping filled shapes on a textured background, with exact polygons."""
import math
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import cv2
import numpy as np


@dataclass
class ShapeInstance:
    label: int              # index into the split's class tuple
    polygon: np.ndarray     # (K, 2) float32 vertices in pixel coordinates

    @property
    def bbox_xywh(self) -> Tuple[float, float, float, float]:
        x0, y0 = self.polygon.min(0)
        x1, y1 = self.polygon.max(0)
        return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def shape_polygon(name: str, cx: float, cy: float, radius: float, angle: float) -> np.ndarray:
    """Vertices of a named shape centred at (cx, cy) with circumradius ``radius``."""
    if name == 'circle':
        ts = np.linspace(0, 2 * math.pi, 32, endpoint=False)
        radii = np.full_like(ts, radius)
    elif name in ('square', 'triangle', 'pentagon'):
        sides = {'square': 4, 'triangle': 3, 'pentagon': 5}[name]
        ts = np.linspace(0, 2 * math.pi, sides, endpoint=False)
        radii = np.full_like(ts, radius)
    elif name == 'star':
        ts = np.linspace(0, 2 * math.pi, 10, endpoint=False)
        radii = np.where(np.arange(10) % 2 == 0, radius, radius * 0.45)
    elif name == 'cross':
        a, b = radius, radius * 0.35
        pts = np.array([(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a),
                        (-b, b), (-a, b), (-a, -b), (-b, -b)], dtype=np.float64)
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        return (pts @ rot.T + (cx, cy)).astype(np.float32)
    else:
        raise ValueError(f'unknown shape {name!r}')
    ts = ts + angle
    return np.stack([cx + radii * np.cos(ts), cy + radii * np.sin(ts)], 1).astype(np.float32)


def textured_background(rng: np.random.RandomState, height: int, width: int) -> np.ndarray:
    """A smooth colour gradient plus noise, so shapes are not found by colour alone."""
    base = rng.uniform(40, 200, size=3)
    gx, gy = rng.uniform(-40, 40, size=(2, 3))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    img = base + gx * xs[..., None] / width + gy * ys[..., None] / height
    img += rng.normal(0, 12, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _contrasting_colour(rng: np.random.RandomState, background: np.ndarray) -> Tuple[int, int, int]:
    mean = background.reshape(-1, 3).mean(0)
    while True:
        colour = rng.randint(0, 256, size=3)
        if np.abs(colour - mean).sum() > 150:
            return tuple(int(c) for c in colour)


# Fill patterns of the segmentation scenes, one per class (see random_scene). Each split has an
# axis-aligned grating, a diagonal one and a flat fill, which a 4-pixel patch embedding tells apart
# (dots against a checkerboard, or rings against a grid, were confused in the demo). All keep their
# kind under a horizontal flip, the training augmentation.
TEXTURES = {'circle': 'horizontal stripes', 'square': 'solid', 'triangle': 'diagonal stripes',
            'pentagon': 'vertical stripes', 'star': 'solid', 'cross': 'checkerboard'}


def texture(name: str, rng: np.random.RandomState, size: int) -> np.ndarray:
    """A boolean ``(size, size)`` pattern: where a textured shape takes its second colour."""
    period = rng.uniform(5.0, 8.0)
    phase = rng.uniform(0, period, size=2)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    u, v = (xs + phase[0]) / period, (ys + phase[1]) / period
    kind = TEXTURES[name]
    if kind == 'horizontal stripes':
        return (v % 1.0) < 0.5
    if kind == 'vertical stripes':
        return (u % 1.0) < 0.5
    if kind == 'diagonal stripes':   # either diagonal: a flip turns one into the other
        return (((u + v) if rng.rand() < 0.5 else (u - v)) / math.sqrt(2) % 1.0) < 0.5
    if kind == 'checkerboard':
        return ((np.floor(u) + np.floor(v)) % 2) == 0
    if kind == 'solid':
        return np.zeros((size, size), bool)
    raise ValueError(f'unknown texture {kind!r}')


def random_scene(rng: np.random.RandomState, classes: Sequence[str], size: int,
                 max_objects: int = 4, textured: bool = False,
                 radius_range: Tuple[float, float] = (0.09, 0.2)) -> Tuple[np.ndarray, List[ShapeInstance]]:
    """An image with 1..max_objects shapes whose bounding boxes do not overlap.

    Flat shapes (detection) are told apart by their outline. ``textured`` scenes (semantic
    segmentation) fill each shape with its class's pattern in two colours: a per-pixel classifier
    needs evidence near each pixel, and an outline seen only at the object's scale is not that
    (measured: on the flat scenes a segmentor collapsed every shape onto one class).
    ``radius_range``: the circumradii drawn, as fractions of ``size``.
    """
    img = textured_background(rng, size, size)
    instances: List[ShapeInstance] = []
    boxes: List[Tuple[float, float, float, float]] = []
    target = rng.randint(1, max_objects + 1)
    for _ in range(50 * target):
        if len(instances) == target:
            break
        label = rng.randint(len(classes))
        radius = rng.uniform(*radius_range) * size
        cx, cy = rng.uniform(radius + 2, size - radius - 2, size=2)
        poly = shape_polygon(classes[label], cx, cy, radius, rng.uniform(0, 2 * math.pi))
        x0, y0 = poly.min(0) - 2
        x1, y1 = poly.max(0) + 2
        if any(x0 < bx1 and bx0 < x1 and y0 < by1 and by0 < y1 for bx0, by0, bx1, by1 in boxes):
            continue
        boxes.append((x0, y0, x1, y1))
        colour = _contrasting_colour(rng, img)
        if textured:
            inside = np.zeros((size, size), np.uint8)
            cv2.fillPoly(inside, [np.round(poly).astype(np.int32)], 1)
            pattern = texture(classes[label], rng, size)
            second = tuple(int(c * 0.35) for c in colour) if sum(colour) > 300 else \
                tuple(int(c + (255 - c) * 0.65) for c in colour)
            img[(inside == 1) & ~pattern] = colour
            img[(inside == 1) & pattern] = second
        else:
            cv2.fillPoly(img, [np.round(poly).astype(np.int32)], colour, cv2.LINE_AA)
        instances.append(ShapeInstance(label, poly))
    return img, instances


def rasterise_labels(instances: Sequence[ShapeInstance], size: int, background_value: int,
                     first_class_value: int) -> np.ndarray:
    """Semantic label map: ``background_value`` everywhere, ``first_class_value + label`` on shapes."""
    seg = np.full((size, size), background_value, dtype=np.uint8)
    for inst in instances:
        cv2.fillPoly(seg, [np.round(inst.polygon).astype(np.int32)], int(first_class_value + inst.label))
    return seg
