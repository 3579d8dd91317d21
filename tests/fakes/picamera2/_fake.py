"""Knobs and records of the fake picamera2 (not part of the real package).

Tests set ``settings`` before the code under test opens the camera, and look at ``cameras``
(every fake ``Picamera2`` made, newest last) afterwards. ``reset()`` restores the defaults;
``shutdown()`` (the ``fake`` fixture's teardown) stops every camera thread and fails every job
still pending, so a thread that a test left blocked in the fake ends.

The scene is deterministic: frame ``n`` shows a bright square at ``square_origin(n, ...)`` on a
flat background, in both the main and the lores stream; sensor timestamps are
``sensor_epoch_ns + n * frame duration``. As with a real camera, frames come from the camera's
own thread whether or not anyone asks for them, ``frame_interval_s`` apart in real time
(faster than the sensor timestamps say, so tests run quickly).

A process that imports the fake (a watcher started by a test) takes its settings from the JSON
object in the environment variable ``PICAMERA2_FAKE_SETTINGS`` (e.g. ``{"loop_dies_at_frame": 30}``).

``release`` picks the picamera2 API to mirror (its git tags): ``wait(job,
timeout=)`` from 0.3.17, ``cancel_all_and_flush`` from 0.3.20, the 5-argument ``outputframe``
from 0.3.23, ``H264Encoder.force_key_frame`` from 0.3.32.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field

import numpy as np

BACKGROUND_Y = 40
SQUARE_Y = 220
PADDING_BYTE = 255  # fills stride padding; never appears in the picture itself
SQUARE_FRACTION = 8  # the square's side is 1/8 of the image height
LATEST = (0, 3, 38)  # the release on PyPI when the fake was last compared with the real one


@dataclass
class Settings:
    release: tuple[int, int, int] = LATEST
    num_cameras: int = 1
    # Raised by Picamera2() (e.g. RuntimeError("Camera __init__ sequence did not complete.")).
    open_error: BaseException | None = None
    # Produce this many frames, then stall: no more frames, capture jobs stay pending.
    stall_after_frames: int | None = None
    # Let the camera thread die with this exception while it encodes frame N (what PyAV >= 14 does
    # to picamera2's LibavH264Encoder after force_key_frame(): TypeError on the camera thread).
    loop_dies_at_frame: int | None = None
    loop_error: BaseException = field(default_factory=lambda: TypeError("an integer is required"))
    # Fault injection: stopping the camera never returns (libcamera's camera.stop() stuck in a wedged
    # driver). Nothing in picamera2 does this by itself; it stands for whatever else can hang.
    stop_hangs: bool = False
    # Encoded frames reach the output this many frames late, as the V4L2 encoder's own thread
    # returns them after the camera thread has already handed the request to the application.
    encoder_latency_frames: int = 1
    frame_interval_s: float = 0.004  # real time between frames on the fake camera thread
    stride_align: int = 64
    sensor_epoch_ns: int = 7_123_456_789_012_345  # an arbitrary large CLOCK_BOOTTIME-like value

    def has(self, release: tuple[int, int, int]) -> bool:
        return self.release >= release


def _from_environment() -> Settings:
    values = json.loads(os.environ.get("PICAMERA2_FAKE_SETTINGS", "{}"))
    if "release" in values:
        values["release"] = tuple(values["release"])
    return Settings(**values)


settings = _from_environment()
cameras: list = []
stalled = threading.Event()  # set when the camera has stalled (no more frames)
released = threading.Event()  # set by shutdown(): a stop that hangs (stop_hangs) returns
loop_died = threading.Event()  # set when a camera thread died


def reset() -> None:
    global settings
    settings = _from_environment()
    cameras.clear()
    stalled.clear()
    loop_died.clear()
    released.clear()


def shutdown() -> None:
    released.set()
    for camera in cameras:
        camera._fake_shutdown()


def version() -> str:
    return ".".join(map(str, settings.release))


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
    forced_keyframes: int = 0  # force_key_frame() calls
