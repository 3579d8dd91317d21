"""The camera: through picamera2 (in a child process with a timeout: a wedged camera stack must not
hang the doctor) for source ``picamera2``; the device node for ``device:N``; the file for
``file:PATH``; not applicable for the synthetic scene and network streams."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watcher.doctor.probes import ChildOutput, run_python_child
from watcher.doctor.result import CheckResult, fail, na, ok, warn
from watcher.doctor.v4l2 import Query, querycap

CAMERA_TIMEOUT_S = 45.0  # import + list + open + one reconfiguration per sensor mode, on a slow Pi
CAMERA_NUM = 0  # watcher.sources.create_source always opens camera 0

CameraProber = Callable[[int, bool, float], ChildOutput]

LIST_HINT = ("power off, reseat the ribbon cable (contacts the right way round), then check "
             "`rpicam-hello --list-cameras` and `dmesg | grep -i -e imx -e ov5647 -e unicam -e cfe`; with a camera "
             "other than the official ones, name its dtoverlay in /boot/firmware/config.txt")


def run_camera_probe(camera_num: int, open_camera: bool, timeout_s: float) -> ChildOutput:
    args = [str(camera_num)] + (["--open"] if open_camera else [])
    return run_python_child("watcher.doctor.camera_probe", args, timeout_s)


def _fmt_size(size: Any) -> str:
    try:
        w, h = size
        return f"{w}x{h}"
    except (TypeError, ValueError):
        return "?"


def _modes_text(modes: list[dict[str, Any]]) -> str:
    parts = []
    for m in modes:
        fps = m.get("fps")
        parts.append(_fmt_size(m.get("size")) + (f"@{fps:g}" if isinstance(fps, (int, float)) else ""))
    return ", ".join(parts)


def _fit(modes: list[dict[str, Any]], width: int, height: int, fps: float) -> tuple[str, str] | None:
    """A (problem, fix) when the sensor cannot give width x height at fps, judged from its modes."""
    sized = [m for m in modes if isinstance(m.get("size"), list) and len(m["size"]) == 2]
    if not sized:
        return None
    big = [m for m in sized if m["size"][0] >= width and m["size"][1] >= height]
    if not big:
        largest = max(sized, key=lambda m: m["size"][0] * m["size"][1])
        return ((f"configured {width}x{height} is larger than the sensor's largest mode {_fmt_size(largest['size'])}: "
                 "picamera2 upscales"), f"set [source] width/height to at most {_fmt_size(largest['size'])}")
    rates = [m["fps"] for m in big if isinstance(m.get("fps"), (int, float))]
    if rates and fps > max(rates) + 0.5:
        return (f"the sensor gives at most {max(rates):g} fps at {width}x{height} or more, configured {fps:g}",
                f"lower [source] fps to {int(max(rates))} or the size")
    return None


def _picamera2(width: int, height: int, fps: float, prober: CameraProber, service_active: bool | None,
               timeout_s: float) -> CheckResult:
    child = prober(CAMERA_NUM, not service_active, timeout_s)
    errors = {r.get("step"): r for r in child.records if r.get("event") == "error"}
    started = child.last("start")
    if "import" in errors:
        e = errors["import"]
        return fail("camera", f"not checked: picamera2 does not import ({e['error_type']}: {e['error']})",
                    "fix the picamera2 line first")
    cams_rec = child.last("cameras")
    if cams_rec is None:
        if "list" in errors:
            e = errors["list"]
            return fail("camera", f"libcamera could not list cameras: {e['error_type']}: {e['error']}", LIST_HINT)
        step = started.get("step") if started else "starting"
        how = child.died or f"exited with status {child.returncode}"
        return fail("camera", f"picamera2 {how} while {'importing' if step == 'import' else 'listing cameras'}",
                    "the camera stack is wedged: `rpicam-hello --list-cameras`, `dmesg`, then reboot",
                    stderr=child.stderr[-500:])
    cameras = cams_rec.get("cameras") or []
    if not cameras:
        return fail("camera", "picamera2 (libcamera) finds no camera", LIST_HINT)
    if len(cameras) <= CAMERA_NUM:
        return fail("camera", f"camera {CAMERA_NUM} not found", LIST_HINT, cameras=cameras)
    cam = cameras[CAMERA_NUM]
    name = f"{cam.get('Model', '?')} ({cam.get('Id', '?')})"
    details: dict[str, Any] = {"cameras": cameras}
    if service_active:
        return ok("camera", f"{name}; in use by the running watcher service, so not opened", **details)
    if "open" in errors:
        e = errors["open"]
        return fail("camera", f"{name} found but cannot be opened: {e['error_type']}: {e['error']}",
                    "another process may hold it: `sudo fuser -v /dev/media* /dev/video*`; stop that "
                    "(e.g. `sudo systemctl stop watcher`) and run the doctor again", **details)
    if child.died:
        step = started.get("step") if started else "?"
        return fail("camera", f"{name} found, then picamera2 {child.died} while in step '{step}'",
                    "the camera stack is wedged: `dmesg`, then reboot", **details)
    opened = child.last("opened") or {}
    modes_rec = child.last("modes")
    modes = (modes_rec or {}).get("modes") or []
    details.update(pixel_array_size=opened.get("pixel_array_size"), modes=modes)
    msg = name
    if opened.get("pixel_array_size"):
        msg += f", sensor {_fmt_size(opened['pixel_array_size'])}"
    if modes:
        msg += f"; modes {_modes_text(modes)}"
    elif "modes" in errors:
        msg += f"; sensor modes not read ({errors['modes']['error_type']})"
    problem = _fit(modes, width, height, fps)
    if problem:
        return warn("camera", f"{msg}; {problem[0]}", problem[1], **details)
    return ok("camera", msg, **details)


def _device(index: int, dev_dir: Path, query: Query) -> CheckResult:
    path = dev_dir / f"video{index}"
    if not path.exists():
        return fail("camera", f"{path} does not exist", "plug the camera in; `v4l2-ctl --list-devices` lists the "
                    "video devices (a USB camera usually gives two nodes: use the first)")
    if not os.access(path, os.R_OK | os.W_OK):
        return fail("camera", f"{path} is not readable and writable by this user",
                    "the service's user must be in group video (`sudo usermod -aG video watcher`)")
    driver, card = query(path)
    what = f"{card} ({driver})" if card else "a video device"
    return ok("camera", f"{path}: {what}", driver=driver, card=card)


def check_camera(spec: str, width: int, height: int, fps: float, *, prober: CameraProber = run_camera_probe,
                 service_active: bool | None = None, dev_dir: Path = Path("/dev"), query: Query = querycap,
                 timeout_s: float = CAMERA_TIMEOUT_S) -> CheckResult:
    if spec == "picamera2":
        return _picamera2(width, height, fps, prober, service_active, timeout_s)
    if spec == "synthetic":
        return na("camera", "source synthetic: no camera")
    if spec.startswith("device:"):
        try:
            index = int(spec.removeprefix("device:"))
        except ValueError:
            return fail("camera", f"bad source {spec!r}: device:N needs a number", "fix [source] spec")
        return _device(index, dev_dir, query)
    if spec.startswith(("rtsp://", "rtsps://", "http://", "https://")):
        return na("camera", "network stream: not checked (watcher.service needs an override to reach it, "
                  "deploy/README.md \"Network cameras\")")
    path = spec.removeprefix("file:")
    if spec.startswith("file:") or os.path.exists(path):
        if os.path.isfile(path):
            return na("camera", f"source is the file {path}: no camera")
        return fail("camera", f"video file not found: {path}", "fix [source] spec")
    return fail("camera", f"unknown source {spec!r}", "use synthetic, file:PATH, device:N, rtsp://..., picamera2")
