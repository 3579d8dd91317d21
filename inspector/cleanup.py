"""``python -m inspector cleanup``: stale downloads, old quarantine, and optional library retention.

A ``.part`` download is removed only when no inspector holds its flock (a live download holds
it, see :mod:`inspector.partlock`), the path still names the file we locked, and it is older than
``stale_part_hours`` (a younger one is kept so the next pull resumes
it). Library retention removes the clip's files (analysis and thumbnails, manifest, label, then
the clip) and then its catalog row and label, so an interrupted pass is finished by the next one. Quarantined
files are removed after ``quarantine_days`` but their catalog rows stay, so the same bad clip is
not pulled again.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from inspector.catalog import DONE_STATES, Catalog
from inspector.config import InspectorConfig
from inspector.library import Library
from inspector.partlock import same_file
from shared.flock import try_flock
from shared.naming import InvalidClipId, parse_clip_id

logger = logging.getLogger(__name__)


@dataclass
class LibraryCleanupReport:
    removed_parts: list[str] = field(default_factory=list)
    removed_quarantine: list[str] = field(default_factory=list)
    removed_clips: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    failed: list[str] = field(default_factory=list)


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except FileNotFoundError:
        return 0


def _clip_files(clip: Path) -> list[Path]:
    """Everything that belongs to one stored clip: <id>.* beside it (manifest, analysis,
    thumbnails, label, the explain replay) and an <id>/ folder if the analysis made one; the clip itself last."""
    clip_id = clip.stem
    others = [p for p in clip.parent.glob(f"{clip_id}.*") if p != clip]
    folder = clip.parent / clip_id
    return sorted(others, key=lambda p: p.suffix != ".json") + ([folder] if folder.is_dir() else []) + [clip]


def cleanup_library(cfg: InspectorConfig, *, dry_run: bool = False, now: float | None = None) -> LibraryCleanupReport:
    now = time.time() if now is None else now
    s = cfg.cleanup
    lib = Library(cfg.library)
    report = LibraryCleanupReport()
    for part in sorted((lib.root / "incoming").glob("*/*.part")):
        try:
            fd = os.open(part, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            if not try_flock(fd):
                continue  # a live download
            if not same_file(fd, part):
                continue  # stored (or replaced by a new download) since we opened it: not what we locked
            if now - os.fstat(fd).st_mtime < s.stale_part_hours * 3600:
                continue
            logger.info("removing stale download %s", part)
            if os.fstat(fd).st_nlink == 1:  # more links: a stored clip's leftover .part name frees nothing
                report.freed_bytes += _size(part)
            report.removed_parts.append(part.name)
            if not dry_run:
                part.unlink()
        finally:
            os.close(fd)
    for f in sorted((lib.root / "quarantine").glob("*/*")):
        if f.is_file() and now - f.stat().st_mtime >= s.quarantine_days * 86400:
            logger.info("removing old quarantined file %s", f)
            report.freed_bytes += _size(f)
            report.removed_quarantine.append(f.name)
            if not dry_run:
                f.unlink()
    if s.keep_days > 0 or s.max_usage_gb > 0:
        _retention(lib, cfg, report, dry_run=dry_run, now=now)
    return report


def _retention(lib: Library, cfg: InspectorConfig, report: LibraryCleanupReport, *, dry_run: bool, now: float) -> None:
    s = cfg.cleanup
    catalog = Catalog(lib.catalog_path)
    try:
        rows = [r for r in catalog.rows() if r.state in DONE_STATES and r.local_path]
        clips = []
        for r in rows:
            try:
                started = parse_clip_id(r.clip_id).started
            except InvalidClipId:
                continue
            path = Path(r.local_path or "")
            clips.append((started, r, path, sum(_size(p) for p in _clip_files(path) if p.is_file())))
        clips.sort(key=lambda c: (c[0], c[1].clip_id))
        usage = sum(c[3] for c in clips)
        cutoff = datetime.fromtimestamp(now, tz=UTC) - timedelta(days=s.keep_days)
        cap = s.max_usage_gb * 1024**3
        for started, row, path, nbytes in clips:
            expired = s.keep_days > 0 and started < cutoff
            over = cap > 0 and usage > cap
            if not (expired or over):
                continue
            logger.info("library retention: removing %s (%s)", row.clip_id,
                        "older than keep_days" if expired else "over max_usage_gb")
            if not dry_run:
                try:
                    for p in _clip_files(path):
                        if p.is_dir():
                            shutil.rmtree(p)
                        else:
                            p.unlink(missing_ok=True)
                    catalog.forget(row.watcher, row.clip_id)
                except OSError as e:
                    logger.error("cannot remove %s: %s", row.clip_id, e)
                    report.failed.append(row.clip_id)
                    continue
            usage -= nbytes
            report.freed_bytes += nbytes
            report.removed_clips.append(row.clip_id)
    finally:
        catalog.close()
