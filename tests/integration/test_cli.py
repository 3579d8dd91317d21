"""The command line: exit codes, config errors naming file and key, SIGTERM publishing the open clip."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clips import verify_recorded
from tests.proc import ROOT, WatcherProcess


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize(
    "toml, key",
    [
        ("[trigger]\npre_roll = 3\n", "trigger.pre_roll"),
        ("[trigger]\npre_roll_s = -1\n", "trigger.pre_roll_s"),
        ("[trigger]\nmax_clip_s = 'long'\n", "trigger.max_clip_s"),
        ("[watcher]\ncamera = 'Front Door'\n", "watcher.camera"),
        ("[cameras]\n", "cameras"),
        ("[detector]\nmask = [[[0.1, 0.1], [0.2]]]\n", "detector.mask"),
        ("this is not toml", "-"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, toml: str, key: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    r = run_cli("--config", str(cfg), "--data-dir", str(tmp_path / "d"), "--duration", "1")
    assert r.returncode == 78, r.stderr
    assert f"{cfg}: {key}" in r.stderr
    assert not (tmp_path / "d").exists(), "nothing may be written with a bad config"


def test_missing_config_file(tmp_path: Path) -> None:
    r = run_cli("--config", str(tmp_path / "nope.toml"), "--duration", "1")
    assert r.returncode == 78 and "nope.toml" in r.stderr and "not found" in r.stderr


def test_unknown_source_and_missing_file(tmp_path: Path) -> None:
    r = run_cli("--source", "file:/nonexistent.mp4", "--data-dir", str(tmp_path / "d"), "--duration", "1")
    assert r.returncode == 69 and "/nonexistent.mp4" in r.stderr
    r = run_cli("--source", "carrier-pigeon", "--data-dir", str(tmp_path / "d"), "--duration", "1")
    assert r.returncode == 69 and "unknown source" in r.stderr


def test_second_watcher_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d"
    w = WatcherProcess("--data-dir", str(data), "--realtime")
    w.wait_for("source synthetic")
    r = run_cli("--data-dir", str(data), "--duration", "1")
    assert r.returncode == 73 and "another watcher" in r.stderr
    w.proc.send_signal(signal.SIGTERM)
    assert w.finish() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_finishes_and_publishes_the_open_clip(tmp_path: Path, sig: signal.Signals) -> None:
    data = tmp_path / "d"
    w = WatcherProcess("--data-dir", str(data), "--realtime", "--source", "synthetic")
    w.wait_for("recording")  # a clip is open now (realtime: the walker is still in view)
    w.proc.send_signal(sig)
    assert w.finish() == 0, w.log[-10:]
    ms = verify_recorded(data / "recorded_clips")
    assert len(ms) == 1 and not ms[0].salvaged
    assert not list((data / "temp_clips").iterdir())
    assert any("1 clip(s) published" in line for line in w.log)
