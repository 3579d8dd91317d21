"""Pure parts of the analysis: NMS, the motion timeline on made-up frames, the even frame sampler,
the manifest comparison, the HOG descriptor against OpenCV's, the report's sparkline, the limits
checked while decoding, the caps of a clip's process and how its result and death are read."""

from __future__ import annotations

import json
import signal
from itertools import pairwise

import numpy as np

from inspector.analysis import hog
from inspector.analysis.analyzer import _people_per_second, manifest_problems
from inspector.analysis.images import EvenSampler, contact_sheet
from inspector.analysis.limits import AnalysisLimits, Caps, FrameGuard, LimitExceeded, caps_for, manifest_problem
from inspector.analysis.motion import MotionSettings, MotionTimeline
from inspector.analysis.people import Box, nms
from inspector.analysis.result import Video
from inspector.analysis.runner import death_reason, parse_result
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
    assert times[0] == 0.0 and times[-1] > 80 and all(b > a for a, b in pairwise(times))
    assert picked[0][1].shape == (9, 32, 3)
    assert contact_sheet(picked, cols=4).shape[:2] == (2 * 9 + 12, 4 * 32 + 20)


def test_manifest_comparison_names_each_disagreement() -> None:
    m = Manifest(id="cam1_20260101T000000Z_0001", camera="cam1", file="cam1_20260101T000000Z_0001.mp4", size=1000,
                 sha256="0" * 64, codec="h264", width=640, height=360, fps=15.0, frames=100,
                 started_at="2026-01-01T00:00:00.000Z", ended_at="2026-01-01T00:00:06.600Z", media_start_s=0.0,
                 media_end_s=6.6, motion_start_s=1.0, motion_end_s=2.0, peak_motion=0.1, salvaged=False,
                 duration_s=6.7)
    good = Video(codec="h264", width=640, height=360, frames=100, fps=15.0, duration_s=6.7)
    assert manifest_problems(good, m) == []
    bad = good.model_copy(update={"width": 320, "frames": 60, "fps": 25.0, "duration_s": 4.0})
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


def _manifest(**kw: object) -> Manifest:
    base = dict(id="cam1_20260101T000000Z_0001", camera="cam1", file="cam1_20260101T000000Z_0001.mp4", size=1000,
                sha256="0" * 64, codec="h264", width=640, height=360, fps=15.0, frames=30,
                started_at="2026-01-01T00:00:00.000Z", ended_at="2026-01-01T00:00:01.933Z", media_start_s=0.0,
                media_end_s=1.933, motion_start_s=None, motion_end_s=None, peak_motion=0.0, salvaged=False,
                duration_s=2.0)
    base.update(kw)
    # unchecked: some of these are over the limits in ways parse_manifest would refuse (1,000,000 frames in 2 s)
    return Manifest.model_construct(**base)  # type: ignore[arg-type]


def _refusal(call) -> str:
    try:
        call()
    except LimitExceeded as e:
        return str(e)
    raise AssertionError("not refused")


def test_frame_guard_refuses_at_the_first_frame_over_a_limit_or_off_the_manifest() -> None:
    lim = AnalysisLimits()
    g = FrameGuard(lim, _manifest())
    g.header(640, 360, 30, 2.0)
    g.header(0, 0, None, None)  # unknown in the headers: every frame is checked anyway
    for i in range(30):
        g.frame(i, i / 15, 640, 360)
    assert _refusal(lambda: g.frame(30, 2.0, 640, 360)) == \
        "disagrees with its manifest: decodes to more than its 30 frames"
    assert _refusal(lambda: g.frame(2, 1e7, 640, 360)).startswith("disagrees with its manifest: frame 3 is at")
    assert _refusal(lambda: g.frame(2, float("nan"), 640, 360)).startswith("disagrees with its manifest")
    assert _refusal(lambda: g.frame(3, 0.2, 1280, 720)) == \
        "disagrees with its manifest: frame 4 is 1280x720, manifest 640x360"
    assert _refusal(lambda: g.header(4096, 4096, None, None)).startswith(
        "over the limits: the stream's frames are 4096x4096 (16777216 pixels)")
    assert _refusal(lambda: g.header(640, 360, 10**9, None)).startswith("over the limits: the container says 10")
    assert _refusal(lambda: g.header(640, 360, None, 1e7)) == \
        "over the limits: the container says 1e+07 s; limit 3720 s"
    free = FrameGuard(lim)  # no manifest (a file analyzed by hand): the limits alone
    free.frame(0, 3000.0, 4096, 3072)
    assert _refusal(lambda: free.frame(1, 3800.0, 640, 360)) == \
        "over the limits: frame 2 is at 3800.000 s; limit 3720 s"
    assert _refusal(lambda: free.frame(1, 1.0, 8192, 64)).startswith("over the limits: frame 2 is 8192x64")
    assert _refusal(lambda: FrameGuard(AnalysisLimits(max_frames=5)).frame(5, 0.1, 64, 64)) == \
        "over the limits: more than 5 frames"
    bins = FrameGuard(AnalysisLimits(max_bins=100), bin_s=0.1)  # 10 s of timeline
    assert _refusal(lambda: bins.frame(1, 10.5, 64, 64)).startswith("over the limits: frame 2 at 10.500 s needs more "
                                                                     "than 100 timeline bins")


