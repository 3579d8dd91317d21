"""Applying the retention policy to a data directory (the I/O half of watcher.retention).

Only finished clips (those with a manifest, or in transferred/) are ever considered; a manifest and its clip are
removed together, manifest first, under the maintenance lock, so salvage never mistakes the
half-removed clip for a crashed publish.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.atomic import fsync_dir
from shared.naming import InvalidClipId, parse_clip_id
from watcher.datadir import DataDir
from watcher.retention import Plan, RetentionSettings, StoredClip, plan

logger = logging.getLogger(__name__)


@dataclass
class RetentionReport:
    removed: list[str] = field(default_factory=list)
    lost_untransferred: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    kept: int = 0
    short_bytes: int = 0
    failed: list[str] = field(default_factory=list)


def scan(dirs: DataDir) -> list[StoredClip]:
    clips = []
    for folder, transferred in ((dirs.recorded, False), (dirs.transferred, True)):
        if not folder.is_dir():
            continue
        names = {p.name for p in folder.glob("*.json")}
        if transferred:  # an archive cut short leaves the clip here before its manifest
            names |= {p.with_suffix(".json").name for p in folder.glob("*.mp4")}
        for name in sorted(names):
            manifest = folder / name
            try:
                started = parse_clip_id(manifest.stem).started
            except InvalidClipId:
                continue
            nbytes = 0
            for f in (manifest, manifest.with_suffix(".mp4")):
                try:
                    nbytes += f.stat().st_size
                except FileNotFoundError:
                    pass
            clips.append(StoredClip(manifest.stem, transferred, started, nbytes))
    return clips


def free_bytes(dirs: DataDir) -> int:
    return shutil.disk_usage(dirs.root).free


def make_plan(dirs: DataDir, settings: RetentionSettings, now: datetime | None = None) -> Plan:
    return plan(scan(dirs), free_bytes=free_bytes(dirs), settings=settings, now=now or datetime.now(UTC))


def apply_plan(dirs: DataDir, p: Plan, *, dry_run: bool = False) -> RetentionReport:
    """Remove what the plan says. The caller holds the maintenance lock."""
    report = RetentionReport(short_bytes=p.short_bytes)
    for r in p.removals:
        folder = dirs.transferred if r.clip.transferred else dirs.recorded
        mb = r.clip.nbytes / 1e6
        if r.reason == "expired":
            logger.info("retention: %s %s (archived, past keep_transferred_days)",
                        "would remove" if dry_run else "removing", r.clip.clip_id)
        elif r.clip.transferred:
            logger.info("retention: %s archived clip %s (%.1f MB) to free space",
                        "would remove" if dry_run else "removing", r.clip.clip_id, mb)
        else:
            logger.warning("retention: %s clip %s (%.1f MB) that NO inspector has copied: free space is below the "
                           "floor and on_full = delete_oldest; this recording is lost",
                           "would remove" if dry_run else "removing", r.clip.clip_id, mb)
        if dry_run:
            report.removed.append(r.clip.clip_id)
            report.freed_bytes += r.clip.nbytes
            continue
        try:
            for suffix in (".json", ".mp4"):  # manifest first: the clip stops being "finished" at once
                (folder / f"{r.clip.clip_id}{suffix}").unlink(missing_ok=True)
            fsync_dir(folder)
        except OSError as e:
            logger.error("retention: cannot remove %s: %s", r.clip.clip_id, e)
            report.failed.append(r.clip.clip_id)
            continue
        report.removed.append(r.clip.clip_id)
        report.freed_bytes += r.clip.nbytes
        if not r.clip.transferred:
            report.lost_untransferred.append(r.clip.clip_id)
    return report


def usage_bytes(dirs: DataDir) -> int:
    return sum(c.nbytes for c in scan(dirs))


