"""Salvage of what a crashed writer left behind, on real (truncated) fragmented MP4 files."""

from __future__ import annotations

import fcntl
import os
from dataclasses import replace
from pathlib import Path

from tests.clips import decode_frame_count, verify_recorded
from watcher.config import WatcherConfig
from watcher.container import FragmentedMp4Writer
from watcher.datadir import DataDir
from watcher.encoder import VideoEncoder
from watcher.publish import ClipMeta
from watcher.salvage import salvage
from watcher.sources.synthetic import SyntheticSource

CLIP = "cam1_20261122T050000Z_0001"


def record_part(dirs: DataDir, clip_id: str = CLIP, seconds: float = 4.0, sidecar: bool = True) -> int:
    """Write a real fragmented-MP4 temp file as the ClipWriter does; return its packet count."""
    dirs.create()
    src = SyntheticSource(seed=2, duration_s=seconds, first_event_s=0.5)
    info = src.open()
    enc = VideoEncoder(info.width, info.height, info.fps)
    meta = ClipMeta(id=clip_id, camera="cam1", codec="h264", width=info.width, height=info.height, fps=info.fps,
                    media_start_s=0.0, wall_epoch0=1_700_000_000.0, motion_start_s=0.5)
    if sidecar:
        dirs.meta(clip_id).write_bytes(meta.to_json())
    n = 0
    with open(dirs.part(clip_id), "wb") as f:
        mp4 = FragmentedMp4Writer(f, codec="h264", width=info.width, height=info.height, fps=info.fps)
        for frame in src.frames():
            for p in enc.encode(frame.image, frame.t):
                mp4.write(p)
                n += 1
        mp4.close()
    return n


def test_orphan_is_published_as_salvaged(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path)
    n = record_part(dirs)
    report = salvage(dirs)
    assert report.salvaged == [CLIP]
    [m] = verify_recorded(dirs.recorded)
    assert m.salvaged and m.frames == n and m.motion_start_s == 0.5
    assert m.started_at.startswith("2023-11-14T22:13:20")  # wall clock from the sidecar
    assert not list(dirs.temp.iterdir())


def test_truncated_orphan_keeps_every_intact_frame(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path)
    n = record_part(dirs, seconds=6.0)
    part = dirs.part(CLIP)
    data = part.read_bytes()
    part.write_bytes(data[: len(data) * 2 // 3])  # power cut two thirds in
    salvage(dirs)
    [m] = verify_recorded(dirs.recorded)
    assert m.salvaged and 0 < m.frames < n
    assert decode_frame_count(dirs.clip(CLIP)) == m.frames


def test_undecodable_orphan_is_removed_and_strays_cleaned(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path)
    dirs.create()
    dirs.part(CLIP).write_bytes(b"\x00" * 100)
    dirs.meta(CLIP).write_bytes(b"{}")
    stray = dirs.meta("cam1_20261122T050001Z_0002")  # sidecar whose .part is gone
    stray.write_bytes(b"{}")
    report = salvage(dirs)
    assert report.removed == [CLIP] and not report.salvaged
    assert not list(dirs.temp.iterdir()) and not list(dirs.recorded.iterdir())


def test_a_file_held_by_a_live_writer_is_never_touched(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path)
    record_part(dirs)
    before = dirs.part(CLIP).read_bytes()
    fd = os.open(dirs.part(CLIP), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # the live writer's lock (flock conflicts across open files, even in-process)
    try:
        report = salvage(dirs)
        assert report.skipped_live == [CLIP] and not report.salvaged and not report.removed
        assert dirs.part(CLIP).read_bytes() == before and dirs.meta(CLIP).exists()
        assert not list(dirs.recorded.iterdir())
    finally:
        os.close(fd)
    assert salvage(dirs).salvaged == [CLIP]


def test_clip_renamed_but_manifest_missing_gets_its_manifest(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path)
    record_part(dirs)
    salvage(dirs)
    dirs.manifest(CLIP).unlink()  # as if the power went between the rename and the manifest
    report = salvage(dirs)
    assert report.manifests_rebuilt == [CLIP]
    [m] = verify_recorded(dirs.recorded)
    assert m.salvaged


def test_watcher_start_salvages_and_reports_status(tmp_path: Path) -> None:
    from watcher.pipeline import run_watcher

    dirs = DataDir(tmp_path / "d")
    record_part(dirs)
    cfg = WatcherConfig()
    cfg = replace(cfg, watcher=replace(cfg.watcher, data_dir=str(dirs.root)))
    run_watcher(cfg, source=SyntheticSource(seed=1, duration_s=2.0, objects=[]))
    [m] = verify_recorded(dirs.recorded)
    assert m.id == CLIP and m.salvaged
    import json

    status = json.loads(dirs.status_file.read_text())
    for key in ("fps_in", "fps_out", "frames_dropped", "motion", "recording", "clips_published", "disk_free_bytes",
                "last_error", "updated_at", "state"):
        assert key in status
    assert status["frames_in"] == 30 and status["state"] == "stopped" and status["disk_free_bytes"] > 0
