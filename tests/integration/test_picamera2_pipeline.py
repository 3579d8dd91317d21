"""The whole watcher on the picamera2 backend (hardware-encoded packets + lores luma), against the fake."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.clips import verify_recorded
from watcher.config import WatcherConfig
from watcher.pipeline import run_watcher
from watcher.sources.picamera2_source import Picamera2Source
from watcher.trigger import TriggerSettings


def test_hardware_encoded_packets_become_verified_clips(tmp_path: Path, fake) -> None:
    cfg = WatcherConfig()
    cfg = replace(cfg, watcher=replace(cfg.watcher, data_dir=str(tmp_path / "d")),
                  source=replace(cfg.source, spec="picamera2", fps=25.0),
                  trigger=TriggerSettings(pre_roll_s=1.0, post_roll_s=1.0, max_clip_s=4.0))
    source = Picamera2Source(width=320, height=240, fps=25.0, bitrate=1_000_000, gop_frames=25,
                             lores_width=160, lores_height=120)
    result = run_watcher(cfg, source=source, duration_s=10.0)
    ms = sorted(verify_recorded(tmp_path / "d" / "recorded_clips"), key=lambda m: m.media_start_s)
    assert ms and len(ms) == len(result.clips)
    assert all((m.codec, m.width, m.height) == ("h264", 320, 240) for m in ms)
    # continuations (max length 4 s) follow their predecessor with no frame lost
    for a, b in zip(ms, ms[1:]):
        if b.continuation_of == a.id:
            assert abs(b.media_start_s - a.media_end_s - 1 / 25) < 1e-3
        assert b.media_start_s > a.media_start_s
    assert ms[-1].media_end_s >= 9.5
    assert result.counters.frames_in == 250 and result.counters.packets_dropped == 0
