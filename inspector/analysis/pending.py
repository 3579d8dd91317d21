"""Analyzing the library's pending clips, each in a capped process of its own, apart from transfer.

:func:`analyze_pending` asks the catalog for clips that are stored or acked and not analyzed (with
``reanalyze``, also those analyzed by an older ANALYZER_VERSION), analyzes them in child processes
(:mod:`.runner`, a few at a time) and records each result as it arrives. Only this (the caller's)
process writes the catalog; children only read their clip and write its results beside it.

Each clip's process is capped (CPU time, memory: :func:`.limits.caps_for`, from what the clip's
manifest declares) and its decoding is checked against the limits and the manifest as it goes.
How a clip ends:

- analyzed: recorded in the catalog;
- rejected (does not decode, disagrees with its manifest, over a limit): moved to
  ``quarantine/<watcher>/`` with a ``.reason.txt`` first, then marked ``quarantined`` with the reason;
  if a crash comes between the two, the next run finds it there and finishes the job;
- failed (its process died: killed by a cap, crashed in a decoder, out of memory): a try is counted
  in the catalog (``attempts``, the reason in ``reason``) and the clip is left for the next batch;
  after MAX_ANALYSIS_TRIES it is quarantined with the last reason. The other clips carry on.
- stopped (``stop`` was set): left as it is, no try counted.

Idempotent at every step: a child writes the stills, then ``<id>.analysis.json`` last; a result
that reached the disk but not the catalog (crash) is picked up without re-analysis next time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspector.analysis.analyzer import ANALYZER_VERSION, AnalyzerSettings, artifact_paths
from inspector.analysis.child import Job
from inspector.analysis.limits import AnalysisLimits, Caps, caps_for, manifest_problem
from inspector.analysis.result import AnalysisResult, BadAnalysis, read_analysis
from inspector.analysis.runner import ClipJob, ClipRunner, Outcome
from inspector.catalog import Catalog, ClipRow
from inspector.labels import label_path
from inspector.library import Library
from shared.atomic import fsync_dir, temp_files_of
from shared.manifest import InvalidManifest, parse_manifest

logger = logging.getLogger(__name__)

MAX_ANALYSIS_TRIES = 3  # a clip whose process dies this many times is quarantined


@dataclass
class AnalysisSummary:
    analyzed: list[str] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)  # clip id -> reason
    failed: dict[str, str] = field(default_factory=dict)  # clip id -> error (left for the next run)
    usage: dict[str, dict[str, float]] = field(default_factory=dict)  # clip id -> its process's pid, cpu_s, maxrss_mb
    media_s: float = 0.0
    cpu_s: float = 0.0  # CPU time of the clips' processes (start-up and decoding included)
    wall_s: float = 0.0
    workers: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"analyzed": self.analyzed, "quarantined": self.quarantined, "failed": self.failed,
                "media_s": round(self.media_s, 3), "cpu_s": round(self.cpu_s, 3), "wall_s": round(self.wall_s, 3),
                "workers": self.workers, "usage": self.usage}


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def analyze_pending(library: Path, workers: int | None = None, reanalyze: bool = False,
                    settings: AnalyzerSettings | None = None, stop: threading.Event | None = None,
                    limits: AnalysisLimits | None = None) -> AnalysisSummary:
    """Analyze every pending clip of the library; return what happened. Setting ``stop`` kills the
    clips' processes and starts no more (those clips stay pending, with no try counted)."""
    limits = limits or AnalysisLimits()
    t0 = time.monotonic()
    lib = Library(library)
    lib.create()
    workers = max(1, workers or default_workers())
    summary = AnalysisSummary(workers=workers)
    catalog = Catalog(lib.catalog_path)
    try:
        todo: dict[tuple[str, str], tuple[ClipRow, Path]] = {}
        for row in catalog.clips_to_analyze(ANALYZER_VERSION, reanalyze):
            clip = _clip_path(lib, row)
            if _recover_quarantine(lib, catalog, row, clip, summary):
                continue
            if not reanalyze and _reuse(catalog, row, clip, summary):
                continue
            todo[(row.watcher, row.clip_id)] = (row, clip)
        if todo:
            logger.info("analyzing %d clip(s) with %d worker(s)", len(todo), workers)
            _run_children(lib, catalog, todo, workers, settings, limits, summary, stop)
    finally:
        catalog.close()
    summary.wall_s = time.monotonic() - t0
    if summary.analyzed or summary.quarantined or summary.failed:
        logger.info("analysis: %d analyzed (%.1f s of video in %.1f s), %d quarantined, %d failed",
                    len(summary.analyzed), summary.media_s, summary.wall_s, len(summary.quarantined),
                    len(summary.failed))
    return summary


