"""OpenCV sources: video files, USB cameras (``device:N``) and network streams (rtsp/http).

Files: timestamps come from the media (``CAP_PROP_POS_MSEC``, falling back to index / fps),
so a run over a file is reproducible; frames are delivered as fast as they decode.
Cameras and streams: timestamps are monotonic seconds since open; when a read fails the
capture is reopened with capped exponential backoff until ``close()``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np

from watcher.frames import Frame
from watcher.sources.base import SourceError, SourceInfo

logger = logging.getLogger(__name__)


class OpenCVSource:
    def __init__(
        self,
        target: str | int,
        *,
        live: bool,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.target = target
        self.live = live
        self._want = (width, height, fps)
        self._open_timeout_ms = int(open_timeout_s * 1000)
        self._read_timeout_ms = int(read_timeout_s * 1000)
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._closed = threading.Event()
        self._cap: cv2.VideoCapture | None = None
        self._info: SourceInfo | None = None
        self.reconnects = 0

    def _open_capture(self) -> cv2.VideoCapture:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self._open_timeout_ms,
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, self._read_timeout_ms]
        if isinstance(self.target, int):
            cap = cv2.VideoCapture(self.target, cv2.CAP_ANY)
        else:
            cap = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params) if self.live else cv2.VideoCapture(self.target)
        w, h, fps = self._want
        if self.live and isinstance(self.target, int):
            if w:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, w)
            if h:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, h)
            if fps:
                cap.set(cv2.CAP_PROP_FPS, fps)
        return cap

    def open(self) -> SourceInfo:
        cap = self._open_capture()
        if not cap.isOpened():
            raise SourceError(f"cannot open video source {self.target!r}")
        ok, first = cap.read()
        if not ok or first is None:
            cap.release()
            raise SourceError(f"video source {self.target!r} opened but gave no frame")
        fps = cap.get(cv2.CAP_PROP_FPS)
        if not fps or math.isnan(fps) or fps <= 0 or fps > 240:
            fps = self._want[2] or 25.0
        h, w = first.shape[:2]
        self._cap, self._first = cap, first
        self._info = SourceInfo(w, h, float(fps), live=self.live)
        return self._info

    def frames(self) -> Iterator[Frame]:
        if self._cap is None or self._info is None:
            raise SourceError("open() first")
        try:
            if self.live:
                yield from self._live_frames()
            else:
                yield from self._file_frames()
        finally:
            if self._cap is not None:
                self._cap.release()
                self._cap = None

    def _file_frames(self) -> Iterator[Frame]:
        assert self._cap is not None and self._info is not None
        cap, fps = self._cap, self._info.fps
        index, last_t = 0, -1.0
        image: np.ndarray | None = self._first
        while image is not None and not self._closed.is_set():
            pos_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
            t = pos_ms / 1000.0 if pos_ms and pos_ms > 0 else index / fps
            if t <= last_t:  # missing or non-monotonic media times: fall back to the frame index
                t = max(index / fps, last_t + 1.0 / fps)
            yield Frame(t=t, image=image)
            last_t = t
            index += 1
            ok, image = cap.read()
            if not ok:
                image = None

    def _live_frames(self) -> Iterator[Frame]:
        t0 = time.monotonic()
        yield Frame(t=0.0, image=self._first)
        delay = self._backoff[0]
        while not self._closed.is_set():
            cap = self._cap
            ok, image = (cap.read() if cap is not None else (False, None))
            if ok and image is not None:
                delay = self._backoff[0]
                yield Frame(t=time.monotonic() - t0, image=image)
                continue
            logger.warning("lost video source %r; reconnecting in %.1f s", self.target, delay)
            if cap is not None:
                cap.release()
                self._cap = None
            if self._closed.wait(delay):
                break
            delay = min(delay * 2, self._backoff[1])
            cap = self._open_capture()
            if cap.isOpened():
                self._cap = cap
                self.reconnects += 1
                logger.info("reconnected to %r", self.target)
            else:
                cap.release()

    def close(self) -> None:
        """Ask frames() to end; the capture is released by the thread iterating frames()."""
        self._closed.set()
