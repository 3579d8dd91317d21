"""Salvage of what a crashed writer left behind, on real (truncated) fragmented MP4 files."""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

import pytest

from shared.manifest import Manifest, parse_manifest
from shared.naming import parse_clip_id
from tests.clips import decode_frame_count, verify_recorded
from watcher.config import GeneralSettings, WatcherConfig
from watcher.container import FragmentedMp4Writer
from watcher.datadir import DataDir
from watcher.encoder import VideoEncoder
from watcher.publish import ClipMeta
from watcher.salvage import salvage
from watcher.sources.synthetic import SyntheticSource

CLIP = "cam1_20261122T050000Z_0001"


def record_part(dirs: DataDir, clip_id: str = CLIP, seconds: float = 4.0, sidecar: bool = True,
                pending: bool = False) -> int:
    """Write a real fragmented-MP4 temp file as the ClipWriter does (``pending``: with its empty
    pending manifest, as this version's writer; without, as an older one); return its packet count."""
    dirs.create()
    src = SyntheticSource(seed=2, duration_s=seconds, first_event_s=0.5)
    info = src.open()
    enc = VideoEncoder(info.width, info.height, info.fps)
    meta = ClipMeta(id=clip_id, camera="cam1", codec="h264", width=info.width, height=info.height, fps=info.fps,
                    media_start_s=0.0, wall_epoch0=1_700_000_000.0, motion_start_s=0.5, pending_created=pending)
    if pending:
        dirs.pending(clip_id).write_bytes(b"")
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
    cfg = WatcherConfig(watcher=GeneralSettings(data_dir=str(dirs.root)))
    run_watcher(cfg, source=SyntheticSource(seed=1, duration_s=2.0, objects=[]))
    [m] = verify_recorded(dirs.recorded)
    assert m.id == CLIP and m.salvaged
    import json

    status = json.loads(dirs.status_file.read_text())
    for key in ("fps_in", "fps_out", "frames_dropped", "motion", "recording", "clips_published", "disk_free_bytes",
                "last_error", "updated_at", "state"):
        assert key in status
    assert status["frames_in"] == 30 and status["state"] == "stopped" and status["disk_free_bytes"] > 0


def verify_clip(dirs: DataDir, clip_id: str) -> Manifest:
    """One published clip: its manifest names it, size and sha256 match, it decodes to its frame count."""
    m = parse_manifest(dirs.manifest(clip_id).read_bytes(), expected_id=clip_id)
    data = dirs.clip(clip_id).read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (m.size, m.sha256)
    assert decode_frame_count(dirs.clip(clip_id)) == m.frames
    return m


def finished_ids(dirs: DataDir) -> set[str]:
    return {p.stem for p in dirs.recorded.glob("*.json") if p.stat().st_size > 0}


OTHER = "cam1_20261122T040000Z_0007"  # a finished clip of the same data dir


def _take_name(dirs: DataDir, how: str) -> Path:
    """Put something on CLIP's names in recorded_clips/, as the inspector's account (or anyone) might."""
    if how == "directory":
        (target := dirs.clip(CLIP)).mkdir()
    elif how == "symlink":
        os.symlink("/etc/hostname", target := dirs.clip(CLIP))
    elif how == "empty manifest":
        (target := dirs.manifest(CLIP)).write_bytes(b"")
    elif how == "empty clip":
        (target := dirs.clip(CLIP)).write_bytes(b"")
    else:  # another finished clip renamed onto the name (its manifest stays)
        other = DataDir(dirs.root.with_name(dirs.root.name + "-other"))
        record_part(other, OTHER)
        assert salvage(other).salvaged == [OTHER]
        os.rename(other.manifest(OTHER), dirs.manifest(OTHER))
        os.rename(other.clip(OTHER), target := dirs.clip(CLIP))
    return target


