"""The motion timeline of a clip: an activity score per time bin and the motion segments.

Each frame's luma is shrunk to ``width`` pixels and blurred; it is compared with the frame about
``lag_s`` earlier (frame differencing: no background model, so nothing to warm up and no ghosts
from a clip that starts with someone in view). The activity score of a frame is the fraction of
pixels that changed by more than ``diff_threshold`` grey levels, less a global-change guard (when
most of the image changes at once it is light, not motion). A bin's score is its frames' maximum.
Segments are runs of bins above ``active_threshold`` (gaps up to ``gap_s`` bridged); each carries
the union of the changed pixels' bounding boxes, as fractions of the frame.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from inspector.analysis.result import Segment as SegmentResult

Rect = tuple[int, int, int, int]  # x, y, w, h in pixels of the small image


@dataclass(frozen=True)
class MotionSettings:
    bin_s: float = 0.1
    width: int = 160
    lag_s: float = 0.1
    diff_threshold: int = 18
    active_threshold: float = 0.002
    gap_s: float = 0.5
    min_segment_s: float = 0.2
    global_change: float = 0.6  # more than this fraction changed at once: lighting, not motion


@dataclass
class Segment:
    start_s: float
    end_s: float
    peak: float
    box: tuple[float, float, float, float]  # x, y, w, h as fractions of the frame

    def as_result(self) -> SegmentResult:
        """The segment as the analysis result stores it (rounded)."""
        x, y, w, h = (round(float(v), 4) for v in self.box)
        return SegmentResult(start_s=round(float(self.start_s), 3), end_s=round(float(self.end_s), 3),
                             peak=round(float(self.peak), 5), box=(x, y, w, h))


@dataclass
class MotionTimeline:
    """Feed it every frame's luma in order with :meth:`add`; read :attr:`activity` and :meth:`segments`."""

    settings: MotionSettings = field(default_factory=MotionSettings)
    activity: list[float] = field(default_factory=list)  # per bin
    boxes: list[Rect | None] = field(default_factory=list)  # per bin
    size: tuple[int, int] = (0, 0)  # small image (w, h)
    max_bins: int | None = None  # a frame past this many bins raises ValueError (the timeline is sized by time)
    _history: deque[tuple[float, np.ndarray]] = field(default_factory=deque)

    def add(self, t: float, luma: np.ndarray) -> float:
        """Add a frame; return its activity score."""
        s = self.settings
        h, w = luma.shape[:2]
        sw = min(s.width, w)
        sh = max(1, round(h * sw / w))
        small = cv2.GaussianBlur(cv2.resize(luma, (sw, sh), interpolation=cv2.INTER_AREA), (5, 5), 0)
        self.size = (sw, sh)
        ref = None
        while self._history and self._history[0][0] <= t - s.lag_s + 1e-6:
            ref = self._history.popleft()[1]
        if ref is None and self._history and len(self._history) >= 4:
            ref = self._history.popleft()[1]  # irregular timestamps: never compare too far back
        self._history.append((t, small))
        b = int(t / s.bin_s + 1e-6)
        if self.max_bins is not None and not b < self.max_bins:  # not: also NaN
            raise ValueError(f"a frame at {t:g} s is past the timeline's {self.max_bins} bins")
        while len(self.activity) <= b:
            self.activity.append(0.0)
            self.boxes.append(None)
        if ref is None:
            return 0.0
        mask = cv2.threshold(cv2.absdiff(small, ref), s.diff_threshold, 255, cv2.THRESH_BINARY)[1]
        changed = cv2.countNonZero(mask)
        frac = changed / mask.size
        if frac > s.global_change:
            return 0.0
        score = frac
        if score >= s.active_threshold:
            bx, by, bw, bh = cv2.boundingRect(mask)
            self.boxes[b] = _union(self.boxes[b], (bx, by, bw, bh))
        self.activity[b] = max(self.activity[b], score)
        return score

    def segments(self) -> list[Segment]:
        s = self.settings
        gap_bins = max(0, round(s.gap_s / s.bin_s))
        runs: list[list[int]] = []
        for i, a in enumerate(self.activity):
            if a < s.active_threshold:
                continue
            if runs and i - runs[-1][1] - 1 <= gap_bins:
                runs[-1][1] = i
            else:
                runs.append([i, i])
        out = []
        sw, sh = self.size
        for a, b in runs:
            if (b - a + 1) * s.bin_s < s.min_segment_s:
                continue
            box = None
            for i in range(a, b + 1):
                box = _union(box, self.boxes[i])
            x, y, w, h = box or (0, 0, 0, 0)
            out.append(Segment(a * s.bin_s, (b + 1) * s.bin_s, max(self.activity[a:b + 1]),
                               (x / sw, y / sh, w / sw, h / sh) if sw and sh else (0.0, 0.0, 0.0, 0.0)))
        return out


def _union(a: Rect | None, b: Rect | None) -> Rect | None:
    if a is None:
        return b
    if b is None:
        return a
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)
