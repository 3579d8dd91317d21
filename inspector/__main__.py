"""``python -m inspector``: pull finished clips from watchers.

    python -m inspector pull   --config FILE     pull everything available once; exit 0 when done,
                                                 1 (with a summary) if a watcher's pass failed,
                                                 75 if SIGTERM/SIGINT stopped it with work left
    python -m inspector run    --config FILE     keep polling until SIGTERM (then exit 0)
    python -m inspector status --config FILE [--json]
    python -m inspector add-watcher NAME HOST [--port N] [--user U] [--remote-dir DIR] [--config FILE]
                                  [--fingerprint SHA256:...]    pin a Pi's host key, add its [[watcher]] table
    python -m inspector cleanup --config FILE [--dry-run] [--json]
                                                 stale downloads, old quarantine, library retention
    python -m inspector analyze VIDEO... [--json] [--out DIR]   analyze any video file, print a summary
    python -m inspector analyze --config FILE [--reanalyze]     the library's pending clips, then the report
    python -m inspector report --config FILE                    rebuild <library>/report/index.html
    python -m inspector catalog check|rebuild --config FILE     is the catalog sound; restore it from the files

pull and run also analyze new clips (process pool, apart from transfer) and keep the report
current, unless given --no-analyze.

SIGTERM or SIGINT ends pull and run within a few seconds whatever the remotes do: every open
connection is cut, the workers are joined with a bound, and pull prints its summary (downloads
in progress keep their .part, resumed by the next pull). pull's analysis and report run only
when it was not stopped.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any

from shared.errors import AppError
from shared.logsetup import setup_logging
from shared.signals import stop_on_signals

if TYPE_CHECKING:
    from inspector.config import InspectorConfig

logger = logging.getLogger("inspector")


class _ProgressBar:
    """One line on a terminal, rewritten in place; nothing when stderr is not a terminal."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, watcher: str, clip_id: str, done: int, total: int) -> None:
        pct = 100 * done // max(total, 1)
        bar = "#" * (pct // 5)
        with self._lock:
            sys.stderr.write(f"\r[{watcher}] {clip_id} [{bar:<20}] {pct:3d}% ")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def _summary_text(summary: dict[str, Any]) -> str:
    lines = ["state counts: " + (", ".join(f"{k}={v}" for k, v in sorted(summary["states"].items())) or "none")]
    for name, d in sorted(summary["watchers"].items()):
        states = ", ".join(f"{k}={v}" for k, v in sorted(d.get("states", {}).items())) or "no clips"
        line = f"  {name}: {states}"
        if d.get("skipped"):
            line += f"; skipped {d['skipped']}"
        if d.get("last_error"):
            current = (d.get("last_error_at") or 0) >= (d.get("last_ok") or 0)
            line += f"; {'FAILING' if current else 'recovered; last error'}: {d['last_error']}"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["analyze"]:
        from inspector.analysis.cli import main as analyze_main

        return analyze_main(argv[1:])
    if argv[:1] == ["report"]:
        from inspector.report.cli import main as report_main

        return report_main(argv[1:])
    if argv[:1] == ["catalog"]:  # catalog check / rebuild: inspector/catalog_cli.py
        from inspector.catalog_cli import main as catalog_main

        return catalog_main(argv[1:])
    p = argparse.ArgumentParser(prog="python -m inspector", description="Pull and inspect clips from watchers.")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("pull", "run", "status", "cleanup"):
        s = sub.add_parser(name)
        s.add_argument("--config", required=True)
        s.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
        if name in ("status", "cleanup"):
            s.add_argument("--json", action="store_true")
        if name == "cleanup":
            s.add_argument("--dry-run", action="store_true")
        if name == "pull":
            s.add_argument("--no-progress", action="store_true")
        if name in ("pull", "run"):
            s.add_argument("--no-analyze", action="store_true", help="transfer only: no analysis, no report")
            s.add_argument("--workers", type=int, default=0, help="analysis processes (default: one per core)")
    sub.add_parser("analyze", help="analyze video files or the library's pending clips (analyze --help)")
    sub.add_parser("report", help="rebuild the library's HTML report (report --help)")
    sub.add_parser("catalog", help="check the catalog, or rebuild it from the library's files (catalog --help)")
    from inspector.add_watcher import add_arguments as add_watcher_arguments

    add_watcher_arguments(sub.add_parser("add-watcher", help="trust a Pi's host key and add it to the config"))
    args = p.parse_args(argv)
    if args.command == "add-watcher":
        from inspector.add_watcher import run as add_watcher

        return add_watcher(args)
    setup_logging(args.log_level)
    from inspector.catalog import Catalog
    from inspector.config import load_config

    try:
        cfg = load_config(args.config)
        from inspector.catalog_guard import check_library

        check_library(cfg.library)  # a damaged or lost catalog: one clear error, not a traceback
    except AppError as e:
        logger.error("%s", e)
        return e.exit_code

    if args.command == "status":
        if not (cfg.library / "catalog.sqlite3").exists():
            summary: dict[str, Any] = {"states": {}, "watchers": {}}
        else:
            cat = Catalog(cfg.library / "catalog.sqlite3")
            summary = cat.summary()
            cat.close()
        print(json.dumps(summary, indent=2, sort_keys=True) if args.json else _summary_text(summary))
        return 0

    if args.command == "cleanup":
        from dataclasses import asdict

        from inspector.cleanup import cleanup_library

        rep = cleanup_library(cfg, dry_run=args.dry_run)
        if args.json:
            print(json.dumps(asdict(rep) | {"dry_run": args.dry_run}, sort_keys=True))
        else:
            print(f"removed {len(rep.removed_parts)} stale download(s), {len(rep.removed_quarantine)} quarantined "
                  f"file(s), {len(rep.removed_clips)} clip(s); freed {rep.freed_bytes} bytes"
                  + (" (dry run: nothing changed)" if args.dry_run else ""))
        return 1 if rep.failed else 0

    stop = stop_on_signals("closing connections and stopping", logger)
    if args.command == "run":
        return _run(cfg, args, stop)
    return _pull(cfg, args, stop)


EX_TEMPFAIL = 75  # pull stopped by a signal with work left: run it again


def _run(cfg: InspectorConfig, args: argparse.Namespace, stop: threading.Event) -> int:
    """Pull until stopped; analysis is a separate service, so a slow Pi never holds it up."""
    from inspector.fleet import run_forever

    if args.no_analyze:
        run_forever(cfg, stop)
        return 0
    from inspector.analysis.service import AnalysisService

    service = AnalysisService(cfg.library, stop, workers=args.workers or None,
                              interval_s=max(cfg.settings.poll_interval_s, 60.0), limits=cfg.analysis).start()
    try:
        run_forever(cfg, stop, on_pass=lambda _name, stats: service.kick() if stats.stored else None)
    finally:
        stop.set()
        service.close()
    return 0


def _pull(cfg: InspectorConfig, args: argparse.Namespace, stop: threading.Event) -> int:
    """One deadline-bounded pass over every watcher, then analysis and the report, then the summary.
    The summary is printed whatever happened; the exit code says what did (module doc)."""
    from inspector.catalog import Catalog
    from inspector.fleet import pull_all

    progress = _ProgressBar() if sys.stderr.isatty() and not args.no_progress else None
    results = pull_all(cfg, progress=progress, stop=stop)
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
            print(_summary_text(cat.summary()))
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


if __name__ == "__main__":
    sys.exit(main())
