"""Every difference between the PyAV releases the watcher runs on, in one place.

The Pi's own stack (Debian 12 / Raspberry Pi OS Bookworm) has PyAV 10; a PyPI install has 14 or
newer. Code paths are chosen by feature checks, never by version numbers. ``av`` is imported
lazily so that importing this module costs nothing where PyAV is not needed.
"""

from __future__ import annotations

from typing import Any


def mark_keyframe(frame: Any) -> None:
    """Ask the encoder to make ``frame`` (an ``av.VideoFrame``) a keyframe.

    The enum works on every PyAV release; the string ``"I"`` (what picamera2's
    ``LibavH264Encoder.force_key_frame`` uses) raises ``TypeError`` from PyAV 14 on.
    """
    import av

    frame.pict_type = av.video.frame.PictureType.I
