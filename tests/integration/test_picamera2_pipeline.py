"""The whole watcher on the picamera2 backend (hardware-encoded packets + lores luma), against the fake."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import av

from shared.trigger import TriggerSettings
from tests.clips import verify_recorded
from watcher.config import GeneralSettings, WatcherConfig
from watcher.pipeline import run_watcher
from watcher.sources import SourceSettings
from watcher.sources.picamera2_source import Picamera2Source


def test_hardware_encoded_packets_become_verified_clips(tmp_path: Path, fake) -> None:
    cfg = WatcherConfig(watcher=GeneralSettings(data_dir=str(tmp_path / "d")),
                        source=SourceSettings(spec="picamera2", fps=25.0),
                        trigger=TriggerSettings(pre_roll_s=1.0, post_roll_s=1.0, max_clip_s=4.0))
    source = Picamera2Source(width=320, height=240, fps=25.0, bitrate=1_000_000, gop_frames=25,
                             lores_width=160, lores_height=120)
    result = run_watcher(cfg, source=source, duration_s=10.0)
    ms = sorted(verify_recorded(tmp_path / "d" / "recorded_clips"), key=lambda m: m.media_start_s)
    assert ms and len(ms) == len(result.clips)
    assert all((m.codec, m.width, m.height) == ("h264", 320, 240) for m in ms)
    # continuations (max length 4 s) follow their predecessor with no frame lost
    for a, b in pairwise(ms):
        if b.continuation_of == a.id:
            assert abs(b.media_start_s - a.media_end_s - 1 / 25) < 1e-3
        assert b.media_start_s > a.media_start_s
    assert ms[-1].media_end_s >= 9.5
    # The camera runs free: the detector may skip a lores frame when it falls behind, the clips never.
    assert 200 <= result.counters.frames_in <= 250 and result.counters.packets_dropped == 0


def keyframe_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for packet in container.demux(video=0) if packet.is_keyframe)


def test_rollovers_ask_the_hardware_encoder_once_each_and_do_not_wait_for_the_gop(tmp_path: Path, fake) -> None:
    cfg = WatcherConfig(watcher=GeneralSettings(data_dir=str(tmp_path / "d")),
                        source=SourceSettings(spec="picamera2", fps=25.0),
                        trigger=TriggerSettings(pre_roll_s=0.5, post_roll_s=1.0, max_clip_s=2.0))
    gop = 1000  # keyframes only when asked for (after the first)
    source = Picamera2Source(width=320, height=240, fps=25.0, bitrate=1_000_000, gop_frames=gop,
                             lores_width=160, lores_height=120, packet_queue_size=100_000)
    result = run_watcher(cfg, source=source, duration_s=9.0)

    ms = sorted(verify_recorded(tmp_path / "d" / "recorded_clips"), key=lambda m: m.media_start_s)
    continuations = [m for m in ms if m.continuation_of]
    assert len(continuations) >= 3
    (encoder,) = [e for camera in fake.cameras for e in camera.video_encoders_seen]
    # One request per rollover (the V4L2 encoder would make one keyframe per request) ...
    assert encoder.record.forced_keyframes == len(continuations)
    for m in ms:
        path = tmp_path / "d" / "recorded_clips" / m.file
        assert keyframe_count(path) == 1  # ... so each clip holds exactly its opening keyframe
        if m.continuation_of and m is not ms[-1]:
            assert m.duration_s < 2.0 + 0.5  # a rollover waits a frame or two, not a GOP (40 s)
    assert result.counters.packets_dropped == 0
