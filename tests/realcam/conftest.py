"""Fixtures for the tests that run the real picamera2 on libcamera's virtual camera.

Everything that imports picamera2 runs in a child process (``tests.realcam.env`` says why) with a hard
deadline: a hang is killed and reported as a failure, never a stuck run. In CI (``CI`` set) these
tests never skip: a missing build fails them. Locally they skip and say how to get the build.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.footage import footage_path
from tests.nuisance import background_plate, read_frames, sensor_noise
from tests.realcam.env import HINT, ROOT, VirtualCamera, child_env, unavailable, write_camera_yaml

MAIN = (640, 360)
LORES = (320, 180)
FPS = 10.0


@pytest.fixture(scope="session")
def realcam() -> None:
    """The real picamera2 and the virtual camera are usable, or the test skips (fails in CI)."""
    reason = unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"real picamera2 unavailable in CI: {reason}; {HINT}", pytrace=False)
    pytest.skip(f"real picamera2 unavailable: {reason}; {HINT}")


@dataclass(frozen=True)
class Footage:
    """JPEG frames ``0.jpg ...`` at main size, and the luma of each at lores size (what lores shows)."""

    folder: Path
    lores_luma: np.ndarray  # (n, h, w) uint8
    motion: tuple[float, float]  # seconds (frame index / FPS) when people are in view

    def __len__(self) -> int:
        return len(self.lores_luma)


def _write_frames(folder: Path, frames: list[np.ndarray]) -> np.ndarray:
    folder.mkdir(parents=True)
    lumas = []
    for i, original in enumerate(frames):
        img = cv2.resize(original, MAIN, interpolation=cv2.INTER_AREA)
        assert cv2.imwrite(str(folder / f"{i}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        decoded = cv2.imread(str(folder / f"{i}.jpg"), cv2.IMREAD_GRAYSCALE)
        lumas.append(cv2.resize(decoded, LORES, interpolation=cv2.INTER_AREA))
    return np.stack(lumas)


@pytest.fixture(scope="session")
def footage(tmp_path_factory) -> Footage:
    """15 s at 10 fps from vtest.avi: 3 s of the empty street, 9 s of people walking, 3 s empty.

    Short on purpose: the camera process decodes and keeps every image in memory.
    """
    vtest = footage_path("vtest.avi")
    walking = read_frames(vtest, limit=190)[100:190]
    plate = background_plate(read_frames(vtest, step=8))
    quiet = list(sensor_noise([plate] * 60, sigma=2.0, seed=3))
    frames = quiet[:30] + walking + quiet[30:]
    folder = tmp_path_factory.mktemp("played") / "frames"
    return Footage(folder, _write_frames(folder, frames), motion=(3.0, 12.0))


@pytest.fixture
def camera(realcam: None, tmp_path: Path, footage: Footage) -> VirtualCamera:
    """A virtual camera (its own YAML) playing the footage from its first frame at FPS."""
    return write_camera_yaml(tmp_path / "virtual.yaml", footage.folder, [MAIN, LORES])


def run_child(args: list[str], camera: VirtualCamera, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` with the real picamera2's environment; killed and failed at the deadline."""
    try:
        return subprocess.run([sys.executable, *args], check=False, cwd=ROOT, env=child_env(camera.yaml),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:  # subprocess.run has killed it
        expired = e
    out, err = (s.decode() if isinstance(s, bytes) else s or "" for s in (expired.stdout, expired.stderr))
    pytest.fail(f"{' '.join(args)} did not finish within {timeout:g} s: killed (a hang in picamera2?)\n"
                f"--- stdout tail:\n{out[-3000:]}\n--- stderr tail:\n{err[-5000:]}", pytrace=False)
