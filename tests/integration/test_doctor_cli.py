"""The doctor as a real command on this machine: real child processes, real files, the fake picamera2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.proc import ROOT
from watcher.doctor.camera import check_camera
from watcher.doctor.probes import run_command, run_python_child
from watcher.doctor.result import Status

FAKES = ROOT / "tests" / "fakes"
NAMES = ["config", "python", "numpy", "opencv", "pyav", "picamera2", "imports", "camera", "encoder", "data-dir",
         "data-fs", "free-space", "clock", "service"]
DTYPE = "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject"


def doctor(*args: str, pythonpath: list[Path] | None = None, cmd: list[str] | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(map(str, pythonpath))
    return subprocess.run((cmd or [sys.executable, "-m", "watcher", "doctor"]) + list(args), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def checks(r: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    doc = json.loads(r.stdout)
    assert [c["name"] for c in doc["checks"]] == NAMES
    assert doc["exit_status"] == r.returncode == (1 if any(c["status"] == "fail" for c in doc["checks"]) else 0)
    assert doc["ok"] == (r.returncode == 0)
    return {c["name"]: c for c in doc["checks"]}


def broken_module(tmp_path: Path, name: str, error: str) -> Path:
    d = tmp_path / f"broken-{name}"
    (d / name).mkdir(parents=True)
    (d / name / "__init__.py").write_text(f"raise ValueError({error!r})\n")
    return d


def test_json_on_this_machine(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = doctor("--data-dir", str(data), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    c = checks(r)
    for name in ("config", "python", "numpy", "opencv", "pyav", "imports", "data-fs"):
        assert c[name]["status"] == "ok", c[name]
    assert c["camera"]["status"] == "n/a" and c["service"]["status"] == "n/a"  # synthetic; no systemd here
    assert c["encoder"]["status"] in ("ok", "warn") and c["encoder"]["details"]["width"] == 640
    assert c["data-dir"]["status"] == "warn" and not data.exists()  # not created by the doctor
    assert c["free-space"]["details"]["free_bytes"] > 0


def test_text_on_this_machine(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "temp_clips").mkdir(parents=True)
    (data / "recorded_clips").mkdir()
    r = doctor("--data-dir", str(data))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"motion-watcher doctor: config (defaults), source synthetic, data dir {data}"
    rows = [line.split()[:2] for line in lines[1:-1] if not line.startswith(" ")]
    assert [name for _, name in rows] == NAMES
    assert all(label in ("ok", "WARN", "n/a") for label, _ in rows)
    assert {n: s for s, n in rows}["data-dir"] == "ok"
    assert lines[-1].startswith("ready to run the watcher")
    assert sorted(p.name for p in data.rglob("*")) == ["recorded_clips", "temp_clips"]


def test_console_script_and_options_before_the_command(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "motion-watcher"
    assert script.exists(), "motion-watcher is not installed in this venv (make venv / make venv-pi install it)"
    r = doctor("--json", cmd=[str(script), "--data-dir", str(tmp_path), "doctor"])
    assert checks(r)["data-dir"]["status"] == "ok", r.stderr
    assert json.loads(r.stdout)["data_dir"] == str(tmp_path)


def test_numpy_failing_with_value_error_names_the_fix(tmp_path: Path) -> None:
    """The doctor itself still starts (no numpy at its top), and the numpy line says what to do."""
    bad = broken_module(tmp_path, "numpy", DTYPE)
    r = doctor("--data-dir", str(tmp_path), "--json", pythonpath=[bad])
    assert r.returncode == 1, r.stderr
    c = checks(r)
    numpy = c["numpy"]
    assert numpy["status"] == "fail" and "ValueError: numpy.dtype size changed" in numpy["message"]
    assert "pip uninstall numpy opencv-python-headless av" in numpy["fix"]
    assert "--system-site-packages" in numpy["fix"] and "deploy/pi/install.sh" in numpy["fix"]
    assert c["opencv"]["fix"] == "numpy does not import: fix the numpy line first"
    assert c["config"]["status"] == "warn" and "without full validation" in c["config"]["message"]
    assert c["data-dir"]["status"] == "ok"  # the other checks still ran
    text = doctor("--data-dir", str(tmp_path), pythonpath=[bad])
    assert text.returncode == 1
    assert "fix: binary mismatch with numpy at" in text.stdout
    assert text.stdout.splitlines()[-1].startswith("3 problem(s): numpy, opencv, encoder")


def test_picamera2_broken_by_the_venvs_numpy(tmp_path: Path) -> None:
    """The classic Pi failure: `from picamera2 import Picamera2` raises ValueError (simplejpeg vs numpy 2)."""
    bad = broken_module(tmp_path, "picamera2", DTYPE)
    r = doctor("--data-dir", str(tmp_path), "--source", "picamera2", "--json", pythonpath=[bad])
    c = checks(r)
    assert r.returncode == 1
    assert c["picamera2"]["status"] == "fail"
    assert "pip uninstall numpy opencv-python-headless av" in c["picamera2"]["fix"]
    assert c["camera"]["status"] == "fail" and "picamera2 does not import (ValueError" in c["camera"]["message"]
    assert c["numpy"]["status"] == "ok"
    r = doctor("--data-dir", str(tmp_path), "--json", pythonpath=[bad])  # synthetic: picamera2 is not needed
    assert checks(r)["picamera2"]["status"] == "warn" and r.returncode == 0


def test_fake_picamera2_camera_through_the_real_command(tmp_path: Path) -> None:
    r = doctor("--data-dir", str(tmp_path), "--source", "picamera2", "--json", pythonpath=[FAKES])
    c = checks(r)
    assert c["picamera2"]["status"] == "ok" and c["picamera2"]["details"]["h264_encoder"] == "H264Encoder"
    assert c["imports"]["message"].startswith("numpy, cv2, av, picamera2 import together")
    assert c["camera"]["status"] == "ok" and c["camera"]["message"].startswith("imx708 (/base/fake/imx708@0)")
    # This machine has neither /dev/video11 nor a Pi 5's ISP: picamera2's encoder cannot work here.
    assert c["encoder"]["status"] == "fail" and "/dev/video11" in c["encoder"]["message"]
    assert r.returncode == 1


def test_bad_config_is_a_failure_naming_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text('[watcher]\ndata_dir = "d"\n[trigger]\npre_roll = 3\n')
    r = doctor("--config", str(cfg), "--json")
    c = checks(r)
    assert r.returncode == 1 and c["config"]["status"] == "fail"
    assert f"{cfg}: trigger.pre_roll" in c["config"]["message"]
    assert json.loads(r.stdout)["data_dir"] == str(tmp_path / "d")  # relative to the config file


def test_a_hanging_picamera2_does_not_hang_the_doctor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "hang"
    (d / "picamera2").mkdir(parents=True)
    (d / "picamera2" / "__init__.py").write_text("import threading\nthreading.Event().wait()\n")
    monkeypatch.setenv("PYTHONPATH", str(d))
    t0 = time.monotonic()
    r = check_camera("picamera2", 1280, 720, 30.0, service_active=False, timeout_s=3.0)
    assert time.monotonic() - t0 < 30
    assert r.status is Status.FAIL and "no answer within 3 s (killed)" in r.message and "importing" in r.message


def test_probe_children_report_how_they_ended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "crashy.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert run_python_child("crashy", [], 30).died == "killed by SIGSEGV"
    out = run_python_child("watcher.doctor.import_probe", ["json", "no_such_module_here"], 60)
    results = [r for r in out.records if r["event"] == "result"]
    assert results[0]["ok"] and results[1]["missing"] == "no_such_module_here"


def test_run_command_reports_missing_programs_and_timeouts() -> None:
    assert run_command(["no-such-program-here"], 5).error == "no-such-program-here: command not found"
    r = run_command([sys.executable, "-c", "import threading; threading.Event().wait()"], 0.5)
    assert r.returncode is None and "no answer within 0.5 s" in r.error
    assert run_command([sys.executable, "-c", "print('hi')"], 30).stdout == "hi\n"
