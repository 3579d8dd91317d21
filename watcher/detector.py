"""Motion detection on a small luma image.

Pure logic: no I/O, no threads, no clocks (the caller passes media time ``t``).

Per frame, at ``settings.width`` pixels wide:

1. Light 3x3 blur against pixel noise.
2. Lighting: the frame is explained as background x a smooth gain map. The map is the ratio of
   block means (4x4 px blocks at 320 px), median-filtered over 5x5 blocks (a person does not
   bend it, a cloud shadow, dusk or a lamp does), refined by averaging the inlier blocks, and
   upsampled. Global and local smooth lighting changes thus cancel.
3. Shake: each pixel is compared with the min..max of the background over a small
   neighbourhood, so a shift of a pixel or so does not show up as change on edges.
4. Threshold: ``threshold`` x the pixel's noise level (running RMS of the residual where nothing
   moves), at least ``min_threshold`` grey levels, plus ``relative_threshold`` x the pixel's
   brightness (what the smooth lighting model misses scales with brightness). Night noise raises
   the bar where and when there is noise; clean daylight keeps it low.
5. Rain, snow, specks: a 3x3 opening, then persistence: only pixels that were foreground in this
   and the previous frame count (a walking person overlaps itself, fresh flakes do not). A blob of
   this frame's foreground is reported if it holds ``min_area`` of such pixels.
6. Scene change: if the brightness of most of the frame jumps between two frames (IR-cut filter,
   lights) or most of the frame differs from the background (camera bumped), the background is
   re-learned from scratch and the detector warms up again instead of reporting motion.

The background is a running average with time constant ``background_s`` (from ``t``, so it does
not depend on the frame rate). Under foreground it follows the lighting like its surroundings but
learns the frame itself ``foreground_slowdown`` times more slowly.
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

_BLOCK_FRACTION = 1 / 80  # side of a lighting block, fraction of the working width (rounded to 2**n px)
_GAIN_WINDOW = 5  # blocks per side of the gain map's median filter (3 or 5 for float32)
_INLIER = 0.08  # blocks within this ratio of the median gain refine it
_SATURATED = 235.0  # grey level (after blur) above which a pixel may be clipped by the sensor
_DARK = 8.0  # grey levels added to both sides of the jump test's block ratios
_SPECK = np.ones((2, 2), np.uint8)  # opening with this removes single-pixel specks and 1 px lines
_KERNEL = np.ones((3, 3), np.uint8)


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

    width: int = field(default=320, metadata={"min": 64, "max": 1920, "help": "working width of the luma image, px"})
    threshold: float = field(
        default=4.0, metadata={"min": 1.0, "max": 20.0, "help": "change needed, in multiples of the pixel's noise level"}
    )
    min_threshold: float = field(
        default=6.0, metadata={"min": 1.0, "max": 100.0, "help": "smallest change counted, grey levels (0..255)"}
    )
    relative_threshold: float = field(
        default=0.05, metadata={"min": 0.0, "max": 1.0, "help": "added to the threshold, fraction of the brightness"}
    )
    min_area: float = field(
        default=0.0002, metadata={"min": 0.0, "max": 0.5, "help": "smallest moving blob, fraction of the frame area"}
    )
    warmup_s: float = field(
        default=2.0, metadata={"min": 0.0, "max": 60.0, "help": "seconds to learn the background after a (re)start"}
    )
    background_s: float = field(
        default=10.0, metadata={"min": 0.5, "max": 3600.0, "help": "time constant of the background average, s"}
    )
    foreground_slowdown: float = field(
        default=6.0, metadata={"min": 1.0, "max": 1000.0, "help": "background learns this much slower under motion"}
    )
    shake_px: int = field(default=1, metadata={"min": 0, "max": 5, "help": "tolerated camera shake, px at working width"})
    scene_change: float = field(
        default=0.4, metadata={"min": 0.05, "max": 1.0, "help": "changed fraction of the frame that means a new scene"}
    )
    lighting_jump: float = field(
        default=0.1, metadata={"min": 0.01, "max": 5.0, "help": "per-frame brightness jump (log ratio) of most of the "
                               "frame that means a new scene"}
    )
    mask: tuple[Polygon, ...] = field(
        default=(), metadata={"check": _check_mask, "help": "polygons to ignore, normalized (x, y) points"}
    )


@dataclass(frozen=True)
class MotionResult:
    motion: bool  # motion in this frame, after all filtering
    score: float  # fraction of the unmasked frame covered by accepted motion, 0..1
    boxes: tuple[Box, ...]  # accepted blobs, normalized (x, y, w, h)
    warming_up: bool = False


def _downscale(image: np.ndarray, width: int) -> np.ndarray:
    """INTER_AREA downscale to ``width``; halves first while it can (OpenCV's fast path)."""
    h, w = image.shape[:2]
    while w >= 2 * width and w % 2 == 0 and h % 2 == 0:
        h, w = h // 2, w // 2
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    if w > width:
        image = cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return image


def _coarse(image: np.ndarray, levels: int) -> np.ndarray:
    """Means over 2**levels px blocks, by repeated area halving."""
    for _ in range(levels):
        h, w = image.shape[:2]
        image = cv2.resize(image, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    return image


def luma_from_bgr(image: np.ndarray, width: int) -> np.ndarray:
    """Downscale a BGR uint8 frame to ``width`` (area average), then convert to gray (uint8, 2-D)."""
    return cv2.cvtColor(_downscale(image, width), cv2.COLOR_BGR2GRAY)


class MotionDetector:
    """Background-subtraction motion detector; see the module docstring for the method."""

    def __init__(self, settings: DetectorSettings = DetectorSettings()) -> None:
        self.settings = settings
        self._shake_kernel = np.ones((2 * settings.shake_px + 1,) * 2, np.uint8)
        self.reset()

    def reset(self) -> None:
        """Forget the background; the next frame starts a new warm-up."""
        self._shape: tuple[int, int] | None = None
        self._t_last: float | None = None

    def process(self, luma: np.ndarray, t: float) -> MotionResult:
        """Detect motion in ``luma`` (2-D uint8, any size) at media time ``t`` seconds."""
        s = self.settings
        cur = cv2.GaussianBlur(_downscale(luma, s.width), (3, 3), 0).astype(np.float32)
        if self._t_last is None or self._shape != cur.shape:
            self._t_last = t
            return self._start(cur, t)
        dt = min(max(t - self._t_last, 0.0), 10.0)
        self._t_last = t
        warming = t < self._warm_until

        gain, jumped = self._lighting(cur)
        if jumped and not warming:
            return self._start(cur, t, "the brightness of most of the frame jumped")
        # residual: how far the frame lies outside the relit background's min..max over the shake
        # neighbourhood. A clipped pixel may look darker than it is (lo is capped at the clip level);
        # a clipped background may be brighter than it looks (hi is infinite there).
        lo = cv2.min(cv2.multiply(self._bg_lo, gain), _SATURATED)
        hi = cv2.multiply(self._bg_hi, gain)
        residual = cv2.max(cv2.max(cv2.subtract(cur, hi), cv2.subtract(lo, cur)), 0.0)
        threshold = cv2.scaleAdd(cur, s.relative_threshold, self._threshold)
        fg = cv2.bitwise_and(cv2.compare(residual, threshold, cv2.CMP_GT), self._valid)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, _SPECK)
        changed = cv2.countNonZero(fg) / self._valid_area
        if changed > s.scene_change and not warming:
            return self._start(cur, t, f"{100 * changed:.0f}% of the frame changed")

        persistent = cv2.bitwise_and(cv2.bitwise_and(fg, self._fg1), self._fg2)
        self._fg1, self._fg2 = fg, self._fg1
        # the background is protected wherever the residual reaches half the threshold (hysteresis):
        # at night a person is only partly above the threshold, and must not fade into the background
        moving = cv2.dilate(cv2.compare(residual, threshold * 0.5, cv2.CMP_GT), _KERNEL)
        self._learn(cur, gain, residual, fg, moving, dt, warming, t)
        if warming:
            return MotionResult(False, 0.0, (), warming_up=True)
        return self._blobs(fg, persistent)

    def _start(self, cur: np.ndarray, t: float, why: str = "") -> MotionResult:
        """(Re)start with ``cur`` as the background and warm up for ``warmup_s``."""
        if why:
            logger.info("scene change (%s): re-learning the background", why)
        s = self.settings
        h, w = cur.shape
        self._shape = (h, w)
        self._warm_until = t + s.warmup_s
        self._refresh_at = self._refreshed = t
        self._bg = cur.copy()
        self._bg_lo = self._bg_hi = self._bg
        self._var = np.full((h, w), (s.min_threshold / s.threshold) ** 2, np.float32)
        self._threshold = np.full((h, w), s.min_threshold, np.float32)
        self._fg1 = self._fg2 = np.zeros((h, w), np.uint8)  # foreground of the last two frames
        self._candidates: list[tuple[int, int, int, int]] = []
        self._levels = max(1, round(math.log2(max(2.0, w * _BLOCK_FRACTION))))
        self._bg_c = _coarse(cur, self._levels)
        self._damped_c = np.ones(self._bg_c.shape, np.float32)
        valid = np.full((h, w), 255, np.uint8)
        for poly in s.mask:
            pts = np.array([(x * (w - 1), y * (h - 1)) for x, y in poly], np.float32)
            cv2.fillPoly(valid, [np.round(pts).astype(np.int32)], 0)
        self._valid = valid
        self._valid_area = max(1, cv2.countNonZero(valid))
        self._valid_c = _coarse(valid, self._levels) > 250
        return MotionResult(False, 0.0, (), warming_up=s.warmup_s > 0)

    def _lighting(self, cur: np.ndarray) -> tuple[np.ndarray, bool]:
        """Smooth gain map from the background to the current frame, and whether the brightness of
        most of the frame jumped since the previous frame (lights, IR-cut filter, exposure step)."""
        cur_c, bg_c = _coarse(cur, self._levels), self._bg_c
        usable = self._valid_c & (cur_c < _SATURATED)
        ratio = (cur_c + 1.0) / (bg_c + 1.0)
        ratio[~usable] = 1.0
        # jump test on a ratio damped in the dark, where night noise makes block ratios jitter; flakes
        # and people make some blocks brighter and others darker, a light switch moves most one way
        damped = (cur_c + _DARK) / (bg_c + _DARK)
        step = damped / self._damped_c
        self._damped_c = damped
        limit = math.exp(self.settings.lighting_jump)
        half = 0.5 * max(1, int(np.count_nonzero(usable)))
        jumped = int(np.count_nonzero(step > limit)) > half or int(np.count_nonzero(step < 1.0 / limit)) > half
        gain = cv2.medianBlur(ratio, _GAIN_WINDOW) if min(ratio.shape) >= _GAIN_WINDOW else ratio
        # the median flattens smooth ramps such as shadow edges: add the mean of the blocks that agree with it
        rest = ratio / gain
        inlier = (usable & (np.abs(rest - 1.0) < _INLIER)).astype(np.float32)
        num, den = cv2.blur(rest * inlier, (3, 3)), cv2.blur(inlier, (3, 3))
        gain *= np.where(den > 0.2, num / np.maximum(den, 1e-6), 1.0).astype(np.float32)
        gain = np.clip(gain, 0.1, 10.0)
        return cv2.resize(gain, (self._shape[1], self._shape[0]), interpolation=cv2.INTER_LINEAR), jumped

    def _learn(
        self,
        cur: np.ndarray,
        gain: np.ndarray,
        residual: np.ndarray,
        fg: np.ndarray,
        moving: np.ndarray,
        dt: float,
        warming: bool,
        t: float,
    ) -> None:
        s = self.settings
        tau = s.warmup_s / 4 if warming else s.background_s
        alpha = 1.0 - math.exp(-dt / max(tau, 1e-3))
        if warming:
            cv2.accumulateWeighted(cur, self._bg, alpha)
        else:
            # Still pixels learn the frame. Moving ones learn only the lighting change, so that the
            # background stays consistent around them, and the frame foreground_slowdown times slower.
            target = cv2.multiply(self._bg, gain)
            cv2.copyTo(cur, cv2.bitwise_not(moving), target)
            cv2.accumulateWeighted(target, self._bg, alpha)
            cv2.accumulateWeighted(cur, self._bg, 1.0 - math.exp(-dt / (tau * s.foreground_slowdown)), moving)
        if warming or t >= self._refresh_at:
            # maps that change slowly are refreshed a few times a second, not every frame
            beta = 1.0 - math.exp(-(t - self._refreshed) / max(tau, 1e-3))
            self._refresh_at, self._refreshed = t + 0.25, t
            # noise level: running mean square of the residual where nothing moves
            cv2.accumulateWeighted(cv2.multiply(residual, residual), self._var, beta, cv2.bitwise_not(moving))
            self._threshold = cv2.max(cv2.sqrt(self._var) * s.threshold, s.min_threshold)
            self._bg_c = _coarse(self._bg, self._levels)
            if s.shake_px:
                self._bg_lo = cv2.erode(self._bg, self._shake_kernel)
                self._bg_hi = cv2.dilate(self._bg, self._shake_kernel)
            else:
                self._bg_lo, self._bg_hi = self._bg, self._bg.copy()
            self._bg_hi[self._bg_hi >= _SATURATED] = np.inf

    def _blobs(self, fg: np.ndarray, persistent: np.ndarray) -> MotionResult:
        """Blobs of this frame's foreground that hold at least ``min_area`` of pixels that were
        foreground in the last three frames, and that overlap such a blob of the previous frame."""
        previous, self._candidates = self._candidates, []
        if cv2.countNonZero(persistent) == 0:
            return MotionResult(False, 0.0, ())
        h, w = fg.shape
        min_px = max(1.0, self.settings.min_area * h * w)
        merged = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, _KERNEL)  # join a person's fragments
        contours, _ = cv2.findContours(merged, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes: list[Box] = []
        area = 0
        for c in contours:
            x, y, bw, bh = cv2.boundingRect(c)
            if bw * bh < min_px:
                continue
            n = cv2.countNonZero(persistent[y : y + bh, x : x + bw])
            if n < min_px:
                continue
            x1, y1 = x + bw, y + bh
            self._candidates.append((x, y, x1, y1))
            if any(x <= px1 + 2 and px <= x1 + 2 and y <= py1 + 2 and py <= y1 + 2 for px, py, px1, py1 in previous):
                boxes.append((x / w, y / h, bw / w, bh / h))
                area += n
        return MotionResult(bool(boxes), min(1.0, area / self._valid_area), tuple(boxes))
