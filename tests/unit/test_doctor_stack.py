"""The Python-stack checks, from the import probe's records (no child processes here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from watcher.doctor.probes import ChildOutput
from watcher.doctor.result import Status
from watcher.doctor.stack import PythonInfo, check_python, check_stack, outcomes_from

VENV = PythonInfo("3.11.2", "/opt/motion-watcher/venv/bin/python", "/opt/motion-watcher/venv", True, True)
SP = "/opt/motion-watcher/venv/lib/python3.11/site-packages"
SYS = "/usr/lib/python3/dist-packages"
NUMPY_COPIES = [{"path": f"{SP}/numpy", "version": "2.2.6"}, {"path": f"{SYS}/numpy", "version": "1.24.2"}]
DTYPE = "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject"


def good(module: str) -> dict[str, Any]:
    rec = {"event": "result", "module": module, "ok": True, "version": "1.0", "file": f"{SYS}/{module}/__init__.py",
           "copies": [{"path": f"{SYS}/{module}", "version": "1.0"}]}
    if module == "numpy":
        rec.update(file=f"{SP}/numpy/__init__.py", version="2.2.6", copies=NUMPY_COPIES)
    if module == "picamera2":
        rec["h264_encoder"] = "H264Encoder"
    return rec


def bad(module: str, error_type: str, error: str, missing: str | None = None) -> dict[str, Any]:
    return {"event": "result", "module": module, "ok": False, "error_type": error_type, "error": error,
            "missing": missing, "copies": NUMPY_COPIES if module == "numpy" else []}


class Runner:
    """A fake import-probe child: ``plan(modules, together) -> records or ChildOutput``."""

    def __init__(self, overrides: dict[str, dict[str, Any]] | None = None, *, crash_together: str | None = None,
                 hang: str | None = None) -> None:
        self.overrides = overrides or {}
        self.crash_together = crash_together
        self.hang = hang
        self.calls: list[list[str]] = []

    def __call__(self, module: str, args: Sequence[str], timeout_s: float) -> ChildOutput:
        assert module == "watcher.doctor.import_probe"
        self.calls.append(list(args))
        records: list[dict[str, Any]] = []
        together = len(args) > 1
        for m in args:
            records.append({"event": "start", "module": m})
            if m == self.hang:
                return ChildOutput(records, None, True, timeout_s)
            if together and m == self.crash_together:
                return ChildOutput(records, -11)
            records.append(self.overrides.get(m) or good(m))
        return ChildOutput(records)


def by_name(results) -> dict[str, Any]:
    return {r.name: r for r in results}


def test_a_healthy_stack_is_probed_in_one_child() -> None:
    runner = Runner()
    r = by_name(check_stack("picamera2", runner=runner, py=VENV))
    assert runner.calls == [["numpy", "cv2", "av", "picamera2"]]
    assert all(x.status is Status.OK for x in r.values()), r
    assert "shadows 1.24.2 at /usr/lib/python3/dist-packages/numpy" in r["numpy"].message
    assert "(venv)" in r["numpy"].message and "(system, apt)" in r["opencv"].message
    assert "H264Encoder is H264Encoder" in r["picamera2"].message
    assert r["imports"].message.startswith("numpy, cv2, av, picamera2 import together")


def test_numpy_shadowing_picamera2_names_the_fix() -> None:
    runner = Runner({"picamera2": bad("picamera2", "ValueError", DTYPE)})
    r = by_name(check_stack("picamera2", runner=runner, py=VENV))
    pc = r["picamera2"]
    assert pc.status is Status.FAIL
    assert "ValueError: numpy.dtype size changed" in pc.message
    assert "numpy 2.2.6 at /opt/motion-watcher/venv/lib/python3.11/site-packages/numpy" in pc.fix
    assert "shadows 1.24.2 at /usr/lib/python3/dist-packages/numpy" in pc.fix
    assert "`/opt/motion-watcher/venv/bin/pip uninstall numpy opencv-python-headless av`" in pc.fix
    assert "--system-site-packages" in pc.fix and "deploy/pi/install.sh" in pc.fix
    assert runner.calls == [["numpy", "cv2", "av", "picamera2"], ["picamera2"]]  # failed together: retried alone
    assert r["imports"].status is Status.OK and "picamera2 fails on its own" in r["imports"].message


def test_a_broken_picamera2_is_only_a_warning_for_other_sources() -> None:
    r = by_name(check_stack("synthetic", runner=Runner({"picamera2": bad("picamera2", "ValueError", DTYPE)}), py=VENV))
    assert r["picamera2"].status is Status.WARN and "pip uninstall numpy" in r["picamera2"].fix


def test_numpy_failing_with_value_error_names_the_fix_and_others_point_at_it() -> None:
    runner = Runner({"numpy": bad("numpy", "ValueError", DTYPE), "cv2": bad("cv2", "ValueError", DTYPE)})
    r = by_name(check_stack("synthetic", runner=runner, py=VENV))
    assert r["numpy"].status is Status.FAIL
    assert "ValueError: numpy.dtype size changed" in r["numpy"].message
    assert "pip uninstall numpy opencv-python-headless av" in r["numpy"].fix
    assert r["opencv"].status is Status.FAIL and r["opencv"].fix == "numpy does not import: fix the numpy line first"
    assert r["pyav"].status is Status.OK


def test_missing_picamera2() -> None:
    missing = bad("picamera2", "ModuleNotFoundError", "No module named 'picamera2'", missing="picamera2")
    r = by_name(check_stack("synthetic", runner=Runner({"picamera2": missing}), py=VENV))
    assert r["picamera2"].status is Status.NA
    assert r["imports"].status is Status.OK and "picamera2 not installed" in r["imports"].message
    r = by_name(check_stack("picamera2", runner=Runner({"picamera2": missing}), py=VENV))
    assert r["picamera2"].status is Status.FAIL and "sudo apt install python3-picamera2" in r["picamera2"].fix
    isolated = PythonInfo("3.11.2", "/v/bin/python", "/v", True, False)
    r = by_name(check_stack("picamera2", runner=Runner({"picamera2": missing}), py=isolated))
    assert "does not see the system's packages" in r["picamera2"].fix and "--system-site-packages" in r["picamera2"].fix


def test_picamera2_without_libcamera_says_which_package() -> None:
    err = bad("picamera2", "ModuleNotFoundError", "No module named 'libcamera'", missing="libcamera")
    r = by_name(check_stack("picamera2", runner=Runner({"picamera2": err}), py=VENV))
    assert r["picamera2"].status is Status.FAIL and "python3-libcamera" in r["picamera2"].fix


def test_a_module_that_crashes_only_after_the_others_is_a_clash() -> None:
    runner = Runner(crash_together="av")
    r = by_name(check_stack("synthetic", runner=runner, py=VENV))
    assert r["pyav"].status is Status.OK  # fine on its own
    assert r["imports"].status is Status.FAIL
    assert "av imports alone but not after numpy, cv2" in r["imports"].message
    assert "SIGSEGV" in r["imports"].message
    assert ["av"] in runner.calls and ["picamera2"] in runner.calls  # never reached together: tried alone


def test_an_import_that_hangs_is_reported() -> None:
    r = by_name(check_stack("synthetic", runner=Runner(hang="cv2"), py=VENV, timeout_s=3))
    assert r["opencv"].status is Status.FAIL and "no answer within 3 s" in r["opencv"].message


def test_outcomes_from_a_child_that_died_mid_import() -> None:
    child = ChildOutput([{"event": "start", "module": "numpy"}, good("numpy"), {"event": "start", "module": "cv2"}],
                        -6, stderr="Fatal Python error: Aborted")
    out = outcomes_from(child, ["numpy", "cv2", "av"])
    assert out["numpy"].ok and not out["cv2"].ok and out["cv2"].died == "killed by SIGABRT" and "av" not in out


def test_python_version() -> None:
    assert check_python(VENV).status is Status.OK and "system site-packages: yes" in check_python(VENV).message
    assert check_python(PythonInfo("3.9.2", "/usr/bin/python3", "/usr", False, None)).status is Status.FAIL


def test_a_picamera2_older_than_the_api_the_watcher_uses_fails_with_both_versions() -> None:
    old = good("picamera2") | {"version": "0.3.12"}
    r = by_name(check_stack("picamera2", runner=Runner({"picamera2": old}), py=VENV))
    assert r["picamera2"].status is Status.FAIL
    assert "0.3.12" in r["picamera2"].message and "0.3.17 or newer" in r["picamera2"].message
    r = by_name(check_stack("synthetic", runner=Runner({"picamera2": old}), py=VENV))
    assert r["picamera2"].status is Status.WARN