@pytest.mark.parametrize("how", ["directory", "symlink", "empty manifest", "empty clip", "renamed clip"])
def test_orphan_whose_name_is_taken_is_published_under_a_fresh_id(tmp_path: Path, how: str,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    dirs = DataDir(tmp_path)
    n = record_part(dirs, pending=True)
    taken = _take_name(dirs, how)
    before = (taken.is_dir(), os.readlink(taken) if taken.is_symlink() else None,
              None if taken.is_dir() or taken.is_symlink() else taken.read_bytes())
    report = salvage(dirs)
    assert report.salvaged == [CLIP] and not report.failed and not report.manifests_rebuilt
    [fresh] = finished_ids(dirs) - {CLIP, OTHER}
    m = verify_clip(dirs, fresh)
    assert m.salvaged and m.frames == n and m.file == f"{fresh}.mp4" and m.camera == "cam1"
    assert parse_clip_id(fresh).started == parse_clip_id(CLIP).started and parse_clip_id(fresh).seq != 1
    assert (taken.is_dir(), os.readlink(taken) if taken.is_symlink() else None,
            None if taken.is_dir() or taken.is_symlink() else taken.read_bytes()) == before  # left as it was
    assert f"salvaged {fresh} (from {CLIP}, whose name was taken)" in caplog.text
    assert any(CLIP in r.getMessage() and "is taken" in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)
    assert not list(dirs.temp.iterdir())
    finished = finished_ids(dirs)
    again = salvage(dirs)  # nothing left to do, and the junk is not adopted as a clip
    assert not again.salvaged and not again.manifests_rebuilt and finished_ids(dirs) == finished


def _published_then_rewound(dirs: DataDir, *, uncommit: bool) -> Manifest:
    """The state a crash leaves between publish steps, made from a real publish: the .part and its
    sidecar (and, with ``uncommit``, the pending manifest) are put back as they were before step 4."""
    record_part(dirs, pending=True)
    part, sidecar = dirs.part(CLIP).read_bytes(), dirs.meta(CLIP).read_bytes()
    assert salvage(dirs).salvaged == [CLIP]
    m = verify_clip(dirs, CLIP)
    dirs.part(CLIP).write_bytes(part)
    dirs.meta(CLIP).write_bytes(sidecar)
    if uncommit:
        os.rename(dirs.manifest(CLIP), dirs.pending(CLIP))
    return m


def test_a_crash_after_the_commit_never_publishes_the_clip_twice(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path)
    m = _published_then_rewound(dirs, uncommit=False)
    report = salvage(dirs)
    assert report.completed == [CLIP] and not report.salvaged
    assert verify_clip(dirs, CLIP) == m and finished_ids(dirs) == {CLIP} and not list(dirs.temp.iterdir())


def test_a_crash_after_the_commit_and_the_inspector_taking_the_clip_never_republishes_it(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path)
    _published_then_rewound(dirs, uncommit=False)
    for p in dirs.recorded.iterdir():  # pulled and deleted before the watcher came back
        p.unlink()
    report = salvage(dirs)
    assert report.completed == [CLIP] and not report.salvaged
    assert not list(dirs.recorded.iterdir()) and not list(dirs.temp.iterdir())


def test_a_crash_between_the_clip_and_its_manifest_is_committed_once(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path)
    m = _published_then_rewound(dirs, uncommit=True)
    assert not dirs.manifest(CLIP).exists() and dirs.clip(CLIP).exists()
    report = salvage(dirs)
    assert report.salvaged == [CLIP] and not report.manifests_rebuilt
    assert verify_clip(dirs, CLIP) == m and finished_ids(dirs) == {CLIP} and not list(dirs.temp.iterdir())


def test_a_crash_before_the_clip_was_moved_publishes_it_once(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path)
    _published_then_rewound(dirs, uncommit=True)
    os.rename(dirs.clip(CLIP), dirs.tmp(CLIP, "mp4"))  # the pending manifest was written, the move not done
    report = salvage(dirs)
    assert report.salvaged == [CLIP]
    verify_clip(dirs, CLIP)
    assert finished_ids(dirs) == {CLIP} and not list(dirs.temp.iterdir())


def test_a_manifest_name_taken_before_the_commit_moves_the_clip_to_a_fresh_id(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path)
    m = _published_then_rewound(dirs, uncommit=True)
    dirs.manifest(CLIP).write_bytes(b"")  # the inspector's account got there between the two moves
    report = salvage(dirs)
    assert report.salvaged == [CLIP]
    [fresh] = finished_ids(dirs)
    assert fresh != CLIP and verify_clip(dirs, fresh).sha256 == m.sha256
    assert not dirs.clip(CLIP).exists() and dirs.manifest(CLIP).read_bytes() == b""  # taken back; junk left
    assert not list(dirs.temp.iterdir())


def test_a_clip_renamed_by_the_inspector_is_not_given_a_second_manifest(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path)
    record_part(dirs)
    salvage(dirs)
    os.link(dirs.clip(CLIP), dirs.recorded / f"{OTHER}.mp4")  # the same bytes under another clip name
    report = salvage(dirs)
    assert not report.manifests_rebuilt and finished_ids(dirs) == {CLIP}