def _run_children(lib: Library, catalog: Catalog, todo: dict[tuple[str, str], tuple[ClipRow, Path]], workers: int,
                  settings: AnalyzerSettings | None, limits: AnalysisLimits, summary: AnalysisSummary,
                  stop: threading.Event | None) -> None:
    jobs = [ClipJob(key, Job(str(clip), settings, limits), _caps(clip, limits)) for key, (_, clip) in todo.items()]

    def on_done(cj: ClipJob, out: Outcome) -> None:
        row, clip = todo[cj.key]
        summary.usage[row.clip_id] = dict(out.usage(), **cj.caps.to_json())
        summary.cpu_s += out.cpu_s
        if out.kind == "analyzed":
            assert out.data is not None
            _record(catalog, row, clip, out.data, summary)
        elif out.kind == "rejected":
            _quarantine(lib, catalog, row, clip, out.reason or "rejected", summary)
        elif out.kind == "failed":
            _remove_temp_files(clip, out.pid)
            _failed(lib, catalog, row, clip, out.reason or "failed", summary)
        else:
            _remove_temp_files(clip, out.pid)
            logger.info("[%s] %s: analysis stopped; left for the next run", row.watcher, row.clip_id)

    ClipRunner(min(workers, len(jobs))).run(jobs, on_done, stop)


def _caps(clip: Path, limits: AnalysisLimits) -> Caps:
    """The caps for a clip, from what its manifest declares. A manifest that does not parse or is
    over the limits gets the largest caps: its process refuses it at once, with the reason."""
    try:
        m = parse_manifest(clip.with_suffix(".json").read_bytes(), expected_id=clip.stem)
    except (OSError, InvalidManifest):
        return caps_for(None, limits)
    return caps_for(None if manifest_problem(m, limits) else m, limits)


def _failed(lib: Library, catalog: Catalog, row: ClipRow, clip: Path, reason: str, summary: AnalysisSummary) -> None:
    """The clip's process died or ran out of a cap: count a try; quarantine after MAX_ANALYSIS_TRIES."""
    tries = catalog.count_attempt(row.watcher, row.clip_id, f"analysis failed: {reason}")
    if tries >= MAX_ANALYSIS_TRIES:
        _quarantine(lib, catalog, row, clip, f"analysis failed {tries} times: {reason}", summary)
        return
    summary.failed[row.clip_id] = reason
    logger.error("[%s] %s: %s (try %d of %d; will retry next run)", row.watcher, row.clip_id, reason, tries,
                 MAX_ANALYSIS_TRIES)


def _remove_temp_files(clip: Path, pid: int) -> None:
    """A killed process may leave the temp files of its atomic writes (``.<name>.<pid>.<random>.tmp``)."""
    for p in artifact_paths(clip).values():
        for tmp in temp_files_of(p, pid):
            tmp.unlink(missing_ok=True)


def _clip_path(lib: Library, row: ClipRow) -> Path:
    try:
        return lib.final(row.watcher, row.clip_id)
    except ValueError:
        return Path(row.local_path or "")


def _record(catalog: Catalog, row: ClipRow, clip: Path, a: AnalysisResult, summary: AnalysisSummary) -> None:
    ok = catalog.mark_analyzed(
        row.watcher, row.clip_id, a.analyzer_version, duration_s=a.video.duration_s, people_peak=a.people.peak,
        motion_peak=a.motion.peak, motion_s=a.motion.active_s, analysis_path=str(artifact_paths(clip)["json"]))
    if ok:
        summary.analyzed.append(row.clip_id)
        summary.media_s += a.video.duration_s
        logger.info("[%s] analyzed %s: %.1f s, motion %.1f s, up to %d people", row.watcher, row.clip_id,
                    a.video.duration_s, a.motion.active_s, a.people.peak)


def _reuse(catalog: Catalog, row: ClipRow, clip: Path, summary: AnalysisSummary) -> bool:
    """A complete analysis of this very clip by this analyzer is on disk (a crash came before the
    catalog heard of it): record it instead of analyzing again."""
    try:
        a = read_analysis(artifact_paths(clip)["json"])
    except BadAnalysis:
        return False
    if a.analyzer_version != ANALYZER_VERSION or a.sha256 != row.sha256:
        return False
    _record(catalog, row, clip, a, summary)
    return True


def _quarantine(lib: Library, catalog: Catalog, row: ClipRow, clip: Path, reason: str,
                summary: AnalysisSummary) -> None:
    mpath = clip.with_suffix(".json")
    try:
        raw = mpath.read_bytes()
    except OSError:
        raw = b""
    where = lib.quarantine(row.watcher, row.clip_id, clip if clip.exists() else None, raw, reason)
    # moved: the copy in quarantine is durable, so the library's is removed (a label goes with its clip)
    for p in (clip, mpath, label_path(clip), *artifact_paths(clip).values()):
        p.unlink(missing_ok=True)
    fsync_dir(clip.parent)
    catalog.set_label(row.watcher, row.clip_id, None)
    catalog.mark_quarantined(row.watcher, row.clip_id, reason, str(where))
    summary.quarantined[row.clip_id] = reason
    logger.error("[%s] quarantined %s: %s", row.watcher, row.clip_id, reason)


def _recover_quarantine(lib: Library, catalog: Catalog, row: ClipRow, clip: Path,
                        summary: AnalysisSummary) -> bool:
    """The clip was moved to quarantine but the catalog was not told (crash in between)."""
    qdir = lib.root / "quarantine" / row.watcher
    reason_file = qdir / f"{row.clip_id}.reason.txt"
    if clip.exists() or not reason_file.exists():
        return False
    reason = reason_file.read_text(errors="replace").strip()
    catalog.mark_quarantined(row.watcher, row.clip_id, reason, str(qdir / f"{row.clip_id}.mp4"))
    summary.quarantined[row.clip_id] = reason
    return True

