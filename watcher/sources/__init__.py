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

from pydantic import Field

from shared.validation import Strict
from watcher.sources.base import FrameSource, SourceError, SourceInfo

__all__ = ["FrameSource", "SourceError", "SourceInfo", "SourceSettings", "create_source"]


class SourceSettings(Strict):
    spec: str = Field(default="synthetic", description="synthetic | file:PATH | device:N | rtsp://... | picamera2")
    width: int = Field(default=1280, ge=64, le=4096, description="capture width (cameras, synthetic uses 640)")
    height: int = Field(default=720, ge=48, le=3072, description="capture height")
    fps: float = Field(default=30.0, ge=1.0, le=120.0, description="capture frame rate")
    realtime: bool = Field(default=False, description="pace file and synthetic sources at their frame rate")
    seed: int = Field(default=1, description="synthetic scene seed")
    synthetic_period_s: float = Field(default=10.0, ge=0.5, le=3600.0,
                                      description="synthetic scene: a walker every this many seconds")
    synthetic_walk_s: float = Field(default=0.0, ge=0.0, le=3600.0,
                                    description="synthetic scene: seconds each walker is in view (0: 3-4.5 s)")
    lores_width: int = Field(default=320, ge=64, le=1280, description="picamera2 detection stream width")

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
