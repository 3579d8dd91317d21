"""What one clip may cost the analysis: limits on what it decodes to, and caps on its process.

A clip comes from the less trusted side. A few kilobytes of crafted MP4 can declare frames of
4096x4096, or two frames 10^7 s apart (the motion timeline is sized by duration), or decode for ten
minutes under a manifest that says two seconds. So the analysis checks, *while* it decodes:

- from the manifest, before opening the file: its declared size, frames and duration are within
  the limits (they also set the process caps below);
- from the stream headers: the resolution (and, against the manifest, that it is the manifest's),
  the container's frame count and duration;
- on every frame: its size, its index (never more frames than the manifest says) and its time
  (never past the manifest's duration, nor the timeline's bins).

The first check that fails refuses the clip with a reason (:class:`LimitExceeded`); nothing is
decoded past it. Pure: no I/O, so it is tested directly.

The defaults fit everything the watcher can record (``source.width`` <= 4096, ``height`` <= 3072,
``fps`` <= 120, ``trigger.max_clip_s`` <= 3600 plus pre-roll): 4096x3072 (12.6 MP) covers 4K UHD and
the Pi HQ / Camera Module 3 video modes; 1080p is a sixth of it.

Process caps (set with ``setrlimit`` in the clip's own process, see :mod:`.child`) scale with what
the manifest declares, which decoding then must match. Measured here (one core, PyAV 18 + OpenCV 5,
default settings, HOG people detection included), CPU seconds per second of video: 640x360 at 15 fps
1.0 (small frames are upscaled for HOG: the people samples cost about that at any size), 720p30 1.0,
1080p30 2.1, 4096x3072 at 15 fps 8.4; about 1 s per second of video plus ~40 ns per decoded pixel.
Peak address space: ~450 MB + ~95 bytes per pixel of the frame (1.6 GB at 4096x3072); a process's
start-up costs ~0.4 s of CPU. The defaults allow 10x the CPU (plus 30 s) and ~2.5x the memory, so a
normal clip never meets them, even on a slower machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import Field

from shared.manifest import Manifest
from shared.validation import Strict


class LimitExceeded(ValueError):
    """A clip is over a limit, or decodes to something its manifest does not say; the message is
    the reason."""


class AnalysisLimits(Strict):
    """Per-clip limits. Built from the inspector config's ``[analysis]`` table when it has one;
    these are the defaults."""

    max_width: int = Field(default=4096, ge=16, le=16384, description="widest frame decoded")
    max_height: int = Field(default=4096, ge=16, le=16384, description="tallest frame decoded")
    max_pixels: int = Field(default=4096 * 3072, ge=256, le=16384 * 16384,
                            description="most pixels in one frame (4096x3072: 4K UHD and the Pi cameras fit)")
    max_frames: int = Field(default=450_000, ge=1, le=100_000_000,
                            description="most frames in one clip (120 fps for 3720 s)")
    max_duration_s: float = Field(default=3720.0, ge=1.0, le=1_000_000.0,
                                  description="longest clip (the watcher's max_clip_s cap of 3600 s + pre-roll)")
    max_bins: int = Field(default=40_000, ge=10, le=10_000_000,
                          description="most motion-timeline bins (3720 s at 0.1 s a bin: 37,200)")
    cpu_base_s: float = Field(default=30.0, ge=1.0, le=86400.0,
                              description="CPU seconds every clip may use (start-up, stills)")
    cpu_s_per_media_s: float = Field(default=10.0, ge=0.0, le=10_000.0,
                                     description="plus this many CPU seconds per declared second of video")
    cpu_ns_per_pixel: float = Field(default=400.0, ge=0.0, le=1e6, description="plus this many CPU nanoseconds "
                                    "per declared pixel (frames x width x height)")
    cpu_max_s: float = Field(default=6 * 3600.0, ge=1.0, le=7 * 86400.0, description="the CPU cap never exceeds this")
    memory_base_mb: int = Field(default=1024, ge=256, le=1 << 20,
                                description="address space every clip's process may use (MiB)")
    memory_bytes_per_pixel: int = Field(default=256, ge=0, le=1 << 16,
                                        description="plus this much per pixel of one frame")
    memory_max_mb: int = Field(default=4096, ge=256, le=1 << 20, description="the memory cap never exceeds this (MiB)")
    wall_factor: float = Field(default=4.0, ge=1.0, le=1000.0, description="a clip's process is killed after this "
                               "many times its CPU cap in wall-clock time, plus a minute (it waits on something)")

@dataclass(frozen=True)
class Caps:
    """The caps on one clip's process."""

    cpu_s: int  # RLIMIT_CPU soft limit: SIGXCPU
    memory_mb: int  # RLIMIT_AS
    wall_s: float  # killed by the supervisor after this long

    def to_json(self) -> dict[str, float]:
        return {"cap_cpu_s": self.cpu_s, "cap_memory_mb": self.memory_mb, "cap_wall_s": round(self.wall_s, 1)}


def duration_tolerance_s(fps: float) -> float:
    """How far a decoded duration may be from the manifest's (one and a half frames)."""
    return 1.5 / fps + 0.01 if fps > 0 else 0.1


