"""Benchmark: our motion detector against a naive full-resolution OpenCV detector, per 720p frame.

Both run on the same ~200 BGR 1280x720 frames (vtest.avi resized, looped) in the same process.
Ours is ``luma_from_bgr`` + ``MotionDetector.process``. The reference is the textbook recipe:
full-resolution gray, 21x21 Gaussian blur, ``accumulateWeighted`` running average, absdiff,
threshold, dilate, ``findContours`` with a ``contourArea`` filter. Each detector is warmed up, then
timed over several alternating rounds; the best round counts (least disturbed by the machine).

Run: ``python -m tests.bench.detector``; the last line printed is JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from shared.detector import DetectorSettings, MotionDetector, luma_from_bgr
from tests.footage import footage_path

FRAMES = 200
SIZE = (1280, 720)
FPS = 10.0
ROUNDS = 5


def load_frames(n: int = FRAMES, size: tuple[int, int] = SIZE) -> list[np.ndarray]:
    """``n`` BGR frames of real footage resized to ``size``, looping the clip if it is shorter."""
    cap = cv2.VideoCapture(str(footage_path("vtest.avi")))
    frames: list[np.ndarray] = []
    try:
        while len(frames) < n:
            ok, f = cap.read()
            if not ok:
                if not frames:
                    raise RuntimeError("vtest.avi gave no frames")
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                continue
            frames.append(cv2.resize(f, size, interpolation=cv2.INTER_LINEAR))
    finally:
        cap.release()
    return frames


class ReferenceDetector:
    """The naive full-resolution recipe found in countless tutorials."""

    def __init__(self, alpha: float = 0.05, threshold: int = 25, min_area: float = 500.0) -> None:
        self.alpha = alpha
        self.threshold = threshold
        self.min_area = min_area
        self.avg: np.ndarray | None = None

    def process(self, frame: np.ndarray) -> list[tuple[int, int, int, int]]:
        gray = cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (21, 21), 0)
        if self.avg is None:
            self.avg = gray.astype(np.float32)
            return []
        cv2.accumulateWeighted(gray, self.avg, self.alpha)
        delta = cv2.absdiff(gray, cv2.convertScaleAbs(self.avg))
        mask = cv2.threshold(delta, self.threshold, 255, cv2.THRESH_BINARY)[1]
        mask = cv2.dilate(mask, None, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        return [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) >= self.min_area]


def _ours(frames: Sequence[np.ndarray]) -> int:
    settings = DetectorSettings()
    det = MotionDetector(settings)
    hits = 0
    for i, f in enumerate(frames):
        hits += det.process(luma_from_bgr(f, settings.width), i / FPS).motion
    return hits


def _reference(frames: Sequence[np.ndarray]) -> int:
    det = ReferenceDetector()
    return sum(bool(det.process(f)) for f in frames)


def _best_ms(fn: Callable[[Sequence[np.ndarray]], int], frames: Sequence[np.ndarray], times: list[float]) -> int:
    t0 = time.perf_counter()
    hits = fn(frames)
    times.append((time.perf_counter() - t0) * 1000.0 / len(frames))
    return hits


def run() -> dict[str, float]:
    frames = load_frames()
    _ours(frames[:20])  # warm up code paths, caches and OpenCV's thread pool
    _reference(frames[:20])
    ours: list[float] = []
    ref: list[float] = []
    hits_ours = hits_ref = 0
    for _ in range(ROUNDS):  # alternate, so both see the same machine conditions
        hits_ours = _best_ms(_ours, frames, ours)
        hits_ref = _best_ms(_reference, frames, ref)
    result = {
        "ms_per_frame": round(min(ours), 4),
        "reference_ms_per_frame": round(min(ref), 4),
        "ratio": round(min(ours) / min(ref), 4),
    }
    n = len(frames)
    ours_ms, ref_ms = result["ms_per_frame"], result["reference_ms_per_frame"]
    print(f"ours      (luma_from_bgr + MotionDetector, 320 px): {ours_ms:.3f} ms/frame, motion in {hits_ours}/{n}")
    print(f"reference (full-res gray, 21x21 blur, running avg): {ref_ms:.3f} ms/frame, motion in {hits_ref}/{n}")
    print(f"ratio ours/reference: {result['ratio']:.3f}")
    return result


if __name__ == "__main__":
    print(json.dumps(run()))
