"""``python -m inspector run --config FILE``: keep pulling until SIGTERM/SIGINT (then exit 0).

New clips are analyzed by a separate service (a process pool, apart from transfer), so a slow Pi
never holds the analysis up, and the report is kept current; not with --no-analyze.
"""

from __future__ import annotations

import argparse
import logging

from inspector.commands.library import open_library
from inspector.commands.pull import add_analysis_options
from inspector.events import analyzed_batch, events_running
from shared.signals import stop_on_signals

logger = logging.getLogger("inspector")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True)
    add_analysis_options(p)


def run(args: argparse.Namespace) -> int:
    from inspector.fleet import run_forever

    cfg = open_library(args.config)
    stop = stop_on_signals("closing connections and stopping", logger)
    with events_running(cfg) as events:
        if args.no_analyze:
            run_forever(cfg, stop, events=events)
            return 0
        from inspector.analysis.service import AnalysisService

        service = AnalysisService(cfg.library, stop, workers=args.workers or None,
                                  interval_s=max(cfg.settings.poll_interval_s, 60.0), limits=cfg.analysis,
                                  on_batch=analyzed_batch(events, cfg.library) if events is not None else None).start()
        try:
            run_forever(cfg, stop, on_pass=lambda _name, stats: service.kick() if stats.stored else None,
                        events=events)
        finally:
            stop.set()
            service.close()
        return 0
