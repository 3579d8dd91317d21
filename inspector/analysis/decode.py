"""Decoding a whole video with FFmpeg (PyAV): the only module of the analysis that imports ``av``.

:class:`VideoReader` yields every frame as a :class:`DecodedFrame` carrying its time (seconds from
the first frame), its luma plane (no colour conversion: that is all motion analysis needs) and a
method for the BGR image, converted only for the frames that are asked for. Anything FFmpeg cannot
open or decode raises :class:`DecodeError` with the reason and how far it got; running out of
memory (the clip's process has a cap) raises ``MemoryError``, which is not the file's fault alone.

``max_pixels`` is handed to FFmpeg's decoder, which then refuses a larger frame before allocating
it (a stream may change resolution mid-way, after the headers were checked).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import av
import numpy as np

logger = logging.getLogger(__name__)

_PLANAR_LUMA = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}


class DecodeError(Exception):
    """The file cannot be opened or decoded; the message says why (and after how many frames)."""


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int
    height: int
    fps: float | None  # the stream's average frame rate, if the container states one
    frames_hint: int | None  # the container's frame count, if it states one
    duration_hint: float | None


class DecodedFrame:
    __slots__ = ("_frame", "_luma", "index", "t")

    def __init__(self, index: int, t: float, frame: av.VideoFrame) -> None:
        self.index, self.t, self._frame = index, t, frame
        self._luma: np.ndarray | None = None

    @property
    def width(self) -> int:
        return int(self._frame.width)

    @property
    def height(self) -> int:
        return int(self._frame.height)

    @property
    def luma(self) -> np.ndarray:
        if self._luma is None:
            f = self._frame
            if f.format.name in _PLANAR_LUMA:
                plane = f.planes[0]
                rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
                self._luma = rows[: f.height, : f.width]
            else:
                self._luma = f.to_ndarray(format="gray")
        return self._luma

    def bgr(self) -> np.ndarray:
        try:
            return self._frame.to_ndarray(format="bgr24")
        except av.FFmpegError as e:
            raise DecodeError(f"frame {self.index} cannot be converted: {_describe(e)}") from None


class VideoReader:
    """``with VideoReader(path) as r: info = r.info; for f in r.frames(): ...``

    ``threads``: FFmpeg decoding threads (1 inside a process pool: the pool is the parallelism).
    """

    def __init__(self, path: Path, *, threads: int = 1, max_pixels: int | None = None) -> None:
        self.path = path
        self.threads = threads
        self.max_pixels = max_pixels
        self._container: av.container.InputContainer | None = None
        self.info: VideoInfo | None = None

    def __enter__(self) -> VideoReader:
        try:
            self._container = av.open(str(self.path))
        except MemoryError:
            raise
        except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
            raise DecodeError(f"FFmpeg cannot open the file: {_describe(e)}") from None
        streams = self._container.streams.video
        if not streams:
            self._container.close()
            raise DecodeError("the file has no video stream")
        s = streams[0]
        s.thread_type = "AUTO" if self.threads > 1 else "SLICE"
        s.thread_count = self.threads
        if self.max_pixels:
            s.codec_context.options = {"max_pixels": str(self.max_pixels)}
        rate = s.average_rate or s.guessed_rate
        duration = None
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif self._container.duration:
            duration = self._container.duration / 1_000_000
        self.info = VideoInfo(codec=s.codec_context.name, width=s.codec_context.width, height=s.codec_context.height,
                              fps=float(rate) if rate else None, frames_hint=s.frames or None, duration_hint=duration)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._container is not None:
            self._container.close()

    def frames(self) -> Iterator[DecodedFrame]:
        assert self._container is not None, "use VideoReader as a context manager"
        stream = self._container.streams.video[0]
        n = 0
        t0: float | None = None
        last_t = -1.0
        try:
            for frame in self._container.decode(stream):
                t: float | None = frame.time  # None without timestamps, whatever the stubs say
                if t is None:  # no timestamps: assume a constant rate
                    fps = self.info.fps if self.info and self.info.fps else 25.0
                    t = n / fps
                if t0 is None:
                    t0 = t
                t = max(t - t0, last_t)
                last_t = t
                yield DecodedFrame(n, t, frame)
                n += 1
        except MemoryError:
            raise
        except (av.FFmpegError, EOFError, OSError) as e:
            raise DecodeError(f"decoding failed after {n} frame(s): {_describe(e)}") from None


def _describe(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
