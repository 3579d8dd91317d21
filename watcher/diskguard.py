"""DiskGuard: keeps the watcher's disk from filling while it records.

A thread that wakes every ``check_interval_s`` (or at once when the pipeline asks, before a clip
starts) and, when free space is below the floor or the clip folders exceed their cap, runs the
same maintenance as the cleanup command (retention, then salvage). If that cannot make room
(``on_full = "stop_recording"``, or nothing left to remove) it clears ``recording_allowed``: the
pipeline then closes the current clip and starts no new one, and says why in status.json.
Recording resumes by itself once space returns.

Threads: the guard thread alone runs maintenance; the pipeline thread only reads
``recording_allowed`` and calls :meth:`wake`; ``counters.recording_paused`` is a plain string
assignment.
"""

from __future__ import annotations

import logging
import shutil
import threading

from watcher.datadir import DataDir
from watcher.maintenance import maintain
from watcher.retention import RetentionSettings
from watcher.status import Counters
from watcher.storage import usage_bytes

logger = logging.getLogger(__name__)

MB = 1024 * 1024


class DiskGuard(threading.Thread):
    def __init__(self, dirs: DataDir, settings: RetentionSettings, counters: Counters, *, fps: float) -> None:
        super().__init__(name="disk-guard", daemon=True)
        self.dirs, self.settings, self.counters, self.fps = dirs, settings, counters, fps
        self.recording_allowed = threading.Event()
        self.recording_allowed.set()
        self._stop_event = threading.Event()
        self._wake = threading.Event()
        self._salvage_due = threading.Event()
        self.passes = 0

    def below_floor(self) -> bool:
        """Cheap check (one statvfs) for the pipeline thread."""
        try:
            return shutil.disk_usage(self.dirs.root).free < self.settings.min_free_mb * MB
        except OSError:
            return False

    def wake(self) -> None:
        self._wake.set()

    def request_salvage(self) -> None:
        """A clip could not be finished (its temp file is left for salvage): run maintenance soon."""
        self._salvage_due.set()
        self._wake.set()

    def stop(self) -> None:
        self._stop_event.set()
        self._wake.set()
        self.join()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self._wake.wait(self.settings.check_interval_s)
            self._wake.clear()
            if self._stop_event.is_set():
                return
            try:
                self.check()
            except Exception as e:  # the guard must outlive any one failure
                logger.exception("disk guard: %s", e)
                self.counters.error(f"disk guard: {e}")

    def _needs_room(self) -> bool:
        s = self.settings
        if self.below_floor():
            return True
        return s.max_usage_mb > 0 and usage_bytes(self.dirs) > s.max_usage_mb * MB

    def check(self) -> None:
        self.passes += 1
        if not self._needs_room() and not self._salvage_due.is_set():
            if not self.recording_allowed.is_set():
                logger.warning("disk space is back: recording resumes")
                self.counters.recording_paused = None
                self.recording_allowed.set()
            return
        self._salvage_due.clear()
        report = maintain(self.dirs, self.settings, default_fps=self.fps, lock_timeout_s=10.0)
        if report.salvage.failed:
            self._salvage_due.set()  # try again at the next check
        if report.retention.lost_untransferred:
            self.counters.error(f"disk full: removed {len(report.retention.lost_untransferred)} clip(s) "
                                "no inspector had copied")
        short = report.retention.short_bytes
        if short > 0:
            why = (f"disk full: {short / MB:.0f} MB short of min_free_mb={self.settings.min_free_mb:g}"
                   f" (on_full={self.settings.on_full})")
            if self.recording_allowed.is_set():
                logger.error("%s: recording stops until space returns", why)
            self.counters.recording_paused = why
            self.recording_allowed.clear()
        elif not self.recording_allowed.is_set():
            logger.warning("disk space is back: recording resumes")
            self.counters.recording_paused = None
            self.recording_allowed.set()
