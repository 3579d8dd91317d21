"""Config loading (full, and the fallback for a broken stack), the output and the exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from watcher.doctor.cli import Probes, render_json, render_text, run_checks
from watcher.doctor.probes import ChildOutput, CommandResult
from watcher.doctor.result import Status, exit_status, fail, ok, warn
from watcher.doctor.settings import DoctorSettings, load_settings, read_fallback
from watcher.doctor.v4l2 import Platform

CONFIGS = [
    "",
    ('[watcher]\ndata_dir = "rel/data"\n[source]\nspec = "picamera2"\nwidth = 1920\nheight = 1080\nfps = 25\n'
    '[encoder]\ncodec = "h264_v4l2m2m"\npreset = "ultrafast"\nbitrate = 3000000\ngop_s = 1\n'
    '[retention]\nmin_free_mb = 2048\non_full = "stop_recording"\n'),
    '[watcher]\ndata_dir = "/srv/motion-watcher/data"\ncamera = "front"\n[trigger]\npre_roll_s = 2.0\n',
]


@pytest.mark.parametrize("toml", CONFIGS)
def test_fallback_reads_what_the_full_loader_reads(tmp_path: Path, toml: str) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text(toml)
    full, result = load_settings(str(cfg))
    assert result.status is Status.OK
    assert read_fallback(str(cfg)) == full


def test_defaults_match_the_watchers() -> None:
    full, _ = load_settings(None)
    assert full == DoctorSettings() == read_fallback(None)


def test_a_broken_stack_falls_back_to_reading_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text('[watcher]\ndata_dir = "/data"\n[source]\nspec = "picamera2"\n')

    def broken(name: str):
        raise ValueError("numpy.dtype size changed, may indicate binary incompatibility")

    settings, result = load_settings(str(cfg), import_module=broken)
    assert result.status is Status.WARN and "numpy.dtype size changed" in result.message
    assert settings.spec == "picamera2" and settings.data_dir == "/data"


def test_a_bad_config_fails_but_the_checks_go_on(tmp_path: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text('[watcher]\ndata_dir = "/data"\n[trigger]\npre_roll = 3\n')
    settings, result = load_settings(str(cfg), data_dir=None, source="device:0")
    assert result.status is Status.FAIL and f"{cfg}: trigger.pre_roll: unknown key" in result.message
    assert settings.data_dir == "/data" and settings.spec == "device:0"
    settings, result = load_settings(str(tmp_path / "nope.toml"), data_dir="/x")
    assert result.status is Status.FAIL and "file not found" in result.message and settings.data_dir == "/x"


def test_exit_status_and_text() -> None:
    results = [ok("config", "valid"), warn("clock", "not synchronized", "enable NTP"), fail("camera", "none", "cable")]
    assert exit_status(results) == 1 and exit_status(results[:2]) == 0
    text = render_text(DoctorSettings(spec="picamera2"), results)
    lines = text.splitlines()
    assert lines[0].startswith("motion-watcher doctor: config (defaults), source picamera2 1280x720 @ 30 fps")
    assert lines[1].split() == ["ok", "config", "valid"]
    assert lines[2].startswith("WARN  clock") and lines[3].strip() == "fix: enable NTP"
    assert lines[4].startswith("FAIL  camera") and lines[5].strip() == "fix: cable"
    assert lines[-1] == "1 problem(s): camera; 1 warning(s): clock"
    doc = json.loads(render_json(DoctorSettings(), results))
    assert doc["exit_status"] == 1 and doc["ok"] is False and doc["counts"] == {"ok": 1, "warn": 1, "fail": 1, "n/a": 0}
    assert doc["checks"][2] == {"name": "camera", "status": "fail", "message": "none", "fix": "cable", "details": {}}


def test_all_checks_run_in_order_with_injected_probes(tmp_path: Path) -> None:
    def python(module: str, args, timeout_s: float) -> ChildOutput:
        return ChildOutput([{"event": "result", "module": m, "ok": True, "version": "1", "file": f"/x/{m}.py",
                             "copies": []} for m in args])

    def boom(*a, **k):
        raise RuntimeError("a bug")

    probes = Probes(command=lambda argv, t: CommandResult(None, error="nope"), python=python, camera=boom,
                    encode=lambda args, t: ChildOutput([{"event": "result", "width": 640, "height": 360, "fps": 15,
                                                         "cpu_ms": 1.0, "wall_ms": 1.0}]),
                    platform=lambda: Platform(None, []), systemd_booted=lambda: False)
    settings = DoctorSettings(spec="picamera2", data_dir=str(tmp_path))
    results = run_checks(settings, ok("config", "valid"), probes)
    assert [r.name for r in results] == ["config", "python", "numpy", "opencv", "pyav", "picamera2", "imports",
                                         "camera", "encoder", "data-dir", "data-fs", "free-space", "clock", "service"]
    camera = results[7]
    assert camera.status is Status.FAIL and camera.message == "the check itself failed: RuntimeError: a bug"
    assert results[-1].status is Status.NA
