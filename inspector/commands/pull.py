"""``python -m inspector pull --config FILE``: pull everything available once, analyze it, update the report.

Exit 0 when done, 1 (with a summary) if a watcher's pass, the analysis or the report failed, 75 if
SIGTERM/SIGINT stopped it with work left. The summary is printed whatever happened; the analysis
and the report run only when it was not stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading

from inspector.commands.library import open_library
from inspector.commands.status import summary_text
from inspector.config import InspectorConfig
from inspector.events import InspectorEvents, analyzed_batch, events_running
from inspector.progress_line import ProgressLine
from shared.signals import stop_on_signals

logger = logging.getLogger("inspector")

EX_TEMPFAIL = 75  # pull stopped by a signal with work left: run it again


def add_analysis_options(p: argparse.ArgumentParser) -> None:
    """pull's and run's: whether and with how many processes new clips are analyzed."""
    p.add_argument("--no-analyze", action="store_true", help="transfer only: no analysis, no report")
    p.add_argument("--workers", type=int, default=0, help="analysis processes (default: one per core)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True)
    p.add_argument("--no-progress", action="store_true")
    add_analysis_options(p)


def run(args: argparse.Namespace) -> int:
    """One deadline-bounded pass over every watcher, then analysis and the report, then the summary."""
    cfg = open_library(args.config)
    stop = stop_on_signals("closing connections and stopping", logger)
    with events_running(cfg) as events:
        return _pull(args, cfg, stop, events)


def _pull(args: argparse.Namespace, cfg: InspectorConfig, stop: threading.Event, events: InspectorEvents | None) -> int:
    from inspector.catalog import Catalog
    from inspector.fleet import pull_all

    progress = ProgressLine(sys.stderr) if sys.stderr.isatty() and not args.no_progress else None
    with contextlib.ExitStack() as on_terminal:
        if progress is not None:
            on_terminal.enter_context(progress.redirect_logging())
            on_terminal.callback(progress.end)
        results = pull_all(cfg, progress=progress, stop=stop, events=events)
    for r in results:
        for s in r.stats:
            print(f"{r.name}: stored {len(s.stored)}, acknowledged {len(s.acked)}, quarantined "
                  f"{len(s.quarantined)}, skipped {s.skipped_count}, {s.bytes_transferred} bytes")
        if r.error:
            print(f"{r.name}: FAILED: {r.error}")
        elif r.interrupted:
            print(f"{r.name}: interrupted (downloads in progress resume on the next pull)")
    analysis_failed = False
    if not args.no_analyze and not stop.is_set():
        from inspector.analysis.pending import analyze_pending
        from inspector.report import build_report

        try:
            summary = analyze_pending(cfg.library, args.workers or None, stop=stop, limits=cfg.analysis)
            if events is not None:
                analyzed_batch(events, cfg.library)(summary)
            print(f"analysis: analyzed {len(summary.analyzed)}, quarantined {len(summary.quarantined)}, "
                  f"failed {len(summary.failed)} ({summary.media_s:.1f} s of video in {summary.wall_s:.1f} s)")
            print(f"report: {build_report(cfg.library)}")
        except Exception as e:  # the transfer summary below still gets printed
            logger.exception("analysis or report failed")
            print(f"analysis: FAILED: {type(e).__name__}: {e}")
            analysis_failed = True
    try:
        cat = Catalog(cfg.library / "catalog.sqlite3")
        try:
            print(summary_text(cat.summary()))
        finally:
            cat.close()
    except Exception as e:  # the per-watcher lines above are printed already
        logger.error("cannot read the catalog for the summary: %s", e)
        return 1
    if analysis_failed or any(r.error for r in results):
        return 1
    if stop.is_set() or any(r.interrupted for r in results):
        logger.info("stopped before the end: exit %d (run pull again to finish)", EX_TEMPFAIL)
        return EX_TEMPFAIL
    return 0
