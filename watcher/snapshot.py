"""The snapshot of an event: the most active frame, as a JPEG (Home Assistant's image entity shows it).

:class:`PeakFrame` keeps a small copy of the frame with the highest motion score while an event lasts
(a copy only when the score beats the last one, scaled down to at most ``width`` pixels wide: a few
copies of a few hundred kB per event); :meth:`PeakFrame.take_jpeg` encodes it when the event ends.
A source that delivers encoded packets gives the detector's grayscale frame instead of a colour one.

Threads: the pipeline thread only.
"""

from __future__ import annotations

import cv2
import numpy as np

SNAPSHOT_WIDTH = 640
JPEG_QUALITY = 85


class PeakFrame:
    def __init__(self, width: int = SNAPSHOT_WIDTH) -> None:
        self.width = width
        self._best: np.ndarray | None = None
        self._score = -1.0

    def offer(self, image: np.ndarray, score: float) -> None:
        """A frame of the event with its motion score: kept (scaled, copied) if it is the most active yet."""
        if score <= self._score:
            return
        self._score = score
        h, w = image.shape[:2]
        if w > self.width:
            self._best = cv2.resize(image, (self.width, max(1, round(h * self.width / w))),
                                    interpolation=cv2.INTER_AREA)
        else:
            self._best = image.copy()

    def take_jpeg(self) -> bytes | None:
        """The kept frame as a JPEG, and forget it (the next event starts afresh); None if none was kept."""
        best, self._best, self._score = self._best, None, -1.0
        if best is None:
            return None
        ok, buf = cv2.imencode(".jpg", best, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        return bytes(buf) if ok else None
