"""Fake of picamera2/encoders/h264_encoder.py (with the parts of v4l2_encoder.py it inherits).

The real encoder feeds the main stream to the Pi's V4L2 H.264 codec (/dev/video11) and returns
the encoded frames on its own poll thread. This one encodes the fake main stream with PyAV's
libx264 (no global header, so SPS/PPS travel in-band as with the real ``repeat=True``) and hands
the frames to the outputs ``_fake.settings.encoder_latency_frames`` frames later, synchronously
on the thread that drives the camera.
"""

from collections import deque
from fractions import Fraction

import av
import numpy as np
from av.video.frame import PictureType

from .. import _fake
from .encoder import Encoder, Quality


# Real: picamera2/encoders/h264_encoder.py, class H264Encoder(V4L2Encoder), on a Pi 4 (hardware).
class _H264EncoderBase(Encoder):
    # Real: H264Encoder.__init__(self, bitrate=None, repeat=True, iperiod=None, framerate=None,
    #                            enable_sps_framerate=False, qp=None, profile=None)
    def __init__(self, bitrate=None, repeat=True, iperiod=None, framerate=None, enable_sps_framerate=False,
                 qp=None, profile=None):
        super().__init__()
        self.bitrate = bitrate
        self.repeat = repeat
        self.iperiod = iperiod
        self.framerate = framerate
        self.qp = qp
        self.profile = profile
        self.record = _fake.EncoderRecord(kwargs=dict(bitrate=bitrate, repeat=repeat, iperiod=iperiod,
                                                      framerate=framerate, qp=qp, profile=profile))
        self._codec = None
        self._pending = deque()
        # Real (0.3.32+, V4L2Encoder): per-call counters; _encode forces one keyframe per request.
        self._key_frames_requested = 0
        self._key_frames_generated = 0

    # Real: H264Encoder._setup(self, quality) picks a bitrate only when none was given.
    def _setup(self, quality):
        if quality is not None or (self.bitrate is None and self.qp is None):
            self.bitrate = 2_000_000 if quality in (None, Quality.MEDIUM) else 1_000_000

    # Real: H264Encoder._start() sets the I-period / repeat-header controls, V4L2Encoder._start()
    # opens /dev/video11 and starts the poll thread.
    def _start(self):
        if self.format != "YUV420":
            raise RuntimeError(f"fake H264Encoder only mirrors YUV420 input, got {self.format}")
        for out in self._output:
            out._add_stream("video", "h264")
        gop = self.iperiod or 60
        params = [f"keyint={gop}", f"min-keyint={gop}", "scenecut=0"]
        if self.repeat:
            params.append("repeat-headers=1")
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height = self.width, self.height
        codec.pix_fmt = "yuv420p"
        codec.time_base = Fraction(1, 1_000_000)
        codec.framerate = Fraction(30)
        codec.gop_size = gop
        if self.bitrate:
            codec.bit_rate = int(self.bitrate)
        codec.options = {"preset": "ultrafast", "tune": "zerolatency", "forced-idr": "1", "bf": "0",
                         "x264-params": ":".join(params)}
        codec.open()
        self._codec = codec
        self._pending.clear()

    # Real: V4L2Encoder._stop() joins the poll thread, which first returns the frames still queued.
    def _stop(self):
        while self._pending:
            self.outputframe(*self._pending.popleft())
        self._codec = None

    # Real: V4L2Encoder._encode(self, stream, request): timestamp_us = self._timestamp(request),
    # queued with the buffer; the poll thread later calls
    # self.outputframe(bytes, keyframe (V4L2_BUF_FLAG_KEYFRAME), timestamp_us).
    def _encode(self, stream, request):
        if self._codec is None:
            return
        timestamp_us = self._timestamp(request)
        buffer = request.make_buffer(stream)
        i420 = _strip_stride(buffer, self.width, self.height, self.stride)
        frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
        frame.pts = timestamp_us
        if self._key_frames_requested > self._key_frames_generated:
            self._key_frames_generated += 1  # real: V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME on this frame
            frame.pict_type = PictureType.I
        for packet in self._codec.encode(frame):
            self._pending.append((bytes(packet), bool(packet.is_keyframe), timestamp_us))
        while len(self._pending) > _fake.settings.encoder_latency_frames:
            self.outputframe(*self._pending.popleft())


# Real: H264Encoder.force_key_frame(self), from 0.3.32 (raspberrypi/picamera2 pull request 1317):
# self._key_frames_requested += 1 -- each call makes one more frame a keyframe.
def _force_key_frame(self):
    self.record.forced_keyframes += 1
    self._key_frames_requested += 1


_classes = {}


def h264_encoder_class(release):
    """H264Encoder as picamera2 ``release`` has it (no force_key_frame before 0.3.32)."""
    if release not in _classes:
        members = {"__module__": "picamera2.encoders.h264_encoder"}
        if release >= (0, 3, 32):
            members["force_key_frame"] = _force_key_frame
        _classes[release] = type("H264Encoder", (_H264EncoderBase,), members)
    return _classes[release]


def __getattr__(name):
    if name == "H264Encoder":
        return h264_encoder_class(_fake.settings.release)
    raise AttributeError(name)


def _strip_stride(buffer, width, height, stride):
    """The fake main buffer (YUV420 at ``stride``) as a packed I420 image for PyAV."""
    flat = np.asarray(buffer, dtype=np.uint8)
    y = flat[: stride * height].reshape(height, stride)[:, :width]
    chroma_size = (stride // 2) * (height // 2)
    u = flat[stride * height: stride * height + chroma_size].reshape(height // 2, stride // 2)[:, : width // 2]
    v = flat[stride * height + chroma_size: stride * height + 2 * chroma_size]
    v = v.reshape(height // 2, stride // 2)[:, : width // 2]
    return np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(height * 3 // 2, width)
