"""The detector on real footage (OpenCV's vtest.avi: fixed outdoor camera, people walking), with each
nuisance that makes people switch such systems off simulated on top of it.

Frames are halved to 384x288 before the nuisances are applied (the detector works at 320 px, and
this keeps the test fast). An EventTrigger with min_motion_frames >= 1 follows the detector, so
any false-motion frame could start a clip: the nuisance cases demand zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import cv2
import numpy as np
import pytest

from tests import nuisance as N
from tests.footage import footage_path
from watcher.detector import MotionDetector, luma_from_bgr

FPS = 10.0
WARMUP = 40  # frames ignored at the start (the detector warms up; the nuisances start later)


@pytest.fixture(scope="module")
def footage() -> tuple[list[np.ndarray], np.ndarray]:
    frames = [cv2.resize(f, (384, 288), interpolation=cv2.INTER_AREA) for f in N.read_frames(footage_path("vtest.avi"))]
    return frames, N.background_plate(frames[::8])


def motion_frames(frames: Iterable[np.ndarray]) -> tuple[int, int]:
    det = MotionDetector()
    hits = total = 0
    for i, f in enumerate(frames):
        r = det.process(luma_from_bgr(f, 320), i / FPS)
        if i >= WARMUP:
            total += 1
            hits += r.motion
    return hits, total


def double(frames: Iterable[np.ndarray]) -> list[np.ndarray]:
    return [cv2.resize(f, (768, 576), interpolation=cv2.INTER_LINEAR) for f in frames]


def half(frames: Iterable[np.ndarray]) -> list[np.ndarray]:
    return [cv2.resize(f, (384, 288), interpolation=cv2.INTER_AREA) for f in frames]


def quiet(plate: np.ndarray, n: int = 120) -> list[np.ndarray]:
    return list(N.sensor_noise([plate] * n, sigma=2.5, seed=3))


NUISANCES: dict[str, Callable[[list[np.ndarray]], Iterable[np.ndarray]]] = {
    "lights switched on": lambda q: N.brightness_step(q, at=70, gain=1.6),
    "lights switched off": lambda q: N.brightness_step(q, at=70, gain=0.45),
    "dusk": lambda q: N.dusk(q, start=45, frames_long=60, end_gain=0.3),
    "IR-cut filter flips to night mode": lambda q: N.ir_flip(q, at=70),
    "cloud shadows sweeping across": lambda q: N.cloud_shadows(q, FPS, speed=0.15),
    "camera shake of up to 2 px": lambda q: N.shake(q, max_px=1.0),  # 1 px here = 2 px at full resolution
    "rain": lambda q: N.rain(q, drops=100),  # the same density as 400 drops at full resolution
    "snow": lambda q: half(N.snow(double(q), flakes=600)),  # flakes of 1-3 px at the camera's resolution
    "night-time sensor noise": lambda q: N.night(q),
}


@pytest.mark.parametrize("name", list(NUISANCES))
def test_nuisance_alone_is_not_motion(footage, name: str) -> None:
    _, plate = footage
    hits, total = motion_frames(NUISANCES[name](quiet(plate)))
    assert total == 80 and hits == 0, f"{name}: {hits} false motion frames of {total}"


def test_people_walking_are_detected(footage) -> None:
    frames, _ = footage
    hits, total = motion_frames(frames[:240])
    assert hits >= 0.95 * total, (hits, total)  # measured: every frame (people are always in view)


def test_people_in_dark_noisy_footage_are_detected(footage) -> None:
    frames, _ = footage
    hits, total = motion_frames(N.night(frames[:240]))
    assert hits >= 0.9 * total, (hits, total)


def test_small_distant_people_are_detected(footage) -> None:
    frames, plate = footage
    # the whole scene shrunk to a third and pasted into the empty street: people ~25 px tall at 384 px
    hits, total = motion_frames(N.inset(frames[:240], plate, scale=1 / 3))
    assert hits >= 0.9 * total, (hits, total)


def test_small_distant_people_at_night_with_cloud_shadows(footage) -> None:
    frames, plate = footage
    hits, total = motion_frames(N.night(N.cloud_shadows(N.inset(frames[:240], plate, scale=1 / 3), FPS)))
    assert hits >= 0.8 * total, (hits, total)
