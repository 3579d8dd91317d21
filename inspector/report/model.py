"""What the report shows, read from the catalog and the files beside each clip. Paths are relative
to the library root.

Every analyzed clip becomes either a :class:`ClipEntry` (everything needed for its card and page,
checked) or a :class:`ProblemEntry` (watcher, id and what is wrong): a clip whose manifest no
longer parses, whose start time cannot be shown (valid ISO 8601 but out of range, e.g. year 1),
whose analysis is missing, garbled, oversized or absurd, or whose file is gone. One bad clip is
listed as such and never breaks the index or another clip's page. A missing still is not a
problem: the card and page show what they have and say which still is missing. A clip's label
(real / false alarm, a note) comes from the catalog's labels table (:mod:`inspector.labels`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inspector.analysis.result import AnalysisResult, BadAnalysis, read_analysis
from inspector.catalog import Catalog
from inspector.fleet_health import fleet_view
from inspector.labels import LABELS, Label
from inspector.library import Library
from inspector.report.tune_page import TuneResult, load_results
from shared.manifest import InvalidManifest, Manifest, read_manifest
from shared.naming import InvalidClipId, parse_clip_id

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
    thumb: str | None  # None: the still is missing (said in ``notes``)
    sheet: str | None
    people_still: str | None
    analysis: AnalysisResult
    manifest: Manifest
    notes: tuple[str, ...] = ()
    explain: str | None = None  # the annotated replay (python -m watcher explain) beside the clip, if made
    label: Label | None = None  # the user's verdict (python -m inspector label), if any

    @property
    def label_key(self) -> str:
        """What the index's label filter matches: one of LABELS, or ``none`` when unlabelled."""
        return self.label.label if self.label is not None and self.label.label in LABELS else "none"

    @property
    def day(self) -> str:
        return self.started.strftime("%Y-%m-%d")

    @property
    def page(self) -> str:
        """The clip's page, relative to the report root: one folder per watcher, since two
        watchers can hold the same clip id."""
        return page_name(self.watcher, self.clip_id)


@dataclass(frozen=True)
class ProblemEntry:
    watcher: str
    clip_id: str
    camera: str
    problem: str
    video: str | None  # library-relative, when the clip file is there


@dataclass(frozen=True)
class LibraryView:
    clips: list[ClipEntry]  # newest first
    problems: list[ProblemEntry]  # analyzed clips that cannot be shown, and why
    waiting: int  # stored or acked, not analyzed yet
    quarantined: list[tuple[str, str, str]]  # (watcher, clip id, reason)
    built_at: datetime
    fleet: dict[str, dict[str, Any]] = field(default_factory=dict)  # inspector.fleet_health.fleet_view
    tunes: list[TuneResult] = field(default_factory=list)  # python -m inspector tune's results (.tune_page)


def page_name(watcher: str, clip_id: str) -> str:
    return f"clips/{watcher}/{clip_id}.html"


class _Unshowable(Exception):
    pass


def local_time(iso: str) -> datetime:
    """A manifest's UTC time in the local zone; _Unshowable if Python cannot represent it here
    (year 1 moved west, year 9999 moved east, offsets that overflow)."""
    try:
        return datetime.fromisoformat(iso).astimezone()
    except (ValueError, OverflowError, OSError) as e:
        raise _Unshowable(f"start time {iso[:40]!r} cannot be shown: {e}") from None


def load_view(library: Path) -> LibraryView:
    lib = Library(library)
    catalog = Catalog(lib.catalog_path)
    try:
        rows = catalog.analyzed()
        labels = catalog.labels()
        waiting = catalog.count_state("stored") + catalog.count_state("acked")
        quarantined = [(r.watcher, r.clip_id, r.reason or "") for r in catalog.quarantined()]
        known = catalog.summary()["watchers"]
        assert isinstance(known, dict)
        fleet = fleet_view(catalog, sorted(set(known) | set(catalog.health())))
    finally:
        catalog.close()
    clips: list[ClipEntry] = []
    problems: list[ProblemEntry] = []
    for r in rows:
        item = entry(lib, r.watcher, r.clip_id)
        if isinstance(item, ClipEntry):
            item = replace(item, label=labels.get((r.watcher, r.clip_id)))
        (clips if isinstance(item, ClipEntry) else problems).append(item)  # type: ignore[arg-type]
    clips.sort(key=lambda c: (c.started, c.clip_id, c.watcher), reverse=True)
    return LibraryView(clips, problems, waiting, quarantined, datetime.now(UTC).astimezone(), fleet,
                       load_results(library))


def entry(lib: Library, watcher: str, clip_id: str) -> ClipEntry | ProblemEntry:
    """The clip's entry, or what is wrong with it. Never raises for a bad clip."""
    try:
        camera = parse_clip_id(clip_id).camera
    except InvalidClipId:
        camera = "?"
    video = None
    try:
        clip = lib.final(watcher, clip_id)
        rel = clip.parent.relative_to(lib.root)
        video = f"{rel}/{clip.name}" if clip.is_file() else None
        return _entry(lib, watcher, clip_id, clip, rel, video)
    except (_Unshowable, BadAnalysis, InvalidManifest, InvalidClipId) as e:
        problem = str(e)
    except ValueError as e:  # Library.final: a watcher name or clip id that is not ours
        problem = str(e)
    except Exception as e:  # a bug in reading one clip must still not cost the others their report
        logger.exception("report: %s/%s cannot be shown", watcher, clip_id)
        problem = f"cannot be read: {type(e).__name__}: {e}"
    logger.warning("report: listing %s/%s as a problem: %s", watcher, clip_id, problem)
    return ProblemEntry(watcher, clip_id, camera, problem[:500], video)


def _entry(lib: Library, watcher: str, clip_id: str, clip: Path, rel: Path, video: str | None) -> ClipEntry:
    if video is None:
        raise _Unshowable("the clip file is missing")
    try:
        manifest = read_manifest(clip.with_suffix(".json"), expected_id=clip_id)
    except OSError as e:
        raise _Unshowable(f"its manifest cannot be read: {e.strerror or e}") from None
    except (InvalidManifest, ValueError) as e:
        raise _Unshowable(f"its manifest no longer parses: {e}") from None
    started = local_time(manifest.started_at)
    a = read_analysis(Path(f"{clip.with_suffix('')}.analysis.json"))
    if a.clip_id is not None and a.clip_id != clip_id:
        raise BadAnalysis(f"the analysis is of another clip ({a.clip_id[:80]})")
    notes = []

    def still(name: str | None, what: str) -> str | None:
        if name is None:
            return None
        if not (clip.parent / name).is_file():
            notes.append(f"{what} is missing")
            return None
        return f"{rel}/{name}"

    thumb, sheet = still(a.stills.thumb, "thumbnail"), still(a.stills.sheet, "contact sheet")
    explained = clip.with_name(f"{clip.stem}.explain.mp4")  # python -m watcher explain's default output
    if a.stills.thumb is None:
        notes.append("no thumbnail")
    return ClipEntry(
        watcher=watcher, clip_id=clip_id, camera=manifest.camera, started=started,
        duration_s=a.video.duration_s, people_peak=a.people.peak, motion_s=a.motion.active_s, video=video,
        thumb=thumb, sheet=sheet, people_still=still(a.stills.people, "people still"), analysis=a, manifest=manifest,
        notes=tuple(notes), explain=f"{rel}/{explained.name}" if explained.is_file() else None)
