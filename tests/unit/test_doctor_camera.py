"""The camera check: picamera2 through the fake (the probe run in-process), device nodes, other sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from watcher.doctor.camera import _fit, check_camera
from watcher.doctor.camera_probe import probe_camera
from watcher.doctor.probes import ChildOutput
from watcher.doctor.result import Status


def in_process(camera_num: int, open_camera: bool, timeout_s: float) -> ChildOutput:
    """The camera probe without the child process, so the fake picamera2 fixture's knobs apply."""
    records: list[dict[str, Any]] = []
    probe_camera(camera_num, open_camera, records.append)
    return ChildOutput(records)


def picam(**kw: Any):
    return check_camera("picamera2", 1280, 720, 30.0, prober=in_process, **kw)


def test_fake_camera_found_and_opened(fake) -> None:
    r = picam(service_active=False)
    assert r.status is Status.OK, r
    assert r.message.startswith("imx708 (/base/fake/imx708@0)")
    assert r.details["cameras"] == [{"Model": "imx708", "Id": "/base/fake/imx708@0", "Num": 0}]
    assert "sensor modes not read" in r.message  # the fake has no sensor_modes
    assert fake.cameras and fake.cameras[-1].is_open is False, "the probe must close the camera again"


def test_no_camera(fake) -> None:
    fake.settings.num_cameras = 0
    r = picam(service_active=False)
    assert r.status is Status.FAIL and "finds no camera" in r.message and "rpicam-hello --list-cameras" in r.fix


def test_camera_that_cannot_be_opened(fake) -> None:
    fake.settings.open_error = RuntimeError("Camera __init__ sequence did not complete.")
    r = picam(service_active=False)
    assert r.status is Status.FAIL
    assert "cannot be opened: RuntimeError: Camera __init__ sequence did not complete." in r.message
    assert "fuser" in r.fix


def test_camera_held_by_the_running_service_is_not_opened(fake) -> None:
    fake.settings.open_error = RuntimeError("busy")  # would fail if it were opened
    r = picam(service_active=True)
    assert r.status is Status.OK and "in use by the running watcher service" in r.message
    assert not fake.cameras


def test_picamera2_that_does_not_import() -> None:
    def prober(num: int, open_camera: bool, timeout_s: float) -> ChildOutput:
        return ChildOutput([{"event": "start", "step": "import"},
                            {"event": "error", "step": "import", "error_type": "ValueError",
                             "error": "numpy.dtype size changed"}])

    r = check_camera("picamera2", 1280, 720, 30.0, prober=prober)
    assert r.status is Status.FAIL and "picamera2 does not import (ValueError" in r.message


def test_picamera2_that_hangs_while_listing() -> None:
    def prober(num: int, open_camera: bool, timeout_s: float) -> ChildOutput:
        return ChildOutput([{"event": "start", "step": "import"}, {"event": "start", "step": "list"}], None, True,
                           timeout_s)

    r = check_camera("picamera2", 1280, 720, 30.0, prober=prober, timeout_s=7)
    assert r.status is Status.FAIL and "no answer within 7 s" in r.message and "listing cameras" in r.message


def test_modes_against_the_configured_size_and_rate() -> None:
    modes = [{"size": [1536, 864], "fps": 120.13}, {"size": [2304, 1296], "fps": 56.03},
             {"size": [4608, 2592], "fps": 14.35}]
    assert _fit(modes, 1920, 1080, 30) is None
    assert "larger than the sensor's largest mode 4608x2592" in _fit(modes, 5000, 3000, 10)[0]
    assert "at most 14.35 fps" in _fit(modes, 3000, 2000, 30)[0]
    assert _fit([], 1280, 720, 30) is None


def test_device_source(tmp_path: Path) -> None:
    r = check_camera("device:0", 640, 480, 30, dev_dir=tmp_path)
    assert r.status is Status.FAIL and f"{tmp_path}/video0 does not exist" in r.message
    (tmp_path / "video0").touch()
    r = check_camera("device:0", 640, 480, 30, dev_dir=tmp_path, query=lambda p: ("uvcvideo", "HD Webcam"))
    assert r.status is Status.OK and "HD Webcam (uvcvideo)" in r.message
    assert check_camera("device:x", 640, 480, 30).status is Status.FAIL


@pytest.mark.parametrize("spec, status", [("synthetic", Status.NA), ("rtsp://cam/stream", Status.NA),
                                          ("file:/nonexistent.mp4", Status.FAIL), ("carrier-pigeon", Status.FAIL)])
def test_other_sources(spec: str, status: Status) -> None:
    assert check_camera(spec, 640, 480, 30).status is status


def test_an_existing_file_source(tmp_path: Path) -> None:
    f = tmp_path / "a.mp4"
    f.write_bytes(b"x")
    assert check_camera(f"file:{f}", 640, 480, 30).status is Status.NA
