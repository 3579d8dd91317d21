"""Knobs and records of the fake picamera2 (not part of the real package).

Tests set ``settings`` before the code under test opens the camera, and look at ``cameras``
(every fake ``Picamera2`` made, newest last) afterwards. ``reset()`` restores the defaults.

The scene is deterministic: frame ``n`` shows a bright square at ``square_origin(n, ...)`` on a
flat background, in both the main and the lores stream; sensor timestamps are
``sensor_epoch_ns + n * frame duration``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

BACKGROUND_Y = 40
SQUARE_Y = 220
PADDING_BYTE = 255  # fills stride padding; never appears in the picture itself
SQUARE_FRACTION = 8  # the square's side is 1/8 of the image height


@dataclass
class Settings:
    num_cameras: int = 1
    # Raised by Picamera2() (e.g. RuntimeError("Camera __init__ sequence did not complete.")).
    open_error: BaseException | None = None
    # Produce this many frames, then stall: capture jobs stay pending until cancelled.
    stall_after_frames: int | None = None
    # Call Output.outputframe(frame, keyframe, timestamp) like releases before audio support.
    legacy_outputframe: bool = False
    # Encoded frames reach the output this many frames late, as the V4L2 encoder's own thread
    # returns them after the camera thread has already handed the request to the application.
    encoder_latency_frames: int = 1
    stride_align: int = 64
    sensor_epoch_ns: int = 7_123_456_789_012_345  # an arbitrary large CLOCK_BOOTTIME-like value


settings = Settings()
cameras: list = []
stalled = threading.Event()  # set when a capture job is left pending because the camera stalled


def reset() -> None:
    global settings
    settings = Settings()
    cameras.clear()
    stalled.clear()


def align(value: int, to: int) -> int:
    return (value + to - 1) // to * to


def square_origin(n: int, width: int, height: int) -> tuple[int, int, int]:
    """(x, y, side) of the bright square in frame ``n`` of a ``width`` x ``height`` image."""
    side = max(2, height // SQUARE_FRACTION)
    x = (n * side // 4) % max(1, width - side)  # a walker crossing the frame in a few seconds
    y = (n * side // 16) % max(1, height - side)
    return x, y, side


def render_y(n: int, width: int, height: int) -> np.ndarray:
    """The luma picture of frame ``n`` without any padding."""
    y_plane = np.full((height, width), BACKGROUND_Y, dtype=np.uint8)
    x, y, side = square_origin(n, width, height)
    y_plane[y:y + side, x:x + side] = SQUARE_Y
    return y_plane


def render_yuv420(n: int, width: int, height: int, stride: int) -> np.ndarray:
    """A flat YUV420 buffer as libcamera lays it out: Y rows of ``stride`` bytes, then U and V
    rows of ``stride // 2`` bytes; the bytes past the picture in each row are padding."""
    y_plane = np.full((height, stride), PADDING_BYTE, dtype=np.uint8)
    y_plane[:, :width] = render_y(n, width, height)
    chroma = np.full((height // 2, stride // 2), PADDING_BYTE, dtype=np.uint8)
    chroma[:, : width // 2] = 128
    return np.concatenate([y_plane.reshape(-1), chroma.reshape(-1), chroma.reshape(-1)])


@dataclass
class EncoderRecord:
    """What the code under test asked of an H264Encoder."""

    kwargs: dict = field(default_factory=dict)
    forced_keyframes: int = 0
