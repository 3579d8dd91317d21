"""What the report shows: one :class:`ClipEntry` per analyzed clip, read from the catalog, the
analysis JSON and the manifest beside each clip. Paths are relative to the library root."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from inspector.catalog import Catalog
from inspector.library import Library
from shared.manifest import InvalidManifest, Manifest, parse_manifest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipEntry:
    watcher: str
    clip_id: str
    camera: str
    started: datetime  # local time of the machine building the report
    duration_s: float
    people_peak: int
    motion_s: float
    video: str  # library-relative paths
    thumb: str
    sheet: str
    people_still: str | None
    analysis: dict[str, Any]
    manifest: Manifest

    @property
    def day(self) -> str:
        return self.started.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class LibraryView:
    clips: list[ClipEntry]  # newest first
    waiting: int  # stored or acked, not analyzed yet
    quarantined: list[tuple[str, str, str]]  # (watcher, clip id, reason)
    built_at: datetime


def _time(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()


def load_view(library: Path) -> LibraryView:
    lib = Library(library)
    catalog = Catalog(lib.catalog_path)
    try:
        rows = catalog.analyzed()
        waiting = catalog.count_state("stored") + catalog.count_state("acked")
        quarantined = [(r.watcher, r.clip_id, r.reason or "") for r in catalog.quarantined()]
    finally:
        catalog.close()
    clips = []
    for r in rows:
        entry = _entry(lib, r.watcher, r.clip_id)
        if entry is not None:
            clips.append(entry)
    clips.sort(key=lambda c: (c.started, c.clip_id), reverse=True)
    return LibraryView(clips, waiting, quarantined, datetime.now(timezone.utc).astimezone())


def _entry(lib: Library, watcher: str, clip_id: str) -> ClipEntry | None:
    try:
        clip = lib.final(watcher, clip_id)
        manifest = parse_manifest(clip.with_suffix(".json").read_bytes(), expected_id=clip_id)
        analysis = json.loads(Path(f"{clip.with_suffix('')}.analysis.json").read_bytes())
        stills = analysis["stills"]
        video = analysis["video"]
    except (OSError, ValueError, KeyError, InvalidManifest) as e:
        logger.warning("report: leaving out %s: %s", clip_id, e)
        return None
    rel = clip.parent.relative_to(lib.root)
    people_still = stills.get("people")
    return ClipEntry(
        watcher=watcher, clip_id=clip_id, camera=manifest.camera, started=_time(manifest.started_at),
        duration_s=float(video["duration_s"]), people_peak=int(analysis["people"]["peak"]),
        motion_s=float(analysis["motion"]["active_s"]), video=f"{rel}/{clip.name}", thumb=f"{rel}/{stills['thumb']}",
        sheet=f"{rel}/{stills['sheet']}", people_still=f"{rel}/{people_still}" if people_still else None,
        analysis=analysis, manifest=manifest)
