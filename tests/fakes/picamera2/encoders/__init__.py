"""Fake of picamera2/encoders/__init__.py (Encoder, Quality and H264Encoder are mirrored).

``H264Encoder`` is the Pi 4's V4L2 hardware encoder, as the release ``_fake.settings.release``
has it; the Pi 5's LibavH264Encoder is tested against the real picamera2 instead.
"""

from .encoder import Encoder, Quality

__all__ = ["Encoder", "H264Encoder", "Quality"]


def __getattr__(name):
    if name == "H264Encoder":
        from . import h264_encoder

        return h264_encoder.H264Encoder
    raise AttributeError(name)
