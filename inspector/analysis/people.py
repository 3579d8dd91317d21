"""People in a frame, behind a small interface so a stronger model can replace HOG later.

A :class:`PersonDetector` takes a BGR frame and returns :class:`Box` es in that frame's pixels.
:class:`HogPersonDetector` is the built-in one: OpenCV's default HOG people SVM (see
:mod:`inspector.analysis.hog`), upscaling small frames so that a person of ``min_person_frac``
of the frame height fills the 64x128 window, then non-maximum suppression, keeping only boxes that
several overlapping windows agree on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from inspector.analysis import hog


@dataclass(frozen=True)
class Box:
    """A detection in pixels of the frame it was found in; ``score`` is the detector's confidence."""

    x: float
    y: float
    w: float
    h: float
    score: float = 0.0

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0

    def scaled(self, s: float) -> Box:
        return Box(self.x * s, self.y * s, self.w * s, self.h * s, self.score)


class PersonDetector(Protocol):
    name: str

    def detect(self, bgr: np.ndarray) -> list[Box]:
        """People in a BGR uint8 frame, in that frame's pixel coordinates."""
        ...


def nms(boxes: list[Box], iou: float = 0.35) -> list[tuple[Box, int]]:
    """Greedy non-maximum suppression, best score first. Returns (kept box, how many boxes it
    suppressed + 1), the second being the support that a detection got from overlapping windows."""
    order = sorted(boxes, key=lambda b: b.score, reverse=True)
    kept: list[tuple[Box, int]] = []
    suppressed = [False] * len(order)
    for i, b in enumerate(order):
        if suppressed[i]:
            continue
        support = 1
        for j in range(i + 1, len(order)):
            if not suppressed[j] and b.iou(order[j]) > iou:
                suppressed[j] = True
                support += 1
        kept.append((b, support))
    return kept


def _inside(inner: Box, outer: Box, frac: float = 0.7) -> bool:
    ix = max(0.0, min(inner.x + inner.w, outer.x + outer.w) - max(inner.x, outer.x))
    iy = max(0.0, min(inner.y + inner.h, outer.y + outer.h) - max(inner.y, outer.y))
    return ix * iy >= frac * inner.w * inner.h


@dataclass
class HogPersonDetector:
    """HOG + linear SVM people detector (Dalal & Triggs; OpenCV's default people model).

    ``min_person_frac``: smallest person to find, as a fraction of the frame height; frames are
    upscaled (at most ``max_upscale`` times) so that such a person is ~96 px tall (the body inside
    HOG's 64x128 window).
    ``threshold``: minimum SVM score of a kept box; ``min_support``: minimum number of overlapping
    windows (across positions and scales) behind it, which removes most lone false alarms.
    """

    min_person_frac: float = 0.12
    max_upscale: float = 2.0
    threshold: float = 0.3
    min_support: int = 3
    scale_step: float = 1.1
    name: str = "hog-people-v1"

    def detect(self, bgr: np.ndarray) -> list[Box]:
        h = bgr.shape[0]
        up = min(max(1.0, 96.0 / (self.min_person_frac * h)), self.max_upscale)
        img = bgr if up == 1.0 else cv2.resize(bgr, None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR)
        hits = [Box(x, y, w, hh, s) for x, y, w, hh, s in
                ((t.x, t.y, t.w, t.h, t.score) for t in hog.detect_multiscale(img, scale_step=self.scale_step))]
        kept = [b for b, support in nms(hits) if b.score >= self.threshold and support >= self.min_support]
        # a window around a person at a larger scale may survive beside the person's own box
        kept = [b for b in kept if not any(o is not b and _inside(o, b) and o.score >= b.score for o in kept)]
        return [_tighten(b).scaled(1.0 / up) for b in kept]


def _tighten(b: Box) -> Box:
    """HOG's window has a margin around the person (~16 px of 64 on each side, 16 of 128 above and
    below): return the person's own box."""
    mx, my = b.w * 0.125, b.h * 0.0625
    return Box(b.x + mx, b.y + my, b.w - 2 * mx, b.h - 2 * my, b.score)
