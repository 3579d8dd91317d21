"""KeyframeRequester: how each picamera2 encoder is asked for a keyframe.

The Pi 5 case runs a real libx264 stream through PyAV (whichever PyAV this stack has), wrapped
the way the requester wraps picamera2's LibavH264Encoder._stream; the real picamera2 on the
virtual camera is tested in the integration suite.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from watcher.sources.picamera2_keyframes import KeyframeRequester


class LibavH264Encoder:  # stands in for picamera2.encoders.libav_h264_encoder.LibavH264Encoder
    def __init__(self) -> None:
        self._container = av.open("/dev/null", "w", format="null")  # as its _start() makes it
        self._stream = self._container.add_stream("libx264", rate=10)
        self._stream.width, self._stream.height, self._stream.pix_fmt = 64, 48, "yuv420p"
        self._stream.codec_context.time_base = Fraction(1, 1_000_000)
        self._stream.codec_context.gop_size = 1000
        self._stream.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency"}
        self.forced = 0

    def force_key_frame(self) -> None:  # the real one makes _encode set pict_type = "I": never call it
        raise AssertionError("force_key_frame() must not be used on the Pi 5 path")

    def encode_frames(self, n: int, start: int = 0) -> list[bool]:
        keys = []
        for i in range(start, start + n):
            frame = av.VideoFrame.from_ndarray(np.full((72, 64), i % 256, np.uint8), format="yuv420p")
            frame.pts = i * 100_000
            keys += [bool(p.is_keyframe) for p in self._stream.encode(frame)]  # as _encode calls it
        return keys


class V4L2Encoder:
    def __init__(self) -> None:
        self.calls = 0

    def force_key_frame(self) -> None:
        self.calls += 1


def test_pi5_path_marks_one_frame_through_the_wrapped_stream_on_any_pyav() -> None:
    encoder = LibavH264Encoder()
    requester = KeyframeRequester(encoder, gop_frames=1000)
    assert requester.method == "libav-stream" and requester.on_demand
    keys = encoder.encode_frames(5)
    requester.request()
    keys += encoder.encode_frames(5, start=5)
    keys += [bool(p.is_keyframe) for p in encoder._stream.encode()]  # flush, as _stop() does
    assert [i for i, k in enumerate(keys) if k] == [0, 5]
    assert encoder._stream.width == 64  # everything else is the real stream's


def test_pi4_path_calls_force_key_frame_once_per_request() -> None:
    encoder = V4L2Encoder()
    requester = KeyframeRequester(encoder, gop_frames=30)
    requester.request()
    assert requester.method == "v4l2" and encoder.calls == 1


@pytest.mark.parametrize("encoder", [object(), type("LibavH264Encoder", (), {})()])
def test_without_a_way_to_ask_it_relies_on_the_gop_and_says_what_that_costs(encoder) -> None:
    requester = KeyframeRequester(encoder, gop_frames=60)
    requester.request()
    assert requester.method == "gop" and not requester.on_demand
    assert "60 frames" in requester.describe()
