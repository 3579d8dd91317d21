"""The watcher recording continuous motion into a small filesystem for several times its size."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clips import verify_recorded
from tests.inspector_env import can_mount_or_must
from tests.proc import WatcherProcess, wait_for_file

pytestmark = pytest.mark.skipif(not can_mount_or_must(), reason="mounting a tmpfs needs root (never skipped in CI)")

MB = 1024 * 1024
FS_MB = 24
FLOOR_MB = 6


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "fs"
    d.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_MB}m", "tmpfs", str(d)], check=True)
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


def config(tmp_path: Path, on_full: str) -> Path:
    cfg = tmp_path / "w.toml"
    cfg.write_text(
        '[watcher]\ncamera = "full"\nstatus_interval_s = 0.2\n'
        "[source]\nsynthetic_period_s = 4.0\nsynthetic_walk_s = 4.0\n"  # a walker always in view
        "[encoder]\nbitrate = 8000000\n"
        "[trigger]\nmax_clip_s = 4.0\n"
        f"[retention]\nmin_free_mb = {FLOOR_MB}\ncheck_interval_s = 0.05\non_full = '{on_full}'\n"
    )
    return cfg


class FreeSpaceMonitor(threading.Thread):
    """Samples free space on the filesystem while the watcher runs."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.stop_event, self.min_free = path, threading.Event(), None

    def run(self) -> None:
        while not self.stop_event.wait(0.005):
            free = shutil.disk_usage(self.path).free
            self.min_free = free if self.min_free is None else min(self.min_free, free)


def test_delete_oldest_keeps_recording_and_never_fills(tmp_path: Path, small_fs: Path) -> None:
    mon = FreeSpaceMonitor(small_fs)
    mon.start()
    w = WatcherProcess("--config", str(config(tmp_path, "delete_oldest")), "--data-dir", str(small_fs),
                       "--duration", str(FS_MB * 5))  # ~1 MB per scene second: five times the filesystem
    rc = w.finish(timeout=300)
    mon.stop_event.set()
    mon.join()
    assert rc == 0, w.log[-20:]
    log = "\n".join(w.log)
    assert "NO inspector has copied" in log, "retention never had to act: the test did not fill the disk"
    assert "No space left" not in log, "the disk filled up"
    assert mon.min_free is not None and mon.min_free > 0
    assert shutil.disk_usage(small_fs).free >= FLOOR_MB * MB * 0.5
    ms = verify_recorded(small_fs / "recorded_clips")
    assert ms and not list((small_fs / "temp_clips").glob("*.part"))
    published = sum("published" in line and "clip(s)" not in line and "INFO" not in line for line in w.log)
    assert published * 3 > FS_MB, "it kept recording"  # many more clips than fit at once


def test_stop_recording_pauses_then_resumes_when_space_returns(tmp_path: Path, small_fs: Path) -> None:
    w = WatcherProcess("--config", str(config(tmp_path, "stop_recording")), "--data-dir", str(small_fs),
                       "--duration", "100000")
    w.wait_for("recording stops until space returns", timeout=120)
    # the pipeline writes status.json as soon as it sees the pause (within a frame)
    status = wait_for_file(small_fs / "status.json", lambda text: json.loads(text).get("recording_paused"))
    verify_recorded(small_fs / "recorded_clips", decode=False)
    # an inspector takes the clips away (as after a verified pull in delete mode)
    deleted = set()
    for f in sorted((small_fs / "recorded_clips").glob("*.mp4")):
        f.with_suffix(".json").unlink()
        f.unlink()
        deleted.add(f.stem)
    # recording goes on: a clip recorded after the space came back is published
    while True:
        line = w.wait_for("INFO watcher.clip_writer: published", timeout=120)
        clip_id = line.split("published ", 1)[1].split(" ", 1)[0]
        if clip_id not in deleted and (small_fs / "recorded_clips" / f"{clip_id}.json").exists():
            break
    w.proc.send_signal(signal.SIGTERM)
    assert w.finish() == 0, w.log[-20:]
    assert "disk full" in json.loads(status)["recording_paused"]
    final = json.loads((small_fs / "status.json").read_text())
    assert final["state"] == "stopped"
    assert verify_recorded(small_fs / "recorded_clips"), "\n".join(w.log[-30:])
    assert not list((small_fs / "temp_clips").glob("*.part"))


def test_enospc_never_crashes_and_the_cut_clip_is_salvaged_when_space_returns(tmp_path: Path, small_fs: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text(  # no floor: nothing stops the disk from filling, so the writer meets ENOSPC
        '[watcher]\ncamera = "enospc"\nstatus_interval_s = 0.2\n'
        "[source]\nsynthetic_period_s = 4.0\nsynthetic_walk_s = 4.0\n[encoder]\nbitrate = 8000000\n"
        "[trigger]\nmax_clip_s = 4.0\n[retention]\nmin_free_mb = 0\ncheck_interval_s = 0.05\n"
    )
    w = WatcherProcess("--config", str(cfg), "--data-dir", str(small_fs), "--duration", "100000")
    w.wait_for("No space left", timeout=120)
    w.wait_for("keeping it for later", timeout=120)  # salvage tried, but there is no room to remux yet
    for f in sorted((small_fs / "recorded_clips").glob("*.mp4")):  # an inspector takes the clips away
        f.with_suffix(".json").unlink()
        f.unlink()
    w.wait_for("salvaged enospc_", timeout=120)
    w.proc.send_signal(signal.SIGTERM)
    assert w.finish() == 0, w.log[-20:]
    ms = verify_recorded(small_fs / "recorded_clips")
    assert any(m.salvaged for m in ms)
    status = json.loads((small_fs / "status.json").read_text())
    assert status["state"] == "stopped" and status["last_error"]
