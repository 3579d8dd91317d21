"""Fake picamera2 for tests: same module layout and signatures as the real package
(raspberrypi/picamera2) for the parts this project uses; no camera, no libcamera.

The knobs and records live in ``picamera2._fake``.
"""

from .picamera2 import Picamera2

__all__ = ["Picamera2"]
