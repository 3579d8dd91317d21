"""Frame sources. :func:`create_source` turns a ``--source`` spec into a backend:

    synthetic          the built-in scene (default)
    file:PATH          a video file (any format FFmpeg reads); a bare existing path works too
    device:N           USB camera N (V4L2 through OpenCV)
    rtsp://... http(s)://...   a network stream through OpenCV/FFmpeg
    picamera2          the Raspberry Pi camera (hardware H.264 encoder + YUV420 lores stream)

Each backend lives in its own module and is imported only when chosen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from watcher.sources.base import FrameSource, SourceError, SourceInfo

__all__ = ["FrameSource", "SourceError", "SourceInfo", "SourceSettings", "create_source"]


@dataclass(frozen=True)
class SourceSettings:
    spec: str = field(default="synthetic",
                      metadata={"help": "synthetic | file:PATH | device:N | rtsp://... | picamera2"})
    width: int = field(default=1280,
                       metadata={"min": 64, "max": 4096, "help": "capture width (cameras, synthetic uses 640)"})
    height: int = field(default=720, metadata={"min": 48, "max": 3072, "help": "capture height"})
    fps: float = field(default=30.0, metadata={"min": 1.0, "max": 120.0, "help": "capture frame rate"})
    realtime: bool = field(default=False, metadata={"help": "pace file and synthetic sources at their frame rate"})
    seed: int = field(default=1, metadata={"help": "synthetic scene seed"})
    synthetic_period_s: float = field(default=10.0, metadata={"min": 0.5, "max": 3600.0,
                                      "help": "synthetic scene: a walker every this many seconds"})
    synthetic_walk_s: float = field(default=0.0, metadata={"min": 0.0, "max": 3600.0,
                                    "help": "synthetic scene: seconds each walker is in view (0: 3-4.5 s)"})
    lores_width: int = field(default=320, metadata={"min": 64, "max": 1280, "help": "picamera2 detection stream width"})


def create_source(settings: SourceSettings, *, duration_s: float | None = None, gop_frames: int = 60,
                  bitrate: int = 4_000_000) -> FrameSource:
    spec = settings.spec
    if spec == "synthetic":
        from watcher.sources.synthetic import SyntheticSource

        return SyntheticSource(seed=settings.seed, duration_s=duration_s, event_period_s=settings.synthetic_period_s,
                               walk_s=settings.synthetic_walk_s or None)
    if spec == "picamera2":
        from watcher.sources.picamera2_source import Picamera2Source

        lores_h = max(2, round(settings.lores_width * settings.height / settings.width / 2) * 2)
        return Picamera2Source(width=settings.width, height=settings.height, fps=settings.fps, bitrate=bitrate,
                               gop_frames=gop_frames, lores_width=settings.lores_width, lores_height=lores_h)
    from watcher.sources.opencv_source import OpenCVSource

    if spec.startswith("device:"):
        try:
            index = int(spec.removeprefix("device:"))
        except ValueError:
            raise SourceError(f"bad source {spec!r}: device:N needs a number") from None
        return OpenCVSource(index, live=True, width=settings.width, height=settings.height, fps=settings.fps)
    if spec.startswith(("rtsp://", "rtsps://", "http://", "https://")):
        return OpenCVSource(spec, live=True)
    path = spec.removeprefix("file:")
    if spec.startswith("file:") or os.path.exists(path):
        if not os.path.isfile(path):
            raise SourceError(f"video file not found: {path}")
        return OpenCVSource(path, live=False)
    raise SourceError(f"unknown source {spec!r} (use synthetic, file:PATH, device:N, rtsp://..., picamera2)")
