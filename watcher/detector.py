"""Motion detection on a small luma image.

Pure logic: no I/O, no threads, no clocks (the caller passes media time ``t``).

Per frame, at ``settings.width`` pixels wide:

1. Light blur (3x3 Gaussian) against pixel noise.
2. Lighting: the current frame is explained by the background through a *global* affine
   brightness map (lights on, dusk, auto exposure) fitted robustly on 8x8-pixel block means,
   times a *smooth local gain map* (cloud shadows, a lamp lighting one corner): the median of
   block ratios over 5x5 blocks, upsampled. Blocks that held foreground in the previous frame
   keep their previous gain, so people do not bend the estimate.
3. Shake: each pixel is compared with the min..max of the background over a small
   neighbourhood, so a shift of a pixel or so does not show up as change on edges.
4. Threshold: ``threshold`` times a per-pixel noise level (running RMS of the residual where
   nothing moves), never below ``min_threshold`` grey levels: night noise raises the bar,
   clean daylight lowers it.
5. Rain, snow, noise specks: a 3x3 opening, then temporal persistence (a foreground pixel must
   lie within a pixel or so of last frame's foreground: a walking person does, fresh flakes do
   not), then blobs smaller than ``min_area`` are dropped.
6. If most of the frame changes at once (IR-cut filter flips, camera bumped), the background is
   re-learned from the current frame and the detector warms up again instead of reporting motion.

The background is a running average with time constant ``background_s`` (from ``t``, so it
does not depend on the frame rate), ``foreground_slowdown`` times slower under foreground.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

logger = logging.getLogger(__name__)

Polygon = tuple[tuple[float, float], ...]
Box = tuple[float, float, float, float]

_BLOCK = 8  # pixels per side of a lighting block at working resolution
_GAIN_WINDOW = 5  # lighting blocks per side of the local gain median (float32 medianBlur: 3 or 5)


def _check_mask(mask: tuple[Polygon, ...]) -> str | None:
    for i, poly in enumerate(mask):
        if len(poly) < 3:
            return f"polygon {i} needs at least 3 points"
        for x, y in poly:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                return f"polygon {i}: point ({x}, {y}) is outside 0..1"
    return None


@dataclass(frozen=True)
class DetectorSettings:
    """Motion detector tuning. The defaults work on real footage; change them one at a time."""

    width: int = field(default=320, metadata={"min": 64, "max": 1280, "help": "working width of the luma image, px"})
    threshold: float = field(
        default=4.0, metadata={"min": 1.0, "max": 20.0, "help": "change needed, in multiples of the pixel's noise level"}
    )
    min_threshold: float = field(
        default=8.0, metadata={"min": 1.0, "max": 100.0, "help": "smallest change counted, grey levels (0..255)"}
    )
    min_area: float = field(
        default=0.0002, metadata={"min": 0.0, "max": 0.5, "help": "smallest blob, fraction of the frame area"}
    )
    warmup_s: float = field(
        default=2.0, metadata={"min": 0.0, "max": 60.0, "help": "seconds to learn the background after start/reset"}
    )
    background_s: float = field(
        default=10.0, metadata={"min": 0.5, "max": 3600.0, "help": "time constant of the background average, s"}
    )
    foreground_slowdown: float = field(
        default=6.0, metadata={"min": 1.0, "max": 1000.0, "help": "background learns this much slower under motion"}
    )
    shake_px: int = field(
        default=1, metadata={"min": 0, "max": 5, "help": "tolerated camera shake, px at working width"}
    )
    scene_change: float = field(
        default=0.4, metadata={"min": 0.05, "max": 1.0, "help": "changed fraction that means a new scene (re-learn)"}
    )
    mask: tuple[Polygon, ...] = field(
        default=(), metadata={"check": _check_mask, "help": "polygons to ignore, normalized (x, y) points"}
    )


@dataclass(frozen=True)
class MotionResult:
    motion: bool
    score: float
    boxes: tuple[Box, ...]
    warming_up: bool = False


def _downscale(image: np.ndarray, width: int) -> np.ndarray:
    """INTER_AREA downscale to ``width``; halves first, where OpenCV has a fast path."""
    h, w = image.shape[:2]
    while w >= 2 * width and w % 2 == 0 and h % 2 == 0:
        h, w = h // 2, w // 2
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    if w > width:
        image = cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return image


def luma_from_bgr(image: np.ndarray, width: int) -> np.ndarray:
    """Downscale a BGR uint8 frame to ``width`` (area average), then convert to gray (uint8, 2-D)."""
    return cv2.cvtColor(_downscale(image, width), cv2.COLOR_BGR2GRAY)


class MotionDetector:
    """Background-subtraction motion detector; see the module docstring for the method."""

    def __init__(self, settings: DetectorSettings = DetectorSettings()) -> None:
        self.settings = settings
        self._kernel = np.ones((3, 3), np.uint8)
        self._shake_kernel = np.ones((2 * settings.shake_px + 1,) * 2, np.uint8)
        self.reset()

    def reset(self) -> None:
        """Forget the background; the next frame starts a new warm-up."""
        self._shape: tuple[int, int] | None = None
        self._t_last: float | None = None

    def _start(self, cur: np.ndarray, t: float) -> None:
        h, w = cur.shape
        self._shape = (h, w)
        self._bg = cur.copy()
        self._bg_lo = self._bg_hi = self._bg
        self._var = np.full((h, w), (self.settings.min_threshold / self.settings.threshold) ** 2, np.float32)
        self._thr = np.full((h, w), self.settings.min_threshold, np.float32)
        self._prev_fg = np.zeros((h, w), np.uint8)
        self._cshape = (max(1, w // _BLOCK), max(1, h // _BLOCK))
        self._gain_c = np.ones(self._cshape[::-1], np.float32)
        self._warm_until = t + self.settings.warmup_s
        self._refresh_at = t
        valid = np.full((h, w), 255, np.uint8)
        for poly in self.settings.mask:
            pts = np.array([[x * (w - 1), y * (h - 1)] for x, y in poly], np.float32)
            cv2.fillPoly(valid, [np.round(pts).astype(np.int32)], 0)
        self._valid = valid
        self._valid_area = max(1, cv2.countNonZero(valid))
        self._valid_c = cv2.resize(valid, self._cshape, interpolation=cv2.INTER_AREA) > 250

    def process(self, luma: np.ndarray, t: float) -> MotionResult:
        """Detect motion in ``luma`` (2-D uint8, any size) at media time ``t`` seconds."""
        s = self.settings
        small = _downscale(luma, s.width)
        cur = cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)
        if self._shape != cur.shape or self._t_last is None:
            self._start(cur, t)
            self._t_last = t
            return MotionResult(False, 0.0, (), warming_up=s.warmup_s > 0)
        dt = min(max(t - self._t_last, 0.0), 10.0)
        self._t_last = t
        warming = t < self._warm_until

        a, b, gain = self._lighting(cur)
        # current frame mapped back to the background's lighting: cur = (a * bg + b) * gain
        norm = cv2.addWeighted(cv2.divide(cur, gain), 1.0 / a, cur, 0.0, -b / a)
        # residual outside the background's min..max over the shake neighbourhood, in current-frame units
        r = cv2.max(cv2.subtract(norm, self._bg_hi), cv2.subtract(self._bg_lo, norm))
        r = cv2.multiply(cv2.max(r, 0.0), gain, scale=a)
        fg = cv2.compare(r, self._thr, cv2.CMP_GT)
        fg = cv2.bitwise_and(fg, self._valid)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._kernel)
        changed = cv2.countNonZero(fg) / self._valid_area

        if not warming and changed > s.scene_change:
            logger.info("scene change (%.0f%% of the frame changed): re-learning the background", 100 * changed)
            self._start(cur, t)
            return MotionResult(False, 0.0, (), warming_up=s.warmup_s > 0)

        persistent = cv2.bitwise_and(fg, cv2.dilate(self._prev_fg, self._kernel))
        self._prev_fg = fg
        self._learn(cur, r, fg, dt, warming, t)
        if warming:
            return MotionResult(False, 0.0, (), warming_up=True)
        return self._blobs(persistent)

    def _lighting(self, cur: np.ndarray) -> tuple[float, float, np.ndarray]:
        """Global affine (a, b) and local gain map such that cur ~ (a * bg + b) * gain."""
        cur_c = cv2.resize(cur, self._cshape, interpolation=cv2.INTER_AREA)
        bg_c = cv2.resize(self._bg, self._cshape, interpolation=cv2.INTER_AREA)
        fg_c = cv2.resize(self._prev_fg, self._cshape, interpolation=cv2.INTER_AREA)
        quiet = self._valid_c & (fg_c < 8)
        x, y = bg_c[quiet], cur_c[quiet]
        a, b = _robust_affine(x, y) if x.size >= 16 else (1.0, 0.0)
        base_c = a * bg_c + b
        ratio = (cur_c + 1.0) / (np.maximum(base_c, 0.0) + 1.0)
        ratio = np.where(quiet, ratio, self._gain_c).astype(np.float32)
        gain_c = cv2.medianBlur(ratio, _GAIN_WINDOW) if min(self._cshape) >= _GAIN_WINDOW else ratio
        self._gain_c = gain_c = np.clip(gain_c, 0.1, 10.0)
        return a, b, cv2.resize(gain_c, self._shape[::-1], interpolation=cv2.INTER_LINEAR)

    def _learn(self, cur: np.ndarray, r: np.ndarray, fg: np.ndarray, dt: float, warming: bool, t: float) -> None:
        s = self.settings
        tau = s.warmup_s / 4 if warming else s.background_s
        alpha = 1.0 - math.exp(-dt / max(tau, 1e-3))
        still = cv2.bitwise_not(cv2.dilate(fg, self._kernel))
        if warming:
            cv2.accumulateWeighted(cur, self._bg, alpha)
        else:
            cv2.accumulateWeighted(cur, self._bg, alpha, still)
            cv2.accumulateWeighted(cur, self._bg, 1.0 - math.exp(-dt / (tau * s.foreground_slowdown)), fg)
        cv2.accumulateWeighted(cv2.multiply(r, r), self._var, alpha, still)
        if warming or t >= self._refresh_at:
            # slow-changing derived maps: refreshed a few times a second, not every frame
            self._refresh_at = t + 0.25
            if s.shake_px:
                self._bg_lo = cv2.erode(self._bg, self._shake_kernel)
                self._bg_hi = cv2.dilate(self._bg, self._shake_kernel)
            else:
                self._bg_lo = self._bg_hi = self._bg
            self._thr = cv2.max(cv2.sqrt(self._var) * s.threshold, s.min_threshold)

    def _blobs(self, mask: np.ndarray) -> MotionResult:
        if cv2.countNonZero(mask) == 0:
            return MotionResult(False, 0.0, ())
        h, w = mask.shape
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        min_px = self.settings.min_area * h * w
        boxes = []
        area = 0
        for x, y, bw, bh, a in stats[1:n]:
            if a >= min_px:
                boxes.append((x / w, y / h, bw / w, bh / h))
                area += int(a)
        return MotionResult(bool(boxes), min(1.0, area / self._valid_area), tuple(boxes))


def _robust_affine(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Fit y ~ a*x + b, a > 0, ignoring outliers (one reweighting pass on the median residual)."""
    keep = np.ones(x.shape, bool)
    a, b = 1.0, 0.0
    for _ in range(2):
        xs, ys = x[keep], y[keep]
        if xs.size < 8:
            break
        mx, my = float(xs.mean()), float(ys.mean())
        vx = float(((xs - mx) ** 2).mean())
        cxy = float(((xs - mx) * (ys - my)).mean())
        gain = my / max(mx, 1.0)
        ridge = 25.0  # pulls a flat scene towards a pure gain (b = 0)
        a = max((cxy + ridge * gain) / (vx + ridge), 0.05)
        b = my - a * mx
        e = np.abs(y - (a * x + b))
        keep = e <= 3.0 * 1.4826 * float(np.median(e)) + 2.0
    return a, b
