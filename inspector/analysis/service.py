"""Keeping analysis and the report current while ``python -m inspector run`` pulls.

:class:`AnalysisService` is one thread that waits for a kick (a watcher's pass stored clips) or
its interval, then runs :func:`analyze_pending` (whose work happens in capped child processes) and
rebuilds the report. Pulling threads only call :meth:`kick`, which never blocks, so slow analysis
never stalls transfer.

Threads: pulling threads set ``_kick`` (an Event); the service thread alone runs analysis and
builds the report; the caller's thread starts it and, after ``stop`` is set, joins it in
:meth:`close` (the clips' processes in progress are killed, within half a second; those clips stay
pending with no try counted).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from inspector.analysis.limits import AnalysisLimits
from inspector.analysis.pending import AnalysisSummary, analyze_pending

logger = logging.getLogger(__name__)


class AnalysisService:
    def __init__(self, library: Path, stop: threading.Event, *, workers: int | None = None,
                 interval_s: float = 300.0, report: bool = True,
                 on_batch: Callable[[AnalysisSummary], None] | None = None,
                 limits: AnalysisLimits | None = None) -> None:
        self.library = library
        self.limits = limits
        self.stop = stop
        self.workers = workers
        self.interval_s = interval_s
        self.report = report
        self.on_batch = on_batch
        self._kick = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="analysis", daemon=False)
        self.batches = 0
        self.last: AnalysisSummary | None = None

    def start(self) -> AnalysisService:
        self._kick.set()  # a first batch at start: clips left over from earlier runs
        self._thread.start()
        return self

    def kick(self) -> None:
        self._kick.set()

    def close(self) -> None:
        """Wait for the service to finish (set ``stop`` first)."""
        self._kick.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self.stop.is_set():
            self._kick.wait(self.interval_s)
            if self.stop.is_set():
                break
            self._kick.clear()
            try:
                self.last = analyze_pending(self.library, self.workers, stop=self.stop, limits=self.limits)
                if self.report and (self.last.analyzed or self.last.quarantined or self.batches == 0):
                    from inspector.report import build_report

                    build_report(self.library)
                self.batches += 1
                if self.on_batch:
                    self.on_batch(self.last)
            except Exception:
                logger.exception("analysis batch failed; retrying at the next kick")
