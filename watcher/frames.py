"""Value types that flow through the watcher pipeline.

A source yields :class:`Frame` objects. Software sources carry a raw ``image`` that the
pipeline encodes itself; the picamera2 source carries ``packets`` that the Pi's hardware
encoder already produced. Every frame carries a small ``luma`` image for motion detection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    """One encoded video frame (H.264 access unit) on the source timeline.

    ``t`` is the presentation time in seconds on the source's media timeline; ``pts``/``dts``
    are the same instant in units of ``time_base``. With no B-frames, ``pts == dts``.
    """

    data: bytes
    pts: int
    dts: int
    time_base: Fraction
    keyframe: bool
    t: float

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(slots=True)
class Frame:
    """One captured frame.

    ``t``: seconds on the source's media timeline (monotonic, starts near 0).
    ``luma``: 2-D uint8 grayscale image for the detector (any size; the detector downscales),
    or ``None`` when the pipeline should derive it from ``image``.
    ``image``: full-resolution BGR uint8 image to encode, or ``None`` when ``packets`` are given.
    ``packets``: packets already encoded by the source (hardware encoders), in decode order.
    """

    t: float
    luma: np.ndarray | None = None
    image: np.ndarray | None = None
    packets: list[EncodedPacket] = field(default_factory=list)
