"""The watcher on real footage (OpenCV's vtest.avi: a fixed outdoor camera, people walking)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.clips import verify_recorded, write_video
from tests.footage import footage_path
from tests.nuisance import background_plate, brightness_step, read_frames, sensor_noise
from tests.proc import ROOT

VTEST_FPS = 10.0
VTEST_FRAMES = 795


def run_watcher_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def vtest() -> Path:
    return footage_path("vtest.avi")


def test_people_walking_produce_clips_that_cover_them(tmp_path: Path, vtest: Path) -> None:
    data = tmp_path / "d"
    r = run_watcher_cli("--source", f"file:{vtest}", "--data-dir", str(data))
    assert r.returncode == 0, r.stderr[-2000:]
    ms = verify_recorded(data / "recorded_clips")
    assert ms, r.stderr[-2000:]
    assert all((m.width, m.height, m.fps) == (768, 576, VTEST_FPS) for m in ms)
    # people are in view nearly all the time: the clips (with rollovers) cover nearly the whole file
    covered = sum(m.frames for m in ms)
    assert covered >= 0.85 * VTEST_FRAMES, (covered, [(m.media_start_s, m.media_end_s) for m in ms])
    # media timestamps come from the file: a second run gives the same clip boundaries
    data2 = tmp_path / "d2"
    assert run_watcher_cli("--source", f"file:{vtest}", "--data-dir", str(data2)).returncode == 0
    ms2 = verify_recorded(data2 / "recorded_clips", decode=False)
    key = lambda m: (m.media_start_s, m.media_end_s, m.frames)  # noqa: E731
    assert sorted(map(key, ms)) == sorted(map(key, ms2))


def test_quiet_stretch_with_a_brightness_step_records_nothing(tmp_path: Path, vtest: Path) -> None:
    plate = background_plate(read_frames(vtest, step=8))  # the street without people
    frames = list(brightness_step(sensor_noise([plate] * 300, sigma=2.5, seed=4), at=150, gain=1.5))
    quiet = write_video(tmp_path / "quiet.mp4", frames, VTEST_FPS)
    data = tmp_path / "d"
    r = run_watcher_cli("--source", f"file:{quiet}", "--data-dir", str(data))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "0 clip(s) published" in r.stdout, r.stdout + r.stderr[-2000:]
    assert not list((data / "recorded_clips").iterdir())
