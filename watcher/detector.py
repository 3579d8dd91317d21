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

_BLOCK_FRACTION = 1 / 50  # side of a lighting block, fraction of the working width
_SATURATED = 235.0  # grey level above which a pixel may be clipped by the sensor
_GAIN_WINDOW = 5
_REL = 0.05
_RELIT = True
_REFINE = 0.08
_PUREGAIN = False  # lighting blocks per side of the local gain median (float32 medianBlur: 3 or 5)


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
    lighting_jump: float = field(
        default=0.1,
        metadata={"min": 0.01, "max": 5.0, "help": "brightness jump between frames (log ratio) that means a new scene"},
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
        s = self.settings
        self._shape = (h, w)
        self._bg = cur.copy()
        self._var = np.full((h, w), (s.min_threshold / s.threshold) ** 2, np.float32)
        self._thr = np.full((h, w), s.min_threshold, np.float32)
        self._prev_fg = np.zeros((h, w), np.uint8)
        block = max(2, round(w * _BLOCK_FRACTION))
        self._cshape = (max(1, w // block), max(1, h // block))
        self._warm_until = t + s.warmup_s
        self._refresh_at = t
        self._ratio_c = np.ones(self._cshape[::-1], np.float32)
        self._bg_lo = self._bg_hi = self._bg
        valid = np.full((h, w), 255, np.uint8)
        for poly in s.mask:
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

        gain, jump = self._lighting(cur)
        self._dbg_jump = jump
        if not warming and jump > s.lighting_jump:
            return self._scene_change(cur, t, f"brightness jumped by {100 * (math.exp(jump) - 1):.0f}%")
        # the frame in the background's lighting; the residual is what lies outside the background's
        # min..max over the shake neighbourhood, converted back to grey levels of the current frame
        norm = cv2.divide(cur, gain)
        below = cv2.subtract(self._bg_lo, norm)
        below[cur >= _SATURATED] = 0.0  # a clipped pixel may be darker than its true brightness, not brighter
        r = cv2.multiply(cv2.max(cv2.max(cv2.subtract(norm, self._bg_hi), below), 0.0), gain)
        thr = cv2.scaleAdd(cur, _REL, self._thr) if _REL else self._thr
        fg = cv2.bitwise_and(cv2.compare(r, thr, cv2.CMP_GT), self._valid)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._kernel)
        changed = cv2.countNonZero(fg) / self._valid_area
        if not warming and changed > s.scene_change:
            return self._scene_change(cur, t, f"{100 * changed:.0f}% of the frame changed")

        persistent = cv2.morphologyEx(cv2.bitwise_and(fg, self._prev_fg), cv2.MORPH_OPEN, self._kernel)
        self._prev_fg = fg
        self._learn(cur, gain, r, fg, dt, warming, t)
        if warming:
            return MotionResult(False, 0.0, (), warming_up=True)
        return self._blobs(persistent)

    def _scene_change(self, cur: np.ndarray, t: float, why: str) -> MotionResult:
        logger.info("scene change (%s): re-learning the background", why)
        self._start(cur, t)
        return MotionResult(False, 0.0, (), warming_up=self.settings.warmup_s > 0)

    def _lighting(self, cur: np.ndarray) -> tuple[np.ndarray, float]:
        """Smooth gain map from the background to the current frame, and the frame's typical
        brightness change (median |log ratio| over blocks; large when the whole scene jumps)."""
        cur_c = cv2.resize(cur, self._cshape, interpolation=cv2.INTER_AREA)
        bg_c = cv2.resize(self._bg, self._cshape, interpolation=cv2.INTER_AREA)
        usable = self._valid_c & (cur_c < _SATURATED) & (bg_c < _SATURATED)
        ratio = (cur_c + 1.0) / (bg_c + 1.0)
        ratio[~usable] = 1.0
        step = np.abs(np.log(ratio[usable] / self._ratio_c[usable]))
        jump = float(np.median(step)) if step.size else 0.0
        self._ratio_c = ratio.copy()
        if min(self._cshape) >= _GAIN_WINDOW:
            ratio = cv2.medianBlur(ratio, _GAIN_WINDOW)
        if _REFINE:
            rest = self._ratio_c / ratio
            inl = ((np.abs(rest - 1.0) < _REFINE) & usable).astype(np.float32)
            num = cv2.blur(rest * inl, (3, 3))
            den = cv2.blur(inl, (3, 3))
            ratio = ratio * np.where(den > 0.2, num / np.maximum(den, 1e-6), 1.0).astype(np.float32)
        self._gain_c = ratio  # DEBUG
        return cv2.resize(np.clip(ratio, 0.1, 10.0), self._shape[::-1], interpolation=cv2.INTER_LINEAR), jump

    def _learn(
        self, cur: np.ndarray, gain: np.ndarray, r: np.ndarray, fg: np.ndarray, dt: float, warming: bool, t: float
    ) -> None:
        s = self.settings
        tau = s.warmup_s / 4 if warming else s.background_s
        alpha = 1.0 - math.exp(-dt / max(tau, 1e-3))
        moving = cv2.dilate(fg, self._kernel)
        still = cv2.bitwise_not(moving)
        if warming:
            cv2.accumulateWeighted(cur, self._bg, alpha)
        else:
            # Still pixels learn the frame; moving ones learn only the (smooth) lighting change, so the
            # background stays consistent around them, and the frame itself much more slowly.
            target = cv2.multiply(self._bg, gain) if _RELIT else cur.copy()
            cv2.copyTo(cur, still, target)
            cv2.accumulateWeighted(target, self._bg, alpha)
            cv2.accumulateWeighted(cur, self._bg, 1.0 - math.exp(-dt / (tau * s.foreground_slowdown)), moving)
        cv2.accumulateWeighted(cv2.multiply(r, r), self._var, alpha, still)
        if warming or t >= self._refresh_at:
            # the threshold map changes slowly: refreshed a few times a second, not every frame
            self._refresh_at = t + 0.25
            self._thr = cv2.max(cv2.sqrt(self._var) * s.threshold, s.min_threshold)
            if s.shake_px:
                self._bg_lo = cv2.erode(self._bg, self._shake_kernel)
                self._bg_hi = cv2.dilate(self._bg, self._shake_kernel)
            else:
                self._bg_lo = self._bg_hi = self._bg

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
