"""The whole watcher on the synthetic scene: clips decode, match their manifests, cover the ground truth."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from shared.trigger import TriggerSettings
from tests.clips import decode_frame_count, is_standard_mp4, opencv_frame_count, verify_recorded
from watcher.config import GeneralSettings, WatcherConfig
from watcher.pipeline import run_watcher
from watcher.sources.synthetic import SceneObject, SyntheticSource


def config(tmp_path: Path, **trigger: float) -> WatcherConfig:
    return WatcherConfig(watcher=GeneralSettings(data_dir=str(tmp_path / "data")), trigger=TriggerSettings(**trigger))


def test_every_event_is_in_a_clip_with_its_pre_roll(tmp_path: Path) -> None:
    cfg = config(tmp_path, pre_roll_s=3.0, post_roll_s=3.0, max_clip_s=60.0)
    source = SyntheticSource(seed=7, duration_s=60.0, first_event_s=5.0, event_period_s=12.0)
    result = run_watcher(cfg, source=source)
    manifests = verify_recorded(tmp_path / "data" / "recorded_clips")
    assert len(manifests) == len(result.clips) >= 4
    assert not any((tmp_path / "data" / "temp_clips").iterdir()), "temp files left behind"
    for start, end in source.ground_truth:
        covering = [m for m in manifests if m.media_start_s <= start and m.media_end_s >= min(end, 60.0) - 0.1]
        spans = [(m.media_start_s, m.media_end_s) for m in manifests]
        assert covering, f"event {start:.2f}-{end:.2f} not inside one clip: {spans}"
        m = covering[0]
        wanted = max(0.0, start - cfg.trigger.pre_roll_s)
        assert m.media_start_s <= wanted + 1e-6, f"clip starts {m.media_start_s}, pre-roll wants {wanted}"
        assert m.motion_start_s is not None and start - 0.01 <= m.motion_start_s <= start + 0.5
    for m in manifests:
        clip = tmp_path / "data" / "recorded_clips" / m.file
        assert is_standard_mp4(clip)
        assert opencv_frame_count(clip) == m.frames
        assert (m.width, m.height, m.codec, m.fps) == (640, 360, "h264", 15.0)
        assert abs((m.media_end_s - m.media_start_s) * 15.0 + 1 - m.frames) < 0.5  # no frame lost inside a clip
        assert not m.salvaged


def test_quiet_scene_records_nothing(tmp_path: Path) -> None:
    result = run_watcher(config(tmp_path), source=SyntheticSource(seed=3, duration_s=20.0, objects=[]))
    assert result.clips == []
    assert result.frames == 300


def test_long_event_rolls_over_without_losing_a_frame(tmp_path: Path) -> None:
    walker = SceneObject(2.0, 40.0, 0.1, 0.5, 0.9, 0.6)
    cfg = config(tmp_path, pre_roll_s=1.0, post_roll_s=2.0, max_clip_s=8.0)
    run_watcher(cfg, source=SyntheticSource(seed=5, duration_s=45.0, objects=[walker]))
    ms = sorted(verify_recorded(tmp_path / "data" / "recorded_clips"), key=lambda m: m.media_start_s)
    assert len(ms) >= 4
    for a, b in pairwise(ms):
        assert b.continuation_of == a.id
        assert abs(b.media_start_s - (a.media_end_s + 1 / 15)) < 1e-3, "gap or overlap at a rollover"
        assert a.duration_s <= 8.0 + 2.0 + 1e-6  # max length (+ at most one forced-keyframe frame, + pre-roll GOP)
    assert ms[0].media_start_s <= 1.0 and ms[-1].media_end_s >= 40.0
    total = sum(m.frames for m in ms)
    assert total == round((ms[-1].media_end_s - ms[0].media_start_s) * 15) + 1
    assert sum(decode_frame_count(tmp_path / "data" / "recorded_clips" / m.file) for m in ms) == total