def manifest_problem(m: Manifest, limits: AnalysisLimits) -> str | None:
    """Why a clip whose manifest declares these numbers is refused without decoding (None: fine)."""
    pixels = m.width * m.height
    if m.width > limits.max_width or m.height > limits.max_height or pixels > limits.max_pixels:
        return (f"over the limits: the manifest says {m.width}x{m.height} ({pixels} pixels); limits "
                f"{limits.max_width}x{limits.max_height}, {limits.max_pixels} pixels")
    if m.frames > limits.max_frames:
        return f"over the limits: the manifest says {m.frames} frames; limit {limits.max_frames}"
    if not math.isfinite(m.duration_s) or m.duration_s > limits.max_duration_s:
        return f"over the limits: the manifest says {m.duration_s:g} s; limit {limits.max_duration_s:g} s"
    return None


def caps_for(m: Manifest | None, limits: AnalysisLimits) -> Caps:
    """The process caps for a clip declaring ``m`` (within the limits: see :func:`manifest_problem`);
    without a manifest, for the largest clip the limits allow."""
    frame_px = m.width * m.height if m else limits.max_pixels
    frames = m.frames if m else limits.max_frames
    media_s = m.duration_s if m else limits.max_duration_s
    cpu = min(limits.cpu_max_s, limits.cpu_base_s + limits.cpu_s_per_media_s * media_s
              + limits.cpu_ns_per_pixel * 1e-9 * frames * frame_px)
    mem = min(limits.memory_max_mb, limits.memory_base_mb + (limits.memory_bytes_per_pixel * frame_px >> 20))
    cpu_s = max(1, math.ceil(cpu))
    return Caps(cpu_s=cpu_s, memory_mb=int(mem), wall_s=60.0 + limits.wall_factor * cpu_s)


class FrameGuard:
    """Checks one decoding as it goes: :meth:`header` once the stream is open, :meth:`frame` on
    every frame before anything else looks at it. Each raises :class:`LimitExceeded`."""

    def __init__(self, limits: AnalysisLimits, manifest: Manifest | None = None, bin_s: float = 0.1) -> None:
        self.limits = limits
        self.manifest = manifest
        self.bin_s = bin_s
        max_t = limits.max_duration_s
        self._max_frames = limits.max_frames
        if manifest is not None:
            max_t = min(max_t, manifest.duration_s + duration_tolerance_s(manifest.fps))
            self._max_frames = min(self._max_frames, manifest.frames)
        self._max_t = min(max_t, limits.max_bins * bin_s)

    def header(self, width: int, height: int, frames_hint: int | None, duration_hint: float | None) -> None:
        if width > 0 and height > 0:  # 0: not in the headers; every frame is checked anyway
            self._size(width, height, "the stream's frames are")
        lim = self.limits
        if frames_hint is not None and frames_hint > lim.max_frames:
            raise LimitExceeded(f"over the limits: the container says {frames_hint} frames; limit {lim.max_frames}")
        if duration_hint is not None and duration_hint > lim.max_duration_s + 1.0:
            raise LimitExceeded(f"over the limits: the container says {duration_hint:g} s; "
                                f"limit {lim.max_duration_s:g} s")

    def frame(self, index: int, t: float, width: int, height: int) -> None:
        """``index`` counts from 0; ``t`` is seconds from the first frame."""
        self._size(width, height, f"frame {index + 1} is")
        if index + 1 > self._max_frames:
            m = self.manifest
            if m is not None and m.frames == self._max_frames:
                raise LimitExceeded(f"disagrees with its manifest: decodes to more than its {m.frames} frames")
            raise LimitExceeded(f"over the limits: more than {self._max_frames} frames")
        if not t <= self._max_t:  # also NaN
            m = self.manifest
            lim = self.limits
            if m is not None and m.duration_s + duration_tolerance_s(m.fps) <= min(lim.max_duration_s,
                                                                                  lim.max_bins * self.bin_s):
                raise LimitExceeded(f"disagrees with its manifest: frame {index + 1} is at {t:.3f} s, past its "
                                    f"duration of {m.duration_s:.3f} s")
            if t > lim.max_bins * self.bin_s and lim.max_bins * self.bin_s < lim.max_duration_s:
                raise LimitExceeded(f"over the limits: frame {index + 1} at {t:.3f} s needs more than "
                                    f"{lim.max_bins} timeline bins of {self.bin_s:g} s")
            raise LimitExceeded(f"over the limits: frame {index + 1} is at {t:.3f} s; limit {lim.max_duration_s:g} s")

    def _size(self, width: int, height: int, what: str) -> None:
        lim = self.limits
        if width <= 0 or height <= 0:
            raise LimitExceeded(f"does not decode: {what} {width}x{height}")
        if width > lim.max_width or height > lim.max_height or width * height > lim.max_pixels:
            raise LimitExceeded(f"over the limits: {what} {width}x{height} ({width * height} pixels); limits "
                                f"{lim.max_width}x{lim.max_height}, {lim.max_pixels} pixels")
        m = self.manifest
        if m is not None and (width, height) != (m.width, m.height):
            raise LimitExceeded(f"disagrees with its manifest: {what} {width}x{height}, manifest {m.width}x{m.height}")
