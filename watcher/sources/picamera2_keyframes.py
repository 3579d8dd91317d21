"""How to ask picamera2's H.264 encoder for a keyframe without breaking the camera.

picamera2 has two H.264 encoders behind the one name ``H264Encoder``:

* Pi 4 and older: the V4L2 hardware encoder (``encoders/v4l2_encoder.py``). Since 0.3.32 its
  ``force_key_frame()`` *counts* requests (``_key_frames_requested``) and turns one frame into
  a keyframe per request: asking on every frame makes every frame a keyframe. We ask once
  per need (the pipeline guarantees that). Before 0.3.32 there is no way to ask: the next
  keyframe comes with the GOP (``iperiod``).
* Pi 5 (no hardware encoder): ``LibavH264Encoder``, libx264 through PyAV on the camera's own
  thread. Its ``force_key_frame()`` makes ``_encode`` set ``frame.pict_type = "I"``, which PyAV 14
  and newer reject with ``TypeError``: the exception kills picamera2's event loop, frames stop
  and ``Picamera2.stop()`` then waits forever. So we never call it there. Instead the encoder's
  PyAV stream (``encoder._stream``, made in ``_start``) is wrapped: the wrapper marks the next
  frame it is given as a keyframe with the enum, which every PyAV release accepts
  (:func:`watcher.avcompat.mark_keyframe`), and passes everything else through. If a future
  picamera2 has no ``_stream``, we fall back to the GOP and say so once.

Threads: ``request()`` runs on the pipeline thread; the wrapper's ``encode`` runs on picamera2's
camera thread. They share one ``threading.Event`` and nothing else.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from watcher.avcompat import mark_keyframe

logger = logging.getLogger(__name__)


class _KeyframeOnDemandStream:
    """Stands in for ``LibavH264Encoder._stream`` (an ``av`` video stream)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.pending = threading.Event()

    def encode(self, frame: Any = None) -> Any:
        if frame is not None and self.pending.is_set():
            self.pending.clear()
            mark_keyframe(frame)
        return self._stream.encode(frame)

    def __getattr__(self, name: str) -> Any:  # everything but encode() is the real stream's
        return getattr(self._stream, name)


class KeyframeRequester:
    """Asks a started picamera2 H.264 encoder for a keyframe; see the module docstring.

    ``method`` says how: ``"v4l2"`` (``force_key_frame``, counted per call), ``"libav-stream"``
    (the wrapped PyAV stream, Pi 5) or ``"gop"`` (no way to ask; keyframes every ``gop_frames``).
    """

    def __init__(self, encoder: Any, gop_frames: int) -> None:
        self._gop = gop_frames
        self._stream: _KeyframeOnDemandStream | None = None
        self._force = None
        if _is_libav(encoder):
            stream = getattr(encoder, "_stream", None)
            if stream is not None and callable(getattr(stream, "encode", None)):
                self._stream = _KeyframeOnDemandStream(stream)
                encoder._stream = self._stream
                self.method = "libav-stream"
            else:
                self.method = "gop"
        elif callable(getattr(encoder, "force_key_frame", None)):
            self._force = encoder.force_key_frame
            self.method = "v4l2"
        else:
            self.method = "gop"

    @property
    def on_demand(self) -> bool:
        return self.method != "gop"

    def describe(self) -> str:
        if self.on_demand:
            return f"keyframes on demand ({self.method})"
        return (f"this picamera2 cannot force a keyframe: a clip that starts with no keyframe in the "
                f"pre-roll, and each rollover, waits up to {self._gop} frames for the next one")

    def request(self) -> None:
        """One keyframe, as soon as possible. Call once per need, never per frame."""
        if self._stream is not None:
            self._stream.pending.set()
        elif self._force is not None:
            try:
                self._force()
            except Exception:
                logger.warning("encoder.force_key_frame() failed", exc_info=True)


def _is_libav(encoder: Any) -> bool:
    """True for picamera2's software (libx264 through PyAV) encoder, the Pi 5's H264Encoder."""
    return any(cls.__name__ == "LibavH264Encoder" for cls in type(encoder).__mro__)
