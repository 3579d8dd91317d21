"""Motion detection on a small luma image.

Pure logic: no I/O, no threads, no clocks (the caller passes media time ``t``, in seconds).

Per frame, at ``settings.width`` pixels wide:

1. Light 3x3 blur against pixel noise.
2. Lighting: the frame is explained as background x a smooth gain map: block means (4x4 px at
   320 px) give per-block ratios, a 5x5-block median ignores people (they are small next to it)
   but follows lights, dusk and cloud shadows, the mean of the blocks that agree with the median
   restores smooth ramps the median flattens, and the map is upsampled. Global and local smooth
   lighting changes thus cancel; clipped (saturated) pixels are allowed to differ one way.
3. Shake: each pixel is compared with the min..max of the background over its 3x3 neighbourhood,
   so a shift of about a pixel does not light up every edge.
4. Threshold per pixel: ``threshold`` x the pixel's noise level (RMS of the residual where nothing
   moves), at least ``min_threshold`` grey levels, plus ``relative_threshold`` x its brightness
   (the part the lighting model misses grows with brightness). Night noise raises the bar where and
   when there is noise; clean daylight keeps it low, so a dim person at night still stands out.
5. Rain, snow, specks: a 2x2 opening removes single pixels and 1 px streaks; a pixel counts only if
   it was foreground in the last three frames (a walking person overlaps itself, fresh flakes do
   not); a blob of this frame's foreground is reported if it holds ``min_area`` of such pixels and
   overlaps such a blob of the previous frame.
6. Scene change: if the brightness of most of the frame jumps between two frames (lights, IR-cut
   filter) or ``scene_change`` of the frame turns foreground within half a second (camera moved),
   the background is re-learned and the detector warms up again instead of reporting motion.

The background is a running average with time constant ``background_s`` (computed from ``t``, so
it does not depend on the frame rate). Where the residual reaches half the threshold (hysteresis)
it follows only the lighting, like its surroundings, and learns the frame ``foreground_slowdown``
times more slowly; what stays changed for ``absorb_s`` (a parked car, a nudged camera) is absorbed.
Persistence counts frames, so it is tuned for 5 to 30 fps.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Annotated, Any

import cv2
import numpy as np
from pydantic import Field, field_validator

from shared.validation import Items, Strict

logger = logging.getLogger(__name__)

Polygon = tuple[tuple[float, float], ...]  # normalized (x, y) points
Box = tuple[float, float, float, float]

_BLOCK_FRACTION = 1 / 80  # side of a lighting block, fraction of the working width (rounded to 2**n px)
_GAIN_WINDOW = 5  # blocks per side of the gain map's median filter (3 or 5 for float32)
_INLIER = 0.08  # blocks within this ratio of the median gain refine it
_SATURATED = 235.0  # grey level (after blur) above which a pixel may be clipped by the sensor
_DARK = 8.0  # grey levels added to both sides of the jump test's block ratios
_SPECK = np.ones((2, 2), np.uint8)  # opening with this removes single-pixel specks and 1 px lines
_KERNEL = np.ones((3, 3), np.uint8)
_ONSET_S = 0.5  # a scene change is a jump in the foreground fraction within this time
_REFRESH_S = 0.25  # period of the slow updates (noise level, shake bounds, absorbing stale foreground)
# Every manifest carries the settings (shared.manifest caps a manifest at 64 KiB): this many points of
# the longest floats, indented, take ~25 KB. A hand-drawn mask needs a few dozen.
MAX_MASK_POINTS = 256


def _bounds(default: float, low: float, high: float, text: str) -> Any:
    """A settings field with a default, bounds and a description."""
    return Field(default=default, ge=low, le=high, description=text)


# a mask polygon's point, normalized (x, y): a TOML array of two numbers
Point = Annotated[tuple[float, float], Field(strict=False)]


class DetectorSettings(Strict):
    """Motion detector tuning. The defaults work on real footage; change them one at a time."""

    width: int = _bounds(320, 64, 1920, "working width of the luma image, px")
    threshold: float = _bounds(4.0, 1.0, 20.0, "change needed, in multiples of the pixel's noise level")
    min_threshold: float = _bounds(6.0, 1.0, 100.0, "smallest change counted, grey levels (0..255)")
    relative_threshold: float = _bounds(0.05, 0.0, 1.0, "added to the threshold, fraction of the pixel's brightness")
    min_area: float = _bounds(0.00015, 0.0, 0.5, "smallest moving blob, fraction of the frame area")
    warmup_s: float = _bounds(2.0, 0.0, 60.0, "seconds to learn the background after a (re)start")
    background_s: float = _bounds(10.0, 0.5, 3600.0, "time constant of the background average, s")
    foreground_slowdown: float = _bounds(6.0, 1.0, 1000.0, "the background learns this much slower under motion")
    shake_px: int = _bounds(1, 0, 5, "tolerated camera shake, px at working width")
    absorb_s: float = _bounds(10.0, 1.0, 3600.0, "what stays changed this long, s, becomes background")
    scene_change: float = _bounds(0.1, 0.01, 1.0, "fraction of the frame turning foreground within 0.5 s: new scene")
    lighting_jump: float = _bounds(0.1, 0.01, 5.0, "brightness step (log ratio) of most of the frame: new scene")
    mask: Items[Items[Point]] = Field(default=(), description="polygons to ignore, normalized (x, y) points")

    @field_validator("mask")
    @classmethod
    def _check_mask(cls, mask: tuple[Polygon, ...]) -> tuple[Polygon, ...]:
        points = sum(len(poly) for poly in mask)
        if points > MAX_MASK_POINTS:
            raise ValueError(f"{points} points in all, over the cap of {MAX_MASK_POINTS}: simplify the polygons")
        for i, poly in enumerate(mask):
            if len(poly) < 3:
                raise ValueError(f"polygon {i} needs at least 3 points")
            for x, y in poly:
                if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                    raise ValueError(f"polygon {i}: point ({x}, {y}) is outside 0..1")
        return mask


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

    # set by _start (the first frame, and each scene change)
    _valid: np.ndarray
    _valid_area: int
    _fg1: np.ndarray
    _fg2: np.ndarray
    _damped_c: np.ndarray  # the last frame's damped block ratios
    _threshold: np.ndarray  # per pixel, float32
    _candidates: list[tuple[int, int, int, int]]
    _changed: list[tuple[float, float]]  # (t, foreground fraction) over the last _ONSET_S

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings = settings or DetectorSettings()
        self._shake_kernel = np.ones((2 * settings.shake_px + 1,) * 2, np.uint8)
        self.reset()

    @property
    def foreground(self) -> np.ndarray | None:
        """The last frame's foreground mask at working width (255: changed), None before the first frame:
        what ``python -m watcher explain`` shows. A view, not a copy: read it before the next frame."""
        return getattr(self, "_fg1", None)

    def reset(self) -> None:
        """Forget the background; the next frame starts a new warm-up."""
        self._shape: tuple[int, int] | None = None
        self._t_last: float | None = None

    def process(self, luma: np.ndarray, t: float) -> MotionResult:
        """Detect motion in ``luma`` (2-D uint8, any size) at media time ``t`` seconds."""
        s = self.settings
        cur = cv2.GaussianBlur(_downscale(luma, s.width), (3, 3), 0).astype(np.float32)
        if self._t_last is None or self._shape != cur.shape or t < self._t_last:
            self._t_last = t
            return self._start(cur, t)
        dt = min(t - self._t_last, 10.0)
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
        self._changed = [(tc, c) for tc, c in self._changed if tc >= t - _ONSET_S] + [(t, changed)]
        onset = changed - min(c for _, c in self._changed)
        if onset > s.scene_change and not warming:
            return self._start(cur, t, f"{100 * onset:.0f}% of the frame changed at once")

        persistent = cv2.bitwise_and(cv2.bitwise_and(fg, self._fg1), self._fg2)
        self._fg1, self._fg2 = fg, self._fg1
        # the background is protected wherever the residual reaches half the threshold (hysteresis):
        # at night a person is only partly above the threshold, and must not fade into the background
        moving = cv2.dilate(cv2.compare(residual, threshold * 0.5, cv2.CMP_GT), _KERNEL)
        self._learn(cur, gain, residual, moving, dt, warming, t)
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
        self._age = np.zeros((h, w), np.float32)
        self._candidates = []
        self._changed = []
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
        gain: np.ndarray = cv2.medianBlur(ratio, _GAIN_WINDOW) if min(ratio.shape) >= _GAIN_WINDOW else ratio
        # the median flattens smooth ramps such as shadow edges: add the mean of the blocks that agree with it
        rest = ratio / gain
        inlier = (usable & (np.abs(rest - 1.0) < _INLIER)).astype(np.float32)
        num, den = cv2.blur(rest * inlier, (3, 3)), cv2.blur(inlier, (3, 3))
        gain *= np.where(den > 0.2, num / np.maximum(den, 1e-6), 1.0).astype(np.float32)
        gain = np.clip(gain, 0.1, 10.0)
        return cv2.resize(gain, (cur.shape[1], cur.shape[0]), interpolation=cv2.INTER_LINEAR), jumped

    def _learn(
        self, cur: np.ndarray, gain: np.ndarray, residual: np.ndarray, moving: np.ndarray, dt: float, warming: bool,
        t: float,
    ) -> None:
        """Update the background every frame, and the slow maps every _REFRESH_S."""
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
        if not (warming or t >= self._refresh_at):
            return
        # the rest changes slowly and is refreshed a few times a second, not every frame
        elapsed, self._refreshed, self._refresh_at = t - self._refreshed, t, t + _REFRESH_S
        # how long each pixel has been changed without a break; what stays put too long is background
        age = np.zeros_like(self._age)
        cv2.add(self._age, elapsed, dst=age, mask=moving)
        stale = cv2.compare(age, s.absorb_s, cv2.CMP_GT)  # type: ignore[call-overload]  # cv2's stubs lack its scalar operand
        if not warming and cv2.countNonZero(stale):
            cv2.copyTo(cur, stale, self._bg)
            age[stale > 0] = 0.0
        self._age = age
        # noise level: running mean square of the residual where nothing moves
        beta = 1.0 - math.exp(-elapsed / max(tau, 1e-3))
        cv2.accumulateWeighted(cv2.multiply(residual, residual), self._var, beta, cv2.bitwise_not(moving))
        self._threshold = cv2.max(cv2.sqrt(self._var) * s.threshold, s.min_threshold)
        self._bg_c = _coarse(self._bg, self._levels)
        if s.shake_px:
            self._bg_lo = cv2.erode(self._bg, self._shake_kernel)
            self._bg_hi = cv2.dilate(self._bg, self._shake_kernel)
        else:
            self._bg_lo, self._bg_hi = self._bg, self._bg.copy()
        self._bg_hi[self._bg_hi >= _SATURATED] = np.inf  # a clipped background may be brighter than it looks

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
        covered = np.zeros_like(fg)
        for c in contours:
            x, y, bw, bh = cv2.boundingRect(c)
            if bw * bh < min_px or cv2.countNonZero(persistent[y : y + bh, x : x + bw]) < min_px:
                continue
            x1, y1 = x + bw, y + bh
            self._candidates.append((x, y, x1, y1))
            if any(x <= qx1 + 2 and qx <= x1 + 2 and y <= qy1 + 2 and qy <= y1 + 2 for qx, qy, qx1, qy1 in previous):
                boxes.append((x / w, y / h, bw / w, bh / h))
                covered[y:y1, x:x1] = 255
        if not boxes:
            return MotionResult(False, 0.0, ())
        score = cv2.countNonZero(cv2.bitwise_and(fg, covered)) / self._valid_area
        return MotionResult(True, min(1.0, score), tuple(boxes))
