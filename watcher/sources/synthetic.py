"""The built-in synthetic scene: a textured street with sensor noise and scripted walkers.

Deterministic from its seed, runs without a camera, and knows its own ground truth: the
media-time intervals in which each scripted object is visible. The default script puts a
walker in the scene every ``event_period_s`` seconds, starting at ``first_event_s``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from watcher.frames import Frame
from watcher.sources.base import SourceInfo


@dataclass(frozen=True)
class SceneObject:
    """A walker visible from ``start_s`` to ``end_s``, moving in a straight line.
    Positions and sizes are fractions of the frame; (x, y) is the object's centre."""

    start_s: float
    end_s: float
    x0: float
    y0: float
    x1: float
    y1: float
    w: float = 0.06
    h: float = 0.30
    color: tuple[int, int, int] = (40, 40, 60)

    def position(self, t: float) -> tuple[float, float]:
        a = (t - self.start_s) / max(self.end_s - self.start_s, 1e-9)
        return self.x0 + (self.x1 - self.x0) * a, self.y0 + (self.y1 - self.y0) * a


def default_script(seed: int, horizon_s: float, first_event_s: float = 3.0, period_s: float = 10.0,
                   walk_s: float | None = None) -> list[SceneObject]:
    rng = np.random.default_rng(seed)
    objects = []
    k = 0
    while (start := first_event_s + k * period_s + float(rng.uniform(0, 1.0))) < horizon_s:
        dur = float(rng.uniform(3.0, 4.5)) if walk_s is None else walk_s
        y = float(rng.uniform(0.45, 0.7))
        left_to_right = k % 2 == 0
        x0, x1 = (0.1, 0.9) if left_to_right else (0.9, 0.1)
        shade = int(rng.integers(20, 70))
        objects.append(SceneObject(start, start + dur, x0, y, x1, y + float(rng.uniform(-0.05, 0.05)),
                                   color=(shade, shade, shade + 20)))
        k += 1
    return objects


class SyntheticSource:
    def __init__(
        self,
        *,
        width: int = 640,
        height: int = 360,
        fps: float = 15.0,
        seed: int = 1,
        objects: list[SceneObject] | None = None,
        duration_s: float | None = None,
        noise_sigma: float = 3.0,
        first_event_s: float = 3.0,
        event_period_s: float = 10.0,
        walk_s: float | None = None,
    ) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.seed = seed
        self.duration_s = duration_s
        self.noise_sigma = noise_sigma
        horizon = duration_s if duration_s is not None else 24 * 3600.0
        self.objects = (objects if objects is not None
                        else default_script(seed, horizon, first_event_s, event_period_s, walk_s))
        self._closed = False
        self._background: np.ndarray | None = None

    @property
    def ground_truth(self) -> list[tuple[float, float]]:
        """Media-time intervals [start, end) in which a scripted object is visible."""
        return [(o.start_s, o.end_s) for o in self.objects]

    def open(self) -> SourceInfo:
        self._background = self._render_background()
        rng = np.random.default_rng(self.seed + 1)
        noise = rng.normal(0.0, self.noise_sigma, size=(4, self.height, self.width, 3))
        self._noise_pos = np.clip(noise, 0, 255).astype(np.uint8)
        self._noise_neg = np.clip(-noise, 0, 255).astype(np.uint8)
        return SourceInfo(self.width, self.height, self.fps, live=False)

    def _render_background(self) -> np.ndarray:
        w, h = self.width, self.height
        rng = np.random.default_rng(self.seed)
        yy, _ = np.mgrid[0:h, 0:w].astype(np.float32)
        sky = (yy / h * 60 + 110).astype(np.float32)
        img = np.dstack([sky + 20, sky + 10, sky]).astype(np.float32)
        texture = cv2.GaussianBlur(rng.normal(0, 18, (h, w)).astype(np.float32), (0, 0), 1.5)
        img += texture[..., None]
        for _ in range(12):  # buildings, signs, parked things
            x, y = int(rng.integers(0, w)), int(rng.integers(0, h // 2))
            bw, bh = int(rng.integers(w // 20, w // 5)), int(rng.integers(h // 10, h // 2))
            c = [float(v) for v in rng.integers(40, 200, 3)]
            cv2.rectangle(img, (x, y), (x + bw, y + bh), c, -1)
        cv2.rectangle(img, (0, int(h * 0.75)), (w, h), (90, 95, 100), -1)  # road
        for x in range(0, w, max(8, w // 16)):  # lane markings
            cv2.line(img, (x, int(h * 0.87)), (x + w // 40, int(h * 0.87)), (220, 220, 220), 2)
        return np.clip(img, 0, 255).astype(np.uint8)

    def render(self, t: float, index: int) -> np.ndarray:
        assert self._background is not None, "open() first"
        img = self._background.copy()
        for o in self.objects:
            if o.start_s <= t < o.end_s:
                cx, cy = o.position(t)
                bw, bh = o.w * self.width, o.h * self.height
                x0, y0 = int(cx * self.width - bw / 2), int(cy * self.height - bh / 2)
                head = max(2, int(bw * 0.35))
                swing = int(math.sin(t * 8.0) * bw * 0.2)
                cv2.circle(img, (x0 + int(bw / 2), y0 + head), head, o.color, -1)
                cv2.rectangle(img, (x0, y0 + 2 * head), (x0 + int(bw), y0 + int(bh * 0.65)), o.color, -1)
                hip, leg_w = (x0 + int(bw / 2), y0 + int(bh * 0.65)), max(2, int(bw / 4))
                cv2.line(img, hip, (x0 + int(bw / 2) + swing, y0 + int(bh)), o.color, leg_w)
                cv2.line(img, hip, (x0 + int(bw / 2) - swing, y0 + int(bh)), o.color, leg_w)
        k = index % 4
        shift = (index * 7919) % (self.width * self.height)
        pos = np.roll(self._noise_pos[k].reshape(-1, 3), shift, axis=0).reshape(img.shape)
        cv2.add(img, pos, dst=img)
        cv2.subtract(img, self._noise_neg[(k + 1) % 4], dst=img)
        return img

    def frames(self) -> Iterator[Frame]:
        i = 0
        while not self._closed:
            t = i / self.fps
            if self.duration_s is not None and t >= self.duration_s:
                return
            yield Frame(t=t, image=self.render(t, i))
            i += 1

    def close(self) -> None:
        self._closed = True
