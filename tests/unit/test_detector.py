"""Unit tests of the motion detector on synthetic frames: a textured scene plus sensor noise."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import cv2
import numpy as np
import pytest

from shared.config import validate_config
from shared.detector import DetectorSettings, MotionDetector, MotionResult, luma_from_bgr
from shared.errors import ConfigError

H, W = 240, 320
FPS = 10.0
WARMUP_FRAMES = int(DetectorSettings().warmup_s * FPS) + 1


def textured_scene(seed: int = 0) -> np.ndarray:
    """A float32 scene with texture at several scales and a brightness gradient, like a street."""
    rng = np.random.default_rng(seed)
    scene = np.zeros((H, W), np.float32)
    for size, amplitude in ((4, 25.0), (16, 35.0), (64, 30.0)):
        coarse = rng.standard_normal((H // size + 1, W // size + 1)).astype(np.float32)
        scene += amplitude * cv2.resize(coarse, (W, H), interpolation=cv2.INTER_CUBIC)[:H, :W]
    scene += np.linspace(90.0, 150.0, W, dtype=np.float32)[None, :]
    return np.clip(scene, 10, 230)


def frames(
    n: int,
    seed: int = 0,
    square: Callable[[int], tuple[int, int] | None] = lambda i: None,
    gain: Callable[[int], float] = lambda i: 1.0,
    noise: float = 2.0,
) -> Iterable[np.ndarray]:
    """``n`` uint8 frames of the scene with fresh noise; ``square(i)`` gives the top-left corner
    of a dark 20x20 square in frame i (or None), ``gain(i)`` the scene brightness factor."""
    rng = np.random.default_rng(seed + 1)
    scene = textured_scene(seed)
    for i in range(n):
        f = scene * gain(i)
        pos = square(i)
        if pos is not None:
            x, y = pos
            f = f.copy()
            f[y : y + 20, x : x + 20] = 30.0 * gain(i)
        yield np.clip(f + rng.standard_normal((H, W)).astype(np.float32) * noise, 0, 255).astype(np.uint8)


def run(detector: MotionDetector, images: Iterable[np.ndarray], t0: float = 0.0) -> list[MotionResult]:
    return [detector.process(img, t0 + i / FPS) for i, img in enumerate(images)]


def walking(i: int) -> tuple[int, int] | None:
    """A square that enters after the warm-up and moves 3 px per frame to the right."""
    return None if i < WARMUP_FRAMES + 5 else (40 + 3 * (i - WARMUP_FRAMES - 5), 100)


def after_warmup(results: list[MotionResult]) -> list[MotionResult]:
    return results[WARMUP_FRAMES:]


def test_moving_square_is_detected_with_a_box_around_it() -> None:
    results = run(MotionDetector(), frames(WARMUP_FRAMES + 60, square=walking))
    moving = list(enumerate(results))[WARMUP_FRAMES + 10 :]  # square present and seen for a few frames
    detected = [(i, r) for i, r in moving if r.motion]
    assert len(detected) >= 0.9 * len(moving)
    for i, r in detected:
        x, y = walking(i)  # type: ignore[misc]
        cx, cy = (x + 10) / W, (y + 10) / H
        assert any(bx <= cx <= bx + bw and by <= cy <= by + bh for bx, by, bw, bh in r.boxes), (i, r.boxes)
        assert all(bw < 0.2 and bh < 0.2 for _, _, bw, bh in r.boxes)  # boxes hug the square
        assert 0.0 < r.score < 0.02
    assert not any(r.motion for r in results[: WARMUP_FRAMES + 5])


def test_static_noisy_scene_gives_no_motion() -> None:
    results = after_warmup(run(MotionDetector(), frames(150, noise=4.0)))
    assert not any(r.motion for r in results)
    assert all(r.score == 0.0 and r.boxes == () for r in results)


def test_warm_up_is_reported_for_warmup_s_after_start_and_after_reset() -> None:
    detector = MotionDetector(DetectorSettings(warmup_s=1.0))
    scene = list(frames(40, square=lambda i: (10 + 3 * i, 50)))  # motion from the very first frame
    first = run(detector, scene[:20])
    assert all(r.warming_up and not r.motion for r in first[:10])  # t < 1.0 s
    assert not any(r.warming_up for r in first[11:])
    detector.reset()
    again = run(detector, scene[20:], t0=100.0)
    assert all(r.warming_up and not r.motion for r in again[:10])
    assert not any(r.warming_up for r in again[11:])


def test_warm_up_follows_media_time_not_frame_count() -> None:
    detector = MotionDetector(DetectorSettings(warmup_s=2.0))
    results = [detector.process(img, i / 30.0) for i, img in enumerate(frames(90))]  # 30 fps
    warming = [i for i, r in enumerate(results) if r.warming_up]
    assert warming == list(range(60))


@pytest.mark.parametrize(("name", "gain"), [("lights on x1.6", 1.6), ("lights off x0.5", 0.5)])
def test_global_brightness_step_gives_no_motion(name: str, gain: float) -> None:
    step_at = WARMUP_FRAMES + 20
    results = run(MotionDetector(), frames(step_at + 60, gain=lambda i: gain if i >= step_at else 1.0))
    assert not any(r.motion for r in results), name
    assert any(r.warming_up for r in results[step_at:])  # a jump of the whole scene re-learns it


def test_gradual_gain_change_gives_no_motion_and_no_relearning() -> None:
    # exposure drifting down by 2% per frame, to a third of the brightness (dusk, auto exposure)
    results = run(MotionDetector(), frames(WARMUP_FRAMES + 80, gain=lambda i: max(0.33, 0.98 ** max(0, i - 25))))
    assert not any(r.motion for r in after_warmup(results))
    assert not any(r.warming_up for r in after_warmup(results))


def test_small_gain_step_is_absorbed_without_relearning() -> None:
    step_at = WARMUP_FRAMES + 10
    results = run(MotionDetector(), frames(step_at + 40, gain=lambda i: 1.07 if i >= step_at else 1.0))
    assert not any(r.motion or r.warming_up for r in after_warmup(results))


def test_gradual_gain_change_does_not_hide_a_moving_square() -> None:
    results = run(
        MotionDetector(), frames(WARMUP_FRAMES + 60, square=walking, gain=lambda i: max(0.5, 0.99**i))
    )
    assert sum(r.motion for r in results[WARMUP_FRAMES + 10 :]) >= 0.9 * 45


def test_mask_polygon_hides_motion_inside_it_but_not_outside() -> None:
    left_half = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))
    settings = DetectorSettings(mask=(left_half,))
    inside = run(MotionDetector(settings), frames(WARMUP_FRAMES + 40, square=lambda i: (20 + (i % 20) * 3, 100)))
    assert not any(r.motion for r in after_warmup(inside))
    outside = run(MotionDetector(settings), frames(WARMUP_FRAMES + 40, square=lambda i: (200 + (i % 20) * 3, 100)))
    assert sum(r.motion for r in after_warmup(outside)) >= 30
    unmasked = run(MotionDetector(), frames(WARMUP_FRAMES + 40, square=lambda i: (20 + (i % 20) * 3, 100)))
    assert sum(r.motion for r in after_warmup(unmasked)) >= 30


@pytest.mark.parametrize("view", ["camera turned to a new view", "camera knocked by 10 px"])
def test_scene_change_relearns_instead_of_reporting_motion(view: str) -> None:
    detector = MotionDetector()
    before = run(detector, frames(WARMUP_FRAMES + 10, seed=1))
    if view.startswith("camera turned"):
        changed = list(frames(60, seed=2))
    else:
        changed = [np.roll(f, (6, 10), axis=(0, 1)) for f in frames(60, seed=1)]
    after = run(detector, changed, t0=len(before) / FPS)
    assert not any(r.motion for r in before + after)
    assert after[0].warming_up
    assert not after[-1].warming_up


def test_larger_luma_is_downscaled_and_boxes_stay_normalized() -> None:
    big = [cv2.resize(f, (2 * W, 2 * H)) for f in frames(WARMUP_FRAMES + 40, square=walking)]
    results = run(MotionDetector(), big)
    boxes = [b for r in results for b in r.boxes]
    assert boxes
    assert all(0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 and 0.0 < w <= 1.0 and 0.0 < h <= 1.0 for x, y, w, h in boxes)


@pytest.mark.parametrize(
    ("shape", "expected"), [((720, 1280, 3), (180, 320)), ((576, 768, 3), (240, 320)), ((120, 160, 3), (120, 160))]
)
def test_luma_from_bgr_shape_and_dtype(shape: tuple[int, int, int], expected: tuple[int, int]) -> None:
    image = np.zeros(shape, np.uint8)
    image[:] = (200, 100, 50)  # BGR
    luma = luma_from_bgr(image, 320)
    assert luma.shape == expected
    assert luma.dtype == np.uint8
    want = cv2.cvtColor(image[:1, :1], cv2.COLOR_BGR2GRAY)[0, 0]
    assert np.all(np.abs(luma.astype(int) - int(want)) <= 1)


def test_luma_from_bgr_averages_areas() -> None:
    stripes = np.zeros((720, 1280, 3), np.uint8)
    stripes[:, ::2] = 255  # 1 px stripes: area averaging gives mid-grey, sampling would alias
    luma = luma_from_bgr(stripes, 320)
    assert np.all(np.abs(luma.astype(int) - 128) <= 2)


def test_settings_defaults_are_within_their_bounds() -> None:
    defaults = DetectorSettings()
    assert DetectorSettings.model_validate(defaults.model_dump()) == defaults  # the schema accepts its defaults
    for name, info in DetectorSettings.model_fields.items():
        assert info.description, name


def test_settings_load_from_a_toml_table_with_mask_polygons() -> None:
    table = {"threshold": 5, "mask": [[[0, 0], [0.5, 0], [0.5, 0.5]]]}
    settings = validate_config(DetectorSettings, table, "w.toml", prefix="detector")
    assert settings.threshold == 5.0
    assert settings.mask == (((0.0, 0.0), (0.5, 0.0), (0.5, 0.5)),)
    with pytest.raises(ConfigError, match=r"detector\.mask: polygon 0: point \(2\.0, 0\.0\) is outside 0\.\.1"):
        validate_config(DetectorSettings, {"mask": [[[0, 0], [2, 0], [1, 1]]]}, "w.toml", prefix="detector")
    with pytest.raises(ConfigError, match=r"detector\.mask: polygon 0 needs at least 3 points"):
        validate_config(DetectorSettings, {"mask": [[[0, 0], [1, 1]]]}, "w.toml", prefix="detector")
    with pytest.raises(ConfigError, match=r"detector\.min_area"):
        validate_config(DetectorSettings, {"min_area": 0.9}, "w.toml", prefix="detector")
