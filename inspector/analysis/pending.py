"""Analyzing the library's pending clips in a process pool, apart from transfer.

:func:`analyze_pending` asks the catalog for clips that are stored or acked and not analyzed (with
``reanalyze``, also those analyzed by an older ANALYZER_VERSION), analyzes them in a
``ProcessPoolExecutor`` and records each result as it arrives. Only this (the caller's) process
writes the catalog; workers only read their clip and write its results beside it.

Idempotent at every step: a worker writes the stills, then ``<id>.analysis.json`` last; a result
that reached the disk but not the catalog (crash) is picked up without re-analysis next time. A
clip that does not decode or disagrees with its manifest is moved to ``quarantine/<watcher>/``
with a ``.reason.txt`` first and then marked ``quarantined`` with the reason; if a crash comes
between the two, the next run finds it there and finishes the job.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspector.analysis.analyzer import (ANALYZER_VERSION, AnalyzerSettings, ClipRejected, analyze_clip,
                                         artifact_paths)
from inspector.analysis.worker import init_worker
from inspector.catalog import Catalog, ClipRow
from inspector.library import Library

logger = logging.getLogger(__name__)


@dataclass
class AnalysisSummary:
    analyzed: list[str] = field(default_factory=list)
    quarantined: dict[str, str] = field(default_factory=dict)  # clip id -> reason
    failed: dict[str, str] = field(default_factory=dict)  # clip id -> error (left for the next run)
    media_s: float = 0.0
    cpu_s: float = 0.0  # analysis CPU time in the workers (decoding included)
    wall_s: float = 0.0
    workers: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"analyzed": self.analyzed, "quarantined": self.quarantined, "failed": self.failed,
                "media_s": round(self.media_s, 3), "cpu_s": round(self.cpu_s, 3), "wall_s": round(self.wall_s, 3),
                "workers": self.workers}


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def analyze_pending(library: Path, workers: int | None = None, reanalyze: bool = False,
                    settings: AnalyzerSettings | None = None, stop: threading.Event | None = None) -> AnalysisSummary:
    """Analyze every pending clip of the library; return what happened. Setting ``stop`` cancels
    the clips not started yet (those in progress finish and are recorded)."""
    t0 = time.monotonic()
    lib = Library(library)
    lib.create()
    workers = max(1, workers or default_workers())
    summary = AnalysisSummary(workers=workers)
    catalog = Catalog(lib.catalog_path)
    try:
        todo: dict[str, tuple[ClipRow, Path]] = {}
        for row in catalog.clips_to_analyze(ANALYZER_VERSION, reanalyze):
            clip = _clip_path(lib, row)
            if _recover_quarantine(lib, catalog, row, clip, summary):
                continue
            if not reanalyze and _reuse(catalog, row, clip, summary):
                continue
            todo[row.clip_id] = (row, clip)
        if todo:
            logger.info("analyzing %d clip(s) with %d worker(s)", len(todo), workers)
            _run_pool(lib, catalog, todo, workers, settings, summary, stop)
    finally:
        catalog.close()
    summary.wall_s = time.monotonic() - t0
    if summary.analyzed or summary.quarantined or summary.failed:
        logger.info("analysis: %d analyzed (%.1f s of video in %.1f s), %d quarantined, %d failed",
                    len(summary.analyzed), summary.media_s, summary.wall_s, len(summary.quarantined),
                    len(summary.failed))
    return summary


def _run_pool(lib: Library, catalog: Catalog, todo: dict[str, tuple[ClipRow, Path]], workers: int,
              settings: AnalyzerSettings | None, summary: AnalysisSummary, stop: threading.Event | None) -> None:
    # forkserver: workers never inherit the caller's threads (SFTP sessions, locks held mid-fork)
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx,
                             initializer=init_worker) as pool:
        futures: dict[Future[dict[str, Any]], str] = {
            pool.submit(analyze_clip, clip, settings): cid for cid, (_, clip) in todo.items()}
        for fut in as_completed(futures):
            if stop is not None and stop.is_set():
                for f in futures:
                    f.cancel()
            if fut.cancelled():
                continue
            cid = futures[fut]
            row, clip = todo[cid]
            try:
                data = fut.result()
            except ClipRejected as e:
                _quarantine(lib, catalog, row, clip, str(e), summary)
            except BrokenProcessPool as e:
                summary.failed[cid] = f"analysis process died: {e}"
                logger.error("[%s] %s: analysis process died (%s); will retry next run", row.watcher, cid, e)
            except Exception as e:  # an analyzer bug: keep the clip as it is, try again next run
                summary.failed[cid] = f"{type(e).__name__}: {e}"
                logger.error("[%s] %s: analysis failed; will retry next run", row.watcher, cid, exc_info=e)
            else:
                _record(catalog, row, clip, data, summary)


def _clip_path(lib: Library, row: ClipRow) -> Path:
    try:
        return lib.final(row.watcher, row.clip_id)
    except ValueError:
        return Path(row.local_path or "")


def _record(catalog: Catalog, row: ClipRow, clip: Path, data: dict[str, Any], summary: AnalysisSummary) -> None:
    ok = catalog.mark_analyzed(
        row.watcher, row.clip_id, int(data["analyzer_version"]), duration_s=float(data["video"]["duration_s"]),
        people_peak=int(data["people"]["peak"]), motion_peak=float(data["motion"]["peak"]),
        motion_s=float(data["motion"]["active_s"]), analysis_path=str(artifact_paths(clip)["json"]))
    if ok:
        summary.analyzed.append(row.clip_id)
        summary.media_s += float(data["video"]["duration_s"])
        summary.cpu_s += float(data.get("cpu_s", 0.0))
        logger.info("[%s] analyzed %s: %.1f s, motion %.1f s, up to %d people", row.watcher, row.clip_id,
                    data["video"]["duration_s"], data["motion"]["active_s"], data["people"]["peak"])


def _reuse(catalog: Catalog, row: ClipRow, clip: Path, summary: AnalysisSummary) -> bool:
    """A complete analysis of this very clip by this analyzer is on disk (a crash came before the
    catalog heard of it): record it instead of analyzing again."""
    path = artifact_paths(clip)["json"]
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    if data.get("analyzer_version") != ANALYZER_VERSION or data.get("sha256") != row.sha256:
        return False
    _record(catalog, row, clip, data, summary)
    return True


def _quarantine(lib: Library, catalog: Catalog, row: ClipRow, clip: Path, reason: str,
                summary: AnalysisSummary) -> None:
    mpath = clip.with_suffix(".json")
    try:
        raw = mpath.read_bytes()
    except OSError:
        raw = b""
    where = lib.quarantine(row.watcher, row.clip_id, clip if clip.exists() else None, raw, reason)
    for p in (mpath, *artifact_paths(clip).values()):
        p.unlink(missing_ok=True)
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

