"""status.json: the watcher's health, rewritten atomically every few seconds."""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from shared.atomic import atomic_write_bytes
from shared.manifest import utc_iso

logger = logging.getLogger(__name__)


@dataclass
class Counters:
    """Updated by the pipeline thread (and, for clips/errors, by the writer thread via the pipeline's
    callbacks: plain int/str assignments, which are atomic in CPython)."""

    frames_in: int = 0
    frames_encoded: int = 0
    frames_dropped: int = 0
    packets_dropped: int = 0
    clips_published: int = 0
    motion: bool = False
    recording: bool = False
    current_clip: str | None = None
    last_clip: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    source: str = ""
    state: str = "starting"
    recording_paused: str | None = None  # why recording is stopped (disk full), or None

    def error(self, message: str) -> None:
        self.last_error = message
        self.last_error_at = utc_iso(datetime.now(UTC))


@dataclass
class _Rates:
    mono: float = 0.0
    frames_in: int = 0
    frames_encoded: int = 0
    extra: dict[str, float] = field(default_factory=dict)


class StatusReporter:
    def __init__(self, path: Path, counters: Counters, *, interval_s: float, started_mono: float) -> None:
        self.path = path
        self.counters = counters
        self.interval_s = interval_s
        self._started = started_mono
        self._last = _Rates(mono=started_mono)
        self._next_due = started_mono

    def maybe_write(self, now_mono: float) -> bool:
        if now_mono < self._next_due:
            return False
        self.write(now_mono)
        return True

    def write(self, now_mono: float) -> None:
        c = self.counters
        dt = max(now_mono - self._last.mono, 1e-6)
        fps_in = (c.frames_in - self._last.frames_in) / dt
        fps_out = (c.frames_encoded - self._last.frames_encoded) / dt
        self._last = _Rates(now_mono, c.frames_in, c.frames_encoded)
        self._next_due = now_mono + self.interval_s
        try:
            disk = shutil.disk_usage(self.path.parent)
            free, total = disk.free, disk.total
        except OSError:
            free = total = -1
        doc = {
            "updated_at": utc_iso(datetime.now(UTC)),
            "pid": os.getpid(),
            "uptime_s": round(now_mono - self._started, 1),
            "fps_in": round(fps_in, 2),
            "fps_out": round(fps_out, 2),
            "disk_free_bytes": free,
            "disk_total_bytes": total,
            **asdict(c),
        }
        try:
            atomic_write_bytes(self.path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
        except OSError as e:  # a full disk must not stop the watcher; the next write may succeed
            logger.warning("cannot write %s: %s", self.path, e)
