"""Continuous software encoder (PyAV): BGR frames in, H.264 packets out.

Opened *without* the global-header flag, so SPS/PPS travel in-band with every keyframe and
any run of packets starting at a keyframe can be muxed into its own MP4 (with the flag and the
extradata copied onto the output stream instead, the MP4s did not decode here).
``tune=zerolatency`` means no B-frames and no lookahead: one packet out per frame in, with
``pts == dts``, which keeps the pre-roll and the trigger aligned frame by frame.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any

import av
import cv2
import numpy as np
from av.video.codeccontext import VideoCodecContext
from pydantic import Field

from shared.validation import Strict
from watcher.avcompat import set_max_b_frames
from watcher.frames import EncodedPacket

logger = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90_000)


class EncoderSettings(Strict):
    codec: str = Field(default="libx264", description="FFmpeg encoder name (libx264, h264_v4l2m2m, ...)")
    preset: str = Field(default="veryfast", description="x264 preset (ignored by other encoders)")
    bitrate: int = Field(default=2_000_000, ge=100_000, le=50_000_000, description="bits per second")
    gop_s: float = Field(default=2.0, ge=0.2, le=10.0, description="seconds between keyframes")

class EncoderError(RuntimeError):
    pass


class VideoEncoder:
    def __init__(self, width: int, height: int, fps: float, settings: EncoderSettings | None = None) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.settings = settings = settings or EncoderSettings()
        try:
            ctx = av.CodecContext.create(settings.codec, "w")
        except (av.error.FFmpegError, ValueError) as e:  # unknown codec name
            raise EncoderError(f"encoder {settings.codec!r} is not available: {e}") from e
        if not isinstance(ctx, VideoCodecContext):
            raise EncoderError(f"encoder {settings.codec!r} does not encode video")
        ctx.width, ctx.height = width, height
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = TIME_BASE
        ctx.framerate = Fraction(fps).limit_denominator(1001)
        ctx.gop_size = max(1, round(settings.gop_s * fps))
        ctx.bit_rate = settings.bitrate
        if settings.codec == "libx264":
            ctx.options = {"preset": settings.preset, "tune": "zerolatency", "forced-idr": "1"}
        set_max_b_frames(ctx, 0)  # after the options: on PyAV 10 it is the option "bf"
        try:
            ctx.open()
        except av.error.FFmpegError as e:
            raise EncoderError(f"could not open encoder {settings.codec!r}: {e}") from e
        self._ctx = ctx
        self.codec_name = ctx.codec.name if settings.codec != "libx264" else "h264"
        self.frames_in = 0
        self._last_pts = -1

    def encode(self, image: np.ndarray, t: float, *, force_keyframe: bool = False) -> list[EncodedPacket]:
        """Encode one BGR frame shown at media time ``t`` seconds."""
        h, w = image.shape[:2]
        if (w, h) != (self.width, self.height):
            image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
        # uint8 in, uint8 out (cv2's stubs say any number type)
        yuv: np.ndarray[Any, np.dtype[np.uint8]] = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)  # type: ignore[assignment]
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        pts = max(round(t / TIME_BASE), self._last_pts + 1)  # strictly increasing
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = TIME_BASE
        if force_keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        self.frames_in += 1
        return self._convert(self._ctx.encode(frame))

    def flush(self) -> list[EncodedPacket]:
        return self._convert(self._ctx.encode(None))

    def _convert(self, packets: list[av.Packet[Any]]) -> list[EncodedPacket]:
        out = []
        for p in packets:
            pts = p.pts if p.pts is not None else p.dts
            dts = p.dts if p.dts is not None else pts
            if pts is None or dts is None:  # an encoder stamps every packet it makes
                raise EncoderError(f"{self.codec_name} returned a packet without a timestamp")
            out.append(EncodedPacket(bytes(p), pts, dts, TIME_BASE, bool(p.is_keyframe), float(pts * TIME_BASE)))
        return out
