"""Untrimmed videos for the temporal action detection demo: a disc idles and now and then acts.

Each video shows the recognition demo's bright disc over a dark textured background. Most of the
time the disc keeps still (only the sensor noise changes); 2-4 times per video it performs one of
the finetuning motions (four diagonals, grow, shrink) for 12-96 frames. Some actions come in pairs
of the same class separated only by a short pause, which a detector must keep apart. Between
unrelated actions the disc jumps to a fresh start (a cut, mid-pause), so each motion has room.

Written as raw frames with a THUMOS-14-style JSON ``database`` (``frame``, ``duration``, segments in
seconds), which ``dr2net_mm.UntrimmedVideoDataset`` reads.
"""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .motion import BRIGHT_DISC, DARK_BACKGROUND, DIRECTIONS, draw_disc, write_frames
from .shapes import textured_background

FPS = 16.0
ACTION_FRAMES = (12, 96)
ACTIONS_PER_VIDEO = (2, 4)
PAIR_PROBABILITY = 0.35       # an action followed, after a short pause, by another of its class
SHORT_PAUSE = (4, 8)
IDLE = (12, 40)
SPEED = (0.025, 0.04)         # image sizes per frame, as the recognition clips, when there is room


@dataclass
class Action:
    label: str
    start: int
    end: int                  # exclusive
    group: int                # actions of one group share a label and one continuous motion


def plan_actions(rng: np.random.RandomState, classes: Sequence[str]) -> Tuple[List[Action], int]:
    """Actions, in groups of one or two of a class (a short pause between), with idle stretches
    around them; and the video's length in frames."""
    count = rng.randint(ACTIONS_PER_VIDEO[0], ACTIONS_PER_VIDEO[1] + 1)
    actions: List[Action] = []
    t, group = rng.randint(*IDLE), 0
    while len(actions) < count:
        label = classes[rng.randint(len(classes))]
        pair = len(actions) + 2 <= count and rng.rand() < PAIR_PROBABILITY
        for i in range(2 if pair else 1):
            if i:
                t += rng.randint(SHORT_PAUSE[0], SHORT_PAUSE[1] + 1)
            length = rng.randint(ACTION_FRAMES[0], ACTION_FRAMES[1] + 1)
            actions.append(Action(label, t, t + length, group))
            t += length
        t += rng.randint(*IDLE)
        group += 1
    return actions, t


def _keyframes(rng: np.random.RandomState, label: str, lengths: Sequence[int], size: int):
    """Centres (k+1, 2) and radii (k+1,) at the starts and the end of a group's k actions."""
    fractions = np.cumsum([0] + list(lengths)) / sum(lengths)
    if label in DIRECTIONS:
        radius = rng.uniform(0.08, 0.15) * size
        direction = np.array(DIRECTIONS[label], dtype=np.float64)
        direction /= np.hypot(*direction)
        lo, hi = radius + 1, size - radius - 1
        room = (hi - lo) / np.abs(direction).max()
        travel = min(rng.uniform(*SPEED) * size * sum(lengths), room)
        shift = direction * travel
        start = np.array([rng.uniform(lo - min(d, 0), hi - max(d, 0)) for d in shift])
        return start + np.outer(fractions, shift), np.full(len(fractions), radius)
    small, large = rng.uniform(0.07, 0.1) * size, rng.uniform(0.22, 0.28) * size
    radii = small + fractions * (large - small)
    if label == 'shrink':
        radii = radii[::-1]
    elif label != 'grow':
        raise ValueError(f'unknown motion {label!r}')
    centre = rng.uniform(large + 1, size - large - 1, size=2)
    return np.repeat(centre[None], len(fractions), 0), radii


def disc_path(rng: np.random.RandomState, actions: Sequence[Action], frames: int, size: int):
    """Per-frame centre (frames, 2) and radius (frames,): still outside actions, moving inside them,
    cutting to the next group's start half-way through the idle stretch before it."""
    centres, radii = np.zeros((frames, 2)), np.zeros(frames)
    groups = [[a for a in actions if a.group == g] for g in sorted({a.group for a in actions})]
    cut = 0
    for index, group in enumerate(groups):
        key_centres, key_radii = _keyframes(rng, group[0].label, [a.end - a.start for a in group], size)
        # the cut to the next group: half-way through the idle stretch before it (the last: none)
        next_cut = (group[-1].end + groups[index + 1][0].start) // 2 if index + 1 < len(groups) else frames
        # still at the first keyframe from the cut, at each action's end keyframe after it
        centres[cut:group[0].start], radii[cut:group[0].start] = key_centres[0], key_radii[0]
        for i, a in enumerate(group):
            w = (np.arange(a.start, a.end) - a.start + 1) / (a.end - a.start)
            centres[a.start:a.end] = key_centres[i] + np.outer(w, key_centres[i + 1] - key_centres[i])
            radii[a.start:a.end] = key_radii[i] + w * (key_radii[i + 1] - key_radii[i])
            hold_end = group[i + 1].start if i + 1 < len(group) else next_cut
            centres[a.end:hold_end], radii[a.end:hold_end] = key_centres[i + 1], key_radii[i + 1]
        cut = next_cut
    return centres, radii


def render_video(rng: np.random.RandomState, classes: Sequence[str], size: int):
    """(frames, size, size, 3) uint8 frames and the video's actions."""
    actions, frames = plan_actions(rng, classes)
    centres, radii = disc_path(rng, actions, frames, size)
    background = (textured_background(rng, size, size) * DARK_BACKGROUND).astype(np.uint8)
    colour = tuple(int(c) for c in rng.randint(BRIGHT_DISC, 256, size=3))
    return draw_disc(rng, background, colour, centres, radii), actions


def write_untrimmed(rng: np.random.RandomState, classes: Sequence[str], counts: Dict[str, int], root: Path,
                    size: int) -> None:
    """``root/rawframes/<video>/img_00001.jpg`` ... and ``root/annotations.json`` (all subsets)."""
    database = {}
    for subset, count in counts.items():
        for index in range(count):
            video, actions = render_video(rng, classes, size)
            name = f'video_{subset}_{index:04d}'
            write_frames(root / 'rawframes' / name, video)
            database[name] = dict(subset=subset, frame=len(video), duration=round(len(video) / FPS, 6),
                                  annotations=[dict(label=a.label, segment=[a.start / FPS, a.end / FPS])
                                               for a in actions])
    (root / 'annotations.json').write_text(json.dumps(dict(database=database), indent=1))
    (root / 'classes.txt').write_text('\n'.join(classes) + '\n')
