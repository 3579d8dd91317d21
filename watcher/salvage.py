"""Salvage after a crash: publish what a dead writer left in temp_clips/, remove what cannot be saved.

A temp file whose flock can be taken has no live writer (the kernel drops a dead process's
locks), so it is an orphan; one whose lock is held is never touched. The same code serves
the watcher at start-up and the cleanup command. An orphan is published exactly as the writer
would have (watcher.publish): under a fresh id if its name is taken in recorded_clips/, resumed
where an interrupted publish stopped, and only cleaned up if that publish had committed.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime

import av

from shared.atomic import atomic_write_bytes, fsync_dir
from shared.errors import DataDirError
from shared.manifest import MAX_MANIFEST_BYTES, InvalidManifest, Manifest, parse_manifest, sha256_file, utc_iso
from shared.naming import InvalidClipId, parse_clip_id
from watcher.clip_seq import ClipIds
from watcher.container import remux_to_mp4
from watcher.datadir import META_SUFFIX, PART_SUFFIX, PENDING_SUFFIX, DataDir, try_lock_file
from watcher.noreplace import rename_noreplace
from watcher.publish import (
    ClipMeta,
    InvalidSidecar,
    NothingToPublish,
    committed_before,
    publish_clip,
    remove_temp_files,
)

logger = logging.getLogger(__name__)


@dataclass
class SalvageReport:
    salvaged: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)  # published before the crash: temp files removed
    removed: list[str] = field(default_factory=list)
    skipped_live: list[str] = field(default_factory=list)
    manifests_rebuilt: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _meta_for(dirs: DataDir, clip_id: str, default_fps: float) -> ClipMeta:
    try:
        return ClipMeta.from_json(dirs.meta(clip_id).read_bytes())
    except (OSError, InvalidSidecar) as e:
        parsed = parse_clip_id(clip_id)
        logger.warning("%s: sidecar unusable (%s); using the id's start time", clip_id, e)
        return ClipMeta(
            id=clip_id, camera=parsed.camera, codec="h264", width=0, height=0, fps=default_fps,
            media_start_s=0.0, wall_epoch0=parsed.started.timestamp(),
        )


def salvage(dirs: DataDir, *, default_fps: float = 30.0, dry_run: bool = False,
            ids: ClipIds | None = None) -> SalvageReport:
    """Salvage every orphaned temp clip in ``dirs``; see the module docstring."""
    report = SalvageReport()
    ids = ids or ClipIds(dirs)  # reserves sequences only if a fresh id is needed
    if not dirs.temp.is_dir():
        return report
    for part in sorted(dirs.temp.glob(f"*{PART_SUFFIX}")):
        clip_id = part.name[: -len(PART_SUFFIX)]
        fd = try_lock_file(part)
        if fd is None:
            if part.exists():
                report.skipped_live.append(clip_id)
                logger.info("%s is held by a live writer; leaving it alone", part.name)
            continue
        try:
            try:
                parse_clip_id(clip_id)
            except InvalidClipId:
                logger.warning("removing %s: not a clip id", part.name)
                if not dry_run:
                    part.unlink(missing_ok=True)
                report.removed.append(clip_id)
                continue
            if dry_run:
                report.salvaged.append(clip_id)
                continue
            meta = _meta_for(dirs, clip_id, default_fps)
            if committed_before(dirs, meta):
                logger.info("%s had been published before the crash; removing its temp files", clip_id)
                remove_temp_files(dirs, clip_id)
                report.completed.append(clip_id)
                continue
            try:
                m = publish_clip(dirs, meta, salvaged=True, ids=ids)
                renamed = "" if m.id == clip_id else f" (from {clip_id}, whose name was taken)"
                logger.warning("salvaged %s%s: %d frames, %.1f s", m.id, renamed, m.frames, m.duration_s)
                report.salvaged.append(clip_id)
            except (OSError, DataDirError) as e:  # e.g. no space to remux it now (PyAV's I/O errors are OSErrors
                # too), no free name, the id counter's lock held too long: keep it
                logger.error("cannot salvage %s now (%s); keeping it for later", part.name, e)
                report.failed.append(clip_id)
            except (NothingToPublish, av.error.FFmpegError) as e:
                logger.warning("removing %s: nothing decodable (%s)", part.name, e)
                remove_temp_files(dirs, clip_id)
                report.removed.append(clip_id)
        finally:
            os.close(fd)
    if not dry_run:
        _remove_stray_temp(dirs)
        report.manifests_rebuilt = _rebuild_missing_manifests(dirs)
    return report


def _remove_stray_temp(dirs: DataDir) -> None:
    """Remove sidecars and intermediate files whose .part no longer exists (publish had finished)."""
    for p in dirs.temp.iterdir():
        name = p.name
        if name.endswith(PART_SUFFIX) or not p.is_file():
            continue
        if name.endswith(META_SUFFIX):
            clip_id = name[: -len(META_SUFFIX)]
        elif name.endswith(PENDING_SUFFIX):
            clip_id = name[: -len(PENDING_SUFFIX)]
        elif name.endswith(".tmp"):
            clip_id = name.lstrip(".").split(".", 1)[0]
        else:
            continue
        if not dirs.part(clip_id).exists():
            logger.info("removing stray temp file %s", name)
            p.unlink(missing_ok=True)


def _rebuild_missing_manifests(dirs: DataDir) -> list[str]:
    """A clip in recorded_clips/ whose manifest is missing (removed by hand, or a removal cut short)
    is complete, since it was fsynced before it was moved there: give it its manifest. Left alone:
    a clip a publish of ours is still working on (a .part of its name, or a pending manifest naming
    it: that publish commits or resumes it), anything but a regular file, and bytes another manifest
    already describes (a finished clip the inspector's account renamed, not a lost one). The manifest
    is written without replacing, so a publish committing meanwhile wins."""
    rebuilt = []
    known: set[str] | None = None
    for clip in sorted(dirs.recorded.glob("*.mp4")):
        clip_id = clip.stem
        # the part first: a publishing writer removes its .part only after the commit, so once the
        # part is gone and no pending manifest names the clip, a missing manifest really is missing
        if dirs.part(clip_id).exists() or os.path.lexists(dirs.manifest(clip_id)):
            continue
        try:
            parsed = parse_clip_id(clip_id)
        except InvalidClipId:
            continue
        if clip_id in _pending_ids(dirs) or os.path.lexists(dirs.manifest(clip_id)):
            continue
        try:
            if not stat.S_ISREG(clip.lstat().st_mode):
                continue
        except FileNotFoundError:
            continue
        probe = dirs.tmp(clip_id, "probe")
        try:
            r = remux_to_mp4(str(clip), str(probe))
        except av.error.FFmpegError as e:
            if clip.exists():  # (one that vanished was being archived by an inspector: not ours)
                logger.error("%s has no manifest and does not decode (%s); leaving it for inspection", clip.name, e)
            continue
        finally:
            probe.unlink(missing_ok=True)
        try:
            size, sha = sha256_file(clip)
        except FileNotFoundError:
            continue  # taken away meanwhile (an inspector archiving it)
        known = _described_sha256s(dirs) if known is None else known
        if sha in known:
            logger.warning("%s has no manifest, but its bytes are another clip's (renamed there); leaving it",
                           clip.name)
            continue
        start = parsed.started
        end = datetime.fromtimestamp(start.timestamp() + r.last_s - r.first_s, tz=UTC)
        fps = (r.frames - 1) / (r.last_s - r.first_s) if r.frames > 1 and r.last_s > r.first_s else 0.0
        m = Manifest(
            id=clip_id, camera=parsed.camera, file=clip.name, size=size, sha256=sha, codec=r.codec,
            width=r.width, height=r.height, fps=round(fps, 3) or 1.0, frames=r.frames,
            started_at=utc_iso(start), ended_at=utc_iso(end), media_start_s=r.first_s, media_end_s=r.last_s,
            motion_start_s=None, motion_end_s=None, peak_motion=0.0, salvaged=True,
            duration_s=round(r.last_s - r.first_s, 6),
        )
        tmp = dirs.tmp(clip_id, "json")
        try:
            atomic_write_bytes(tmp, m.to_json())
            if not rename_noreplace(tmp, dirs.manifest(clip_id)):
                continue
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(dirs.recorded)
        logger.warning("wrote the missing manifest of %s", clip_id)
        rebuilt.append(clip_id)
    return rebuilt


def _pending_ids(dirs: DataDir) -> set[str]:
    """Ids a publish in progress (or interrupted) may be using: each pending manifest's own and the one it names."""
    ids = set()
    for p in dirs.temp.glob(f"*{PENDING_SUFFIX}"):
        ids.add(p.name[: -len(PENDING_SUFFIX)])
        try:
            ids.add(parse_manifest(p.read_bytes()[: MAX_MANIFEST_BYTES + 1]).id)
        except (OSError, InvalidManifest):
            continue
    return ids


def _described_sha256s(dirs: DataDir) -> set[str]:
    """The sha256 of every clip a manifest in recorded_clips/ or transferred/ describes."""
    shas = set()
    for folder in (dirs.recorded, dirs.transferred):
        for j in folder.glob("*.json") if folder.is_dir() else ():
            try:
                if stat.S_ISREG(j.lstat().st_mode):
                    with open(j, "rb") as f:
                        shas.add(parse_manifest(f.read(MAX_MANIFEST_BYTES + 1)).sha256)
            except (OSError, InvalidManifest):
                continue
    return shas
