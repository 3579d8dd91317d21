"""Simulated nuisances for motion-detector tests: things that change pixels without anyone there.

Every function takes an iterable of BGR uint8 frames (full camera resolution) and yields new
frames; randomness comes from ``seed``, so a run is reproducible. Frame rate ``fps`` turns
speeds given per second into per-frame steps. Helpers to build the footage itself are at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

Frames = Iterable[np.ndarray]


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0, 255).astype(np.uint8)


def sensor_noise(frames: Frames, sigma: float = 2.5, seed: int = 0) -> Iterator[np.ndarray]:
    """Add fresh Gaussian noise of ``sigma`` grey levels to every frame (luma noise: the same value
    on the three channels, which is what a luma-based detector sees, at a third of the cost)."""
    rng = np.random.default_rng(seed)
    for f in frames:
        yield _u8(f + rng.standard_normal((*f.shape[:2], 1), np.float32) * sigma)


def brightness_step(frames: Frames, at: int, gain: float = 1.6, offset: float = 0.0) -> Iterator[np.ndarray]:
    """Lights switched on: from frame index ``at`` on, every pixel becomes ``gain * v + offset``."""
    for i, f in enumerate(frames):
        yield _u8(f.astype(np.float32) * gain + offset) if i >= at else f


def dusk(frames: Frames, start: int, frames_long: int, end_gain: float = 0.3) -> Iterator[np.ndarray]:
    """Dusk: brightness ramps linearly from 1 to ``end_gain`` over ``frames_long`` frames from ``start``."""
    for i, f in enumerate(frames):
        k = min(max((i - start) / frames_long, 0.0), 1.0)
        g = 1.0 + (end_gain - 1.0) * k
        yield f if g == 1.0 else _u8(f.astype(np.float32) * g)


def ir_flip(frames: Frames, at: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Day -> night IR-cut flip at frame ``at``: colour is gone, materials look different in near
    infrared (vegetation turns bright), contrast drops, the gain jumps and noise rises."""
    rng = np.random.default_rng(seed)
    for i, f in enumerate(frames):
        if i < at:
            yield f
            continue
        b, g, r = cv2.split(f.astype(np.float32))
        vegetation = np.maximum(g - 0.5 * (r + b), 0.0)
        ir = 0.3 * b + 0.35 * g + 0.35 * r + 2.0 * vegetation
        ir = 0.5 * ir + 60.0 + rng.standard_normal(ir.shape, np.float32) * 4.0
        yield cv2.cvtColor(_u8(ir), cv2.COLOR_GRAY2BGR)


def cloud_shadows(
    frames: Frames,
    fps: float,
    seed: int = 0,
    speed: float = 0.15,
    depth: tuple[float, float] = (0.3, 0.5),
    count: int = 3,
) -> Iterator[np.ndarray]:
    """Large soft cloud shadows sweeping across the frame.

    ``count`` elliptic shadows (0.3 to 0.6 frame widths across, edges soft over about 0.1 frame
    width) drift at ``speed`` frame widths per second (0.15: 6 m/s over a 40 m wide view, a breezy
    day); inside, light drops to 1 - depth (x0.5 to x0.7). Shadows wrap around, so some shadow edge
    is nearly always crossing the frame.
    """
    rng = np.random.default_rng(seed)
    gw, gh = 96, 72  # shadow map is rendered coarse, then upsampled: shadows are smooth
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    xx /= gw
    yy /= gw
    cx = rng.uniform(-0.5, 1.0, count)
    cy = rng.uniform(0.0, gh / gw, count)
    rx = rng.uniform(0.15, 0.3, count)
    ry = rx * rng.uniform(0.5, 1.0, count)
    dep = rng.uniform(*depth, count)
    angle = rng.uniform(-0.4, 0.4)
    vx, vy = np.cos(angle) * speed / fps, np.sin(angle) * speed / fps
    for i, f in enumerate(frames):
        light = np.ones((gh, gw), np.float32)
        for k in range(count):
            x0 = (cx[k] + vx * i + 0.6) % 2.2 - 0.6
            y0 = cy[k] + vy * i
            d = np.sqrt(((xx - x0) / rx[k]) ** 2 + ((yy - y0) / ry[k]) ** 2)
            edge = np.clip((1.0 - d) * rx[k] / 0.1 + 0.5, 0.0, 1.0)  # 0 outside, 1 inside, ~0.1 wide ramp
            edge = edge * edge * (3 - 2 * edge)
            light = np.minimum(light, 1.0 - dep[k] * edge)
        h, w = f.shape[:2]
        light = cv2.resize(light, (w, h), interpolation=cv2.INTER_LINEAR)
        yield _u8(f * light[:, :, None])


