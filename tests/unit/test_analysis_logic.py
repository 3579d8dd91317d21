"""Pure parts of the analysis: NMS, the motion timeline on made-up frames, the even frame sampler,
the manifest comparison, the HOG descriptor against OpenCV's, the report's sparkline."""

from __future__ import annotations

import numpy as np

from inspector.analysis import hog
from inspector.analysis.analyzer import _people_per_second, manifest_problems
from inspector.analysis.images import EvenSampler, contact_sheet
from inspector.analysis.motion import MotionSettings, MotionTimeline
from inspector.analysis.people import Box, nms
from inspector.report.svg import _pool, sparkline
from shared.manifest import Manifest


def test_nms_keeps_the_best_of_each_cluster_and_counts_support() -> None:
    a = [Box(100 + d, 50 + d, 64, 128, 1.0 + d / 10) for d in range(4)]
    b = [Box(400, 60, 64, 128, 0.5), Box(404, 60, 64, 128, 0.7)]
    kept = nms(a + b)
    assert [(k.score, s) for k, s in kept] == [(1.3, 4), (0.7, 2)]
    assert Box(0, 0, 10, 10).iou(Box(5, 0, 10, 10)) == 50 / 150


def _scene(t: float, w: int = 320, h: int = 180) -> np.ndarray:
    rng = np.random.default_rng(int(t * 1000))
    img = np.full((h, w), 120, np.uint8) + rng.integers(0, 3, (h, w), dtype=np.uint8)
    if 1.0 <= t < 2.5:  # a dark block crossing from x=40 to x=240
        x = int(40 + (t - 1.0) / 1.5 * 200)
        img[60:140, x:x + 30] = 20
    return img


def test_motion_timeline_finds_the_moving_block_and_its_box() -> None:
    tl = MotionTimeline(MotionSettings())
    fps = 20
    for i in range(4 * fps):
        tl.add(i / fps, _scene(i / fps))
    assert len(tl.activity) == 40  # 0.1 s bins over 4 s
    segs = tl.segments()
    assert len(segs) == 1, segs
    s = segs[0]
    assert abs(s.start_s - 1.0) <= 0.15 and abs(s.end_s - 2.6) <= 0.2, s
    x, y, w, h = s.box
    assert x <= 40 / 320 + 0.03 and x + w >= 240 / 320 and y <= 60 / 180 + 0.03 and y + h >= 140 / 180 - 0.03
    assert max(tl.activity[:9]) == 0.0 and max(tl.activity[27:]) == 0.0


def test_global_light_change_is_not_motion() -> None:
    tl = MotionTimeline(MotionSettings())
    for i in range(20):
        tl.add(i / 10, np.full((90, 160), 60 if i < 10 else 200, np.uint8))
    assert tl.segments() == []


def test_even_sampler_spreads_frames_over_an_unknown_length() -> None:
    s = EvenSampler(n=8, width=32)
    img = np.zeros((18, 64, 3), np.uint8)
    for i in range(1000):
        s.add(i, i / 10, img)
    picked = s.pick()
    assert len(picked) == 8
    times = [t for t, _ in picked]
    assert times[0] == 0.0 and times[-1] > 80 and all(b > a for a, b in zip(times, times[1:]))
    assert picked[0][1].shape == (9, 32, 3)
    assert contact_sheet(picked, cols=4).shape[:2] == (2 * 9 + 12, 4 * 32 + 20)


def test_manifest_comparison_names_each_disagreement() -> None:
    m = Manifest(id="cam1_20260101T000000Z_0001", camera="cam1", file="cam1_20260101T000000Z_0001.mp4", size=1000,
                 sha256="0" * 64, codec="h264", width=640, height=360, fps=15.0, frames=100,
                 started_at="2026-01-01T00:00:00.000Z", ended_at="2026-01-01T00:00:06.600Z", media_start_s=0.0,
                 media_end_s=6.6, motion_start_s=1.0, motion_end_s=2.0, peak_motion=0.1, salvaged=False,
                 duration_s=6.7)
    good = {"width": 640, "height": 360, "frames": 100, "fps": 15.0, "duration_s": 6.7}
    assert manifest_problems(good, m) == []
    bad = dict(good, width=320, frames=60, fps=25.0, duration_s=4.0)
    problems = "; ".join(manifest_problems(bad, m))
    for needle in ("resolution 320x360", "decoded 60 frames, manifest 100", "25 fps", "duration 4.000 s"):
        assert needle in problems


def test_people_per_second_takes_the_most_in_each_second() -> None:
    assert _people_per_second([(0.0, 1), (0.5, 3), (1.2, 0), (2.9, 2)], 3.0) == [3, 0, 2]


def test_hog_descriptor_layout_and_window_grid() -> None:
    img = np.random.default_rng(0).integers(0, 255, (160, 96, 3), dtype=np.uint8)
    blocks = hog.block_descriptors(img)
    assert blocks.shape == (19, 11, 36)
    norms = np.linalg.norm(blocks, axis=2)
    assert np.all((norms > 0.99) & (norms <= 1.0 + 1e-4))  # L2-Hys: unit blocks
    assert hog.window_scores(blocks).shape == (5, 5)  # (160-128)/8+1, (96-64)/8+1
    w, bias = hog.people_svm()
    assert w.shape == (7, 15, 36) and -10 < bias < 0


# OpenCV's own HOGDescriptor().compute() and default people SVM on this image (from the contrib build,
# opencv-contrib-python-headless 5.0.0.93): our descriptor must match it value for value.
OPENCV_VALUES = [(0, 0.01308), (1, 0.15406), (8, 0.00537), (35, 0.0), (36, 0.03399), (500, 0.16798),
                 (1234, 0.19149), (2000, 0.0), (3000, 0.0), (3779, 0.01047)]
OPENCV_SCORE = -2.21339


def test_hog_matches_opencv_descriptor_and_score() -> None:
    import cv2

    y, x = np.mgrid[0:128, 0:64].astype(np.float32)
    img = np.dstack([127 + 100 * np.sin(x / 5 + y / 9), 127 + 90 * np.cos(x / 7 - y / 4),
                     127 + 60 * np.sin((x * y) / 50)]).astype(np.uint8)
    cv2.rectangle(img, (20, 30), (44, 110), (30, 30, 30), -1)
    blocks = hog.block_descriptors(img)  # 15 x 7 blocks: exactly one window
    desc = blocks.transpose(1, 0, 2).ravel()  # OpenCV's order: block x, block y, then cell x, cell y, bin
    for i, v in OPENCV_VALUES:
        assert abs(desc[i] - v) < 2e-4, (i, desc[i], v)
    assert abs(float(hog.window_scores(blocks)[0, 0]) - OPENCV_SCORE) < 1e-3


def test_sparkline_keeps_peaks_when_pooling() -> None:
    vals = [0.0] * 1000
    vals[777] = 1.0
    assert max(_pool(vals, 60)) == 1.0 and len(_pool(vals, 60)) == 60
    assert sparkline(vals).startswith("<svg")