def test_manifest_over_the_limits_is_refused_before_decoding_and_caps_scale_with_it() -> None:
    lim = AnalysisLimits()
    assert manifest_problem(_manifest(), lim) is None
    assert manifest_problem(_manifest(width=4096, height=4096), lim).startswith(
        "over the limits: the manifest says 4096x4096")
    assert manifest_problem(_manifest(frames=10**6), lim) == ("over the limits: the manifest says 1000000 frames; "
                                                              "limit 450000")
    assert manifest_problem(_manifest(duration_s=1e7), lim) == \
        "over the limits: the manifest says 1e+07 s; limit 3720 s"
    small, hd = caps_for(_manifest(), lim), caps_for(_manifest(width=1920, height=1080, fps=30.0, frames=1800,
                                                                duration_s=60.0), lim)
    assert small.cpu_s == 53 and small.memory_mb == 1080  # 30 s + 2 s x 10 + 30 x 640 x 360 x 400 ns; 1 GiB + 256 B/px
    assert hd.cpu_s == 2123 and hd.memory_mb == 1530 and hd.wall_s == 60 + 4 * 2123
    assert caps_for(None, lim) == caps_for(None, lim) and caps_for(None, lim).cpu_s == 6 * 3600  # capped
    assert caps_for(None, lim).memory_mb == 4096


def test_motion_timeline_refuses_a_frame_past_its_bins() -> None:
    tl = MotionTimeline(MotionSettings(), max_bins=50)
    tl.add(0.0, np.zeros((18, 32), np.uint8))
    try:
        tl.add(1e7, np.zeros((18, 32), np.uint8))
    except ValueError as e:
        assert "past the timeline's 50 bins" in str(e)
    else:
        raise AssertionError("a frame 10^7 s in grew the timeline")
    assert len(tl.activity) == 1


def test_a_child_result_is_parsed_totally() -> None:
    good = {"analyzer_version": 1, "file": "cam1_20261122T051825Z_0001.mp4", "clip_id": "cam1_20261122T051825Z_0001",
            "sha256": "ab" * 32, "elapsed_s": 1.5, "cpu_s": 1.2,
            "video": {"codec": "h264", "width": 640, "height": 360, "fps": 15.0, "frames": 30, "duration_s": 2.0},
            "motion": {"bin_s": 0.1, "activity": [0.0, 0.1], "peak": 0.1, "peak_t": 0.1, "active_s": 1.0,
                       "segments": [{"start_s": 0.1, "end_s": 1.1, "peak": 0.1, "box": [0.1, 0.1, 0.2, 0.2]}]},
            "people": {"detector": "hog", "sampled": 4, "peak": 2, "per_second": [2, 0], "best_t": 0.5,
                       "boxes": [[0.1, 0.1, 0.2, 0.5, 0.9], [0.5, 0.1, 0.2, 0.5, 0.8]]},
            "stills": {"thumb_t": 0.1, "sheet_t": [0.0, 1.0], "thumb": "x.thumb.jpg", "sheet": "x.sheet.jpg",
                       "people": None}}
    kind, reason, data, peak = parse_result(json.dumps({"analyzed": good, "peak_rss_mb": 99.5}).encode())
    assert (kind, reason, peak) == ("analyzed", None, 99.5) and data is not None
    assert data.model_dump(mode="json") == good and json.loads(data.to_json()) == good
    assert parse_result(b'{"rejected": "over the limits: x"}') == ("rejected", "over the limits: x", None, None)
    for raw in (b"", b"\xff\xfe", b"[" * 100_000, b"[]", b'{"analyzed": 1}', b'{"a": 1, "b": 2}', b'{"failed": 3}',
                json.dumps({"analyzed": dict(good, people={"peak": True})}).encode(),
                json.dumps({"analyzed": dict(good, video={"duration_s": None})}).encode(),
                b'{"analyzed": {"analyzer_version": 1, "video": {"duration_s": 1e999}}}',
                json.dumps({"analyzed": dict(good, stills=dict(good["stills"], thumb="../x.jpg"))}).encode()):
        kind, reason, data, _ = parse_result(raw)
        assert kind == "failed" and reason and data is None, raw[:40]


def test_a_dead_child_is_described_by_how_it_ended() -> None:
    caps = Caps(cpu_s=10, memory_mb=1024, wall_s=100.0)
    assert death_reason(signal.SIGXCPU, caps, 10.2) == \
        "analysis process over its CPU time cap of 10 s (killed by SIGXCPU)"
    assert death_reason(signal.SIGKILL, caps, 15.0) == \
        "analysis process over its CPU time cap of 10 s (killed by SIGKILL)"  # the hard limit, 5 s later
    assert death_reason(signal.SIGKILL, caps, 1.0).startswith("analysis process killed by SIGKILL after 1.0 s")
    assert death_reason(signal.SIGSEGV, caps, 1.0) == "analysis process crashed: killed by SIGSEGV"
    assert death_reason(2 << 8, caps, 1.0) == "analysis process exited with status 2 without a result"