def shake(frames: Frames, seed: int = 0, max_px: float = 2.0) -> Iterator[np.ndarray]:
    """Camera on a swaying pole: every frame shifted by a random sub-pixel offset up to ``max_px``."""
    rng = np.random.default_rng(seed)
    for f in frames:
        dx, dy = rng.uniform(-max_px, max_px, 2)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        yield cv2.warpAffine(f, m, (f.shape[1], f.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def rain(frames: Frames, seed: int = 0, drops: int = 400) -> Iterator[np.ndarray]:
    """Rain: ``drops`` thin bright slanted streaks (8-24 px long), new ones every frame."""
    rng = np.random.default_rng(seed)
    for f in frames:
        h, w = f.shape[:2]
        layer = np.zeros((h, w), np.float32)
        x = rng.uniform(0, w, drops)
        y = rng.uniform(0, h, drops)
        length = rng.uniform(8, 24, drops)
        level = rng.uniform(40, 110, drops)
        for x0, y0, n, v in zip(x, y, length, level, strict=True):
            cv2.line(layer, (int(x0), int(y0)), (int(x0 + 0.25 * n), int(y0 + n)), float(v), 1, cv2.LINE_AA)
        yield _u8(f + layer[:, :, None])


def snow(frames: Frames, seed: int = 0, flakes: int = 600) -> Iterator[np.ndarray]:
    """Snow: ``flakes`` white dots of radius 1-3 px, new positions every frame."""
    rng = np.random.default_rng(seed)
    for f in frames:
        h, w = f.shape[:2]
        out = f.copy()
        x = rng.integers(0, w, flakes)
        y = rng.integers(0, h, flakes)
        radius = rng.integers(1, 4, flakes)
        level = rng.integers(200, 256, flakes)
        for x0, y0, r, v in zip(x, y, radius, level, strict=True):
            cv2.circle(out, (int(x0), int(y0)), int(r), (int(v),) * 3, -1, cv2.LINE_AA)
        yield out


def night(
    frames: Frames, seed: int = 0, darken: float = 0.2, read_sigma: float = 10.0, shot: float = 1.0, grain: int = 3
) -> Iterator[np.ndarray]:
    """Night: light drops to ``darken``, then strong sensor noise: read noise of ``read_sigma`` grey
    levels with a grain of ``grain`` px (demosaicing and denoising leave noise spatially correlated,
    so downscaling does not average it away), plus per-pixel shot noise of variance ``shot * value``.
    Noise is luma noise (equal on the three channels)."""
    rng = np.random.default_rng(seed)
    for f in frames:
        h, w = f.shape[:2]
        v = f.astype(np.float32) * darken
        coarse = rng.standard_normal((-(-h // grain), -(-w // grain)), np.float32) * read_sigma
        noise = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
        noise += rng.standard_normal((h, w), np.float32) * np.sqrt(shot * v[:, :, 1])
        yield _u8(v + noise[:, :, None])


def inset(
    frames: Frames, plate: np.ndarray, scale: float = 1 / 3, at: tuple[float, float] = (0.55, 0.6)
) -> Iterator[np.ndarray]:
    """Distant people: each frame, downscaled by ``scale``, is pasted into ``plate`` with its
    top-left corner at ``at`` (fractions of the plate size). Everything the inset shows of the
    street is static, so only the people in it move, at ``scale`` of their size and speed."""
    ph, pw = plate.shape[:2]
    x0, y0 = int(at[0] * pw), int(at[1] * ph)
    for f in frames:
        small = cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = min(small.shape[0], ph - y0), min(small.shape[1], pw - x0)
        out = plate.copy()
        out[y0 : y0 + h, x0 : x0 + w] = small[:h, :w]
        yield out


def read_frames(path: Path, step: int = 1, limit: int | None = None) -> list[np.ndarray]:
    """Every ``step``-th frame of a video file (at most ``limit`` of them), BGR uint8."""
    cap = cv2.VideoCapture(str(path))
    out: list[np.ndarray] = []
    try:
        i = 0
        while (limit is None or len(out) < limit) and cap.grab():
            if i % step == 0:
                ok, frame = cap.retrieve()
                if not ok:
                    break
                out.append(frame)
            i += 1
    finally:
        cap.release()
    if not out:
        raise RuntimeError(f"no frames could be read from {path}")
    return out


def load_footage(path: Path, keep: int, plate_step: int = 8) -> tuple[list[np.ndarray], np.ndarray]:
    """The first ``keep`` frames of a video (BGR uint8) and its empty-scene plate: the per-pixel
    temporal median of every ``plate_step``-th frame of the whole video (people keep moving, so the
    median is the empty street). Decodes the file once and holds only what it returns."""
    cap = cv2.VideoCapture(str(path))
    kept: list[np.ndarray] = []
    sampled: list[np.ndarray] = []
    try:
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i < keep:
                kept.append(frame)
            if i % plate_step == 0:
                sampled.append(frame)
            i += 1
    finally:
        cap.release()
    if len(kept) < keep or len(sampled) < 3:
        raise RuntimeError(f"{path}: only {i} frames could be read")
    return kept, background_plate(sampled)


def background_plate(frames: Sequence[np.ndarray]) -> np.ndarray:
    """Empty-scene plate: per-pixel temporal median of frames in which people keep moving."""
    return np.median(np.stack(frames), axis=0).astype(np.uint8)
