"""A street scene with known events for tune's tests and benchmark: OpenCV's vtest.avi people, and the
same empty street (its background plate) with simulated nuisances (tests/nuisance.py), one after another,
each separated by a quiet stretch long enough for the watcher's trigger to end its event.

Built at half vtest's size (384x288, 10 fps): what the detector sees at 320 px wide hardly changes, and the
watcher, the pull and the replays run four times faster. The lawn at the bottom right holds a half-size
copy of the street in every frame (the plate's, or vtest's for the distant people), so the distant people
are the only thing changing there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tests import nuisance
from tests.clips import write_video
from tests.footage import footage_path

FPS = 10.0
SIZE = (384, 288)
EVENT_S = 6.0
GAP_S = 8.0
LEAD_S = 5.0
INSET_AT = (0.5, 0.5)  # top-left of the distant street, fractions of the frame


@dataclass(frozen=True)
class Segment:
    name: str  # "people", "shake", ...
    label: str  # "real" or "false-alarm"
    start_s: float
    end_s: float


# each kind: (label, frames generator from (people frames, plate, n, seed))
Make = Callable[[list[np.ndarray], np.ndarray, int, int], Iterator[np.ndarray]]


def _quiet(plate: np.ndarray, n: int) -> list[np.ndarray]:
    return [plate] * n


KINDS: dict[str, tuple[str, Make]] = {
    "people": ("real", lambda people, plate, n, seed: iter(people[seed * 97 % 400:][:n])),
    "distant people": ("real", lambda people, plate, n, seed: iter(people[100:100 + n])),  # composed below
    "shake": ("false-alarm", lambda people, plate, n, seed: nuisance.shake(_quiet(plate, n), seed=seed, max_px=4.0)),
    "rain": ("false-alarm", lambda people, plate, n, seed: nuisance.rain(_quiet(plate, n), seed=seed, drops=1500)),
    "shadows": ("false-alarm", lambda people, plate, n, seed: nuisance.cloud_shadows(
        _quiet(plate, n), FPS, seed=seed, speed=0.3)),
    "noise": ("false-alarm", lambda people, plate, n, seed: nuisance.sensor_noise(_quiet(plate, n), sigma=6.0,
                                                                                    seed=seed)),
    "lights": ("false-alarm", lambda people, plate, n, seed: nuisance.brightness_step(_quiet(plate, n), at=n // 3,
                                                                                        gain=1.4)),
}

DEFAULT_ORDER = ("people", "shake", "people", "rain", "shadows", "distant people", "noise", "lights")


def _compose(frame: np.ndarray, inset: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    x0, y0 = int(INSET_AT[0] * w), int(INSET_AT[1] * h)
    out = frame.copy()
    out[y0:, x0:] = inset[: h - y0, : w - x0]
    return out


def build(path: Path, order: tuple[str, ...] = DEFAULT_ORDER) -> list[Segment]:
    """Write the scene to ``path`` (H.264 MP4); the segments in order, with their times in the file."""
    people, plate = nuisance.load_footage(footage_path("vtest.avi"), keep=460)
    people = [cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA) for f in people]
    plate = cv2.resize(plate, SIZE, interpolation=cv2.INTER_AREA)
    small = lambda f: cv2.resize(f, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)  # noqa: E731
    plate_inset = small(plate)
    frames: list[np.ndarray] = []
    segments: list[Segment] = []
    n_event, n_gap = int(EVENT_S * FPS), int(GAP_S * FPS)
    frames += [_compose(plate, plate_inset)] * int(LEAD_S * FPS)
    for i, name in enumerate(order):
        label, make = KINDS[name]
        start = len(frames) / FPS
        made = list(make(people, plate, n_event, i + 1))
        if name == "distant people":
            frames += [_compose(plate, small(f)) for f in made]
        else:
            frames += [_compose(f, plate_inset) for f in made]
        segments.append(Segment(name, label, start, len(frames) / FPS))
        frames += [_compose(plate, plate_inset)] * n_gap
    frames = list(nuisance.sensor_noise(frames, sigma=1.5, seed=99))
    write_video(path, frames, FPS, crf=18)
    return segments


def segment_at(segments: list[Segment], t: float) -> Segment | None:
    """The segment a moment of the file falls in (a clip's motion start), with a second's slack before it."""
    return next((s for s in segments if s.start_s - 1.0 <= t <= s.end_s), None) if t is not None else None
