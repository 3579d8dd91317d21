"""The H.264 encoder the watcher will use here, hardware or software, and what it costs.

* source ``picamera2`` on a Pi 4 or older: picamera2's ``H264Encoder`` drives the V4L2 hardware
  encoder at ``/dev/video11`` (bcm2835-codec): next to no CPU. On a Pi 5 (PiSP, no H.264 block)
  it is ``LibavH264Encoder``: libx264 through PyAV on the CPU, measured here with its settings.
* any other source: the watcher's own ``VideoEncoder`` with ``[encoder] codec`` (libx264 by
  default, on the CPU even where a hardware encoder exists), measured at the source's size.

The measurement runs in a child process (:mod:`watcher.doctor.encode_probe`): a few frames of a
noisy moving scene after a short warm-up, wall-clock and CPU milliseconds per frame.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from watcher.doctor.probes import ChildOutput, run_python_child
from watcher.doctor.result import CheckResult, fail, ok, warn
from watcher.doctor.v4l2 import Platform

ENCODE_TIMEOUT_S = 90.0
FRAMES = 30
PI4_ENCODER = "/dev/video11"  # picamera2's V4L2Encoder opens exactly this path

EncodeMeasurer = Callable[[Sequence[str], float], ChildOutput]


def run_encode_probe(args: Sequence[str], timeout_s: float) -> ChildOutput:
    return run_python_child("watcher.doctor.encode_probe", args, timeout_s)


def _cost(rec: dict[str, Any], fps: float, cores_allowed: float) -> tuple[str, bool]:
    """("x ms CPU per frame at WxH (...)", too_expensive)."""
    cpu, wall = float(rec["cpu_ms"]), float(rec["wall_ms"])
    fps = float(rec.get("fps") or fps)
    share = cpu * fps / 1000.0  # cores kept busy at this frame rate
    text = (f"{cpu:.1f} ms CPU per frame at {rec['width']}x{rec['height']} ({wall:.1f} ms wall), "
            f"{share:.0%} of one core at {fps:g} fps")
    return text, share > cores_allowed


def _measure(measure: EncodeMeasurer, args: list[str], timeout_s: float) -> tuple[dict[str, Any] | None, str | None]:
    child = measure(args, timeout_s)
    rec = child.last("result")
    if rec is not None:
        return {k: v for k, v in rec.items() if k != "event"}, None
    err = child.last("error")
    if err is not None:
        return None, f"{err.get('error_type')}: {err.get('error')}"
    return None, f"the encoder test {child.died or f'exited with status {child.returncode}'}"


def check_encoder(spec: str, width: int, height: int, fps: float, *, codec: str, preset: str, bitrate: int,
                  gop_s: float, platform: Platform, measure: EncodeMeasurer = run_encode_probe,
                  ncpu: int | None = None, frames: int = FRAMES, timeout_s: float = ENCODE_TIMEOUT_S,
                  access: Callable[[str, int], bool] = os.access) -> CheckResult:
    ncpu = ncpu or os.cpu_count() or 1
    hw = platform.hw_encoder
    if spec == "picamera2":
        if platform.pisp:
            rec, error = _measure(measure, ["picamera2-libav", "--size", str(width), str(height), str(fps),
                                            "--bitrate", str(bitrate), "--gop-s", str(gop_s), "--frames", str(frames)],
                                  timeout_s)
            what = "software: no hardware H.264 encoder (Pi 5); picamera2 encodes with libx264 on the CPU"
            if rec is None:
                return fail("encoder", f"{what}, and that fails here: {error}",
                            "picamera2's LibavH264Encoder needs PyAV with libx264 (apt's python3-av has it)")
            cost, dear = _cost(rec, fps, cores_allowed=0.5 * ncpu)
            if dear:
                return warn("encoder", f"{what}: {cost}: more than half of the {ncpu} cores",
                            "lower [source] width/height or fps", **rec)
            return ok("encoder", f"{what}: {cost}", **rec)
        if hw is not None and hw.path.endswith("/" + PI4_ENCODER.rsplit("/", 1)[1]):
            if not access(hw.path, os.R_OK | os.W_OK):
                return fail("encoder", f"hardware encoder {PI4_ENCODER} ({hw.card}) is not usable by this user",
                            "the service's user must be in group video (`sudo usermod -aG video watcher`)")
            return ok("encoder", f"hardware: picamera2's H264Encoder uses the V4L2 encoder {PI4_ENCODER} ({hw.card}); "
                      "next to no CPU per frame", node=hw.path, card=hw.card)
        return fail("encoder", f"picamera2 will use the V4L2 H.264 encoder at {PI4_ENCODER}, which this machine does "
                    "not have (no pispbe either, so picamera2 does not fall back to libx264)",
                    "on a Pi 4 or older the bcm2835-codec driver provides it (`lsmod | grep bcm2835_codec`); "
                    "picamera2 only works on a Raspberry Pi")
    if "v4l2m2m" in codec and hw is None:
        return fail("encoder", f"[encoder] codec {codec} needs a V4L2 H.264 encoder and there is none here",
                    "set [encoder] codec = \"libx264\"")
    args = ["watcher", "--codec", codec, "--preset", preset, "--bitrate", str(bitrate), "--gop-s", str(gop_s),
            "--frames", str(frames)]
    size_known = spec == "synthetic" or spec.startswith("file:") or (os.path.isfile(spec) and "://" not in spec)
    args += ["--source", spec] if size_known else ["--size", str(width), str(height), str(fps)]
    rec, error = _measure(measure, args, timeout_s)
    kind = "hardware" if "v4l2m2m" in codec else "software"
    what = f"{kind}: the watcher's encoder, {codec}" + (f" ({preset})" if codec == "libx264" else "") + " through PyAV"
    if rec is None:
        return fail("encoder", f"{what} does not work here: {error}",
                    "if a line above shows numpy, OpenCV or PyAV broken, fix that first; otherwise set "
                    "[encoder] codec to an encoder PyAV has (libx264)")
    cost, dear = _cost(rec, fps, cores_allowed=0.8)  # one thread: it must fit one core, with room to spare
    note = (f" (a hardware encoder is at {hw.path}: picamera2 would use it)"
            if hw is not None and kind == "software" else "")
    if dear:
        return warn("encoder", f"{what}: {cost}: too close to a whole core to keep up{note}",
                    "lower the size or fps, or a faster [encoder] preset (ultrafast)", **rec)
    return ok("encoder", f"{what}: {cost}{note}", **rec)
