"""Fake of picamera2/encoders/__init__.py (Encoder, Quality and H264Encoder are mirrored)."""

from .encoder import Encoder, Quality
from .h264_encoder import H264Encoder

__all__ = ["Encoder", "H264Encoder", "Quality"]
