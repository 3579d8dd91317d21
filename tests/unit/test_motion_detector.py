"""MotionDetector on numpy-made frames: a textured scene with sensor noise."""

from __future__ import annotations

import numpy as np
import pytest

from watcher.detector import DetectorSettings, MotionDetector, luma_from_bgr

W, H, FPS = 320, 240, 10.0


def scene(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(60, 160, W, dtype=np.float32)[None, :].repeat(H, 0)
    blocks = np.kron(rng.uniform(-30, 30, (H // 16, W // 16)), np.ones((16, 16))).astype(np.float32)
    return np.clip(base + blocks, 0, 255).astype(np.uint8)


def frames(n: int, *, square_from: int | None = None, gain_from: int | None = None, gain: float = 1.0,
           seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    bg = scene().astype(np.float32)
    out = []
    for i in range(n):
        f = bg.copy()
        if square_from is not None and i >= square_from:
            x = 20 + 6 * (i - square_from)
            f[100:150, x:x + 25] = 20.0  # a dark walker, 6 px per frame
        if gain_from is not None and i >= gain_from:
            f = f * gain
        f += rng.normal(0, 2.0, f.shape)
        out.append(np.clip(f, 0, 255).astype(np.uint8))
    return out


def run(det: MotionDetector, fs: list[np.ndarray]):
    return [det.process(f, i / FPS) for i, f in enumerate(fs)]


def test_warm_up_reports_no_motion() -> None:
    res = run(MotionDetector(DetectorSettings(warmup_s=2.0)), frames(15, square_from=0))
    assert all(r.warming_up and not r.motion for r in res)


def test_static_noise_is_not_motion() -> None:
    res = run(MotionDetector(), frames(80))
    assert not any(r.motion for r in res)


def test_moving_square_detected_with_a_box_around_it() -> None:
    det = MotionDetector()
    res = run(det, frames(80, square_from=40))
    hits = [(i, r) for i, r in enumerate(res) if r.motion]
    assert hits and hits[0][0] <= 43, "detected within a few frames"
    assert sum(r.motion for r in res[44:75]) >= 28
    i, r = hits[10]
    x = (20 + 6 * (i - 40)) / W
    assert any(bx - 0.03 <= x <= bx + bw + 0.03 and by <= 100 / H + 0.03 and by + bh >= 150 / H - 0.03
               for bx, by, bw, bh in r.boxes), (x, r.boxes)
    assert 0 < r.score < 0.1


@pytest.mark.parametrize("gain", [1.6, 0.5])
def test_global_lighting_step_is_not_motion(gain: float) -> None:
    res = run(MotionDetector(), frames(100, gain_from=50, gain=gain))
    assert not any(r.motion for r in res)


def test_mask_polygon_hides_motion_inside_it() -> None:
    mask = (((0.0, 0.3), (1.0, 0.3), (1.0, 0.7), (0.0, 0.7)),)  # the band the square walks in
    res = run(MotionDetector(DetectorSettings(mask=mask)), frames(80, square_from=40))
    assert not any(r.motion for r in res)


def test_luma_from_bgr() -> None:
    img = np.zeros((720, 1280, 3), np.uint8)
    img[..., 2] = 200
    y = luma_from_bgr(img, 320)
    assert y.shape == (180, 320) and y.dtype == np.uint8 and abs(int(y[90, 160]) - round(0.299 * 200)) <= 1


def test_larger_input_is_downscaled_to_the_working_width() -> None:
    big = [np.kron(f, np.ones((2, 2), np.uint8)) for f in frames(80, square_from=40)]
    res = run(MotionDetector(), big)
    assert sum(r.motion for r in res) >= 28
