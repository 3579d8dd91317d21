"""Fake picamera2 for tests: same module layout and signatures as the real package
(raspberrypi/picamera2) for the parts this project uses; no camera, no libcamera.

The knobs and records live in ``picamera2._fake``. ``Picamera2`` (and ``encoders.H264Encoder``)
are looked up at import time of the caller, for the release ``_fake.settings.release`` mirrors.
"""

__all__ = ["Picamera2"]


def __getattr__(name):
    if name == "Picamera2":
        from . import picamera2

        return picamera2.Picamera2
    raise AttributeError(name)
