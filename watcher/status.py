"""status.json: the watcher's health, rewritten atomically every few seconds.

The document is :class:`shared.status_doc.Status` (the inspector reads it too); this module keeps the
counters the pipeline updates and the reporter that writes them, with the machine's facts
(watcher.system_facts) and the clock's synchronization (watcher.clock_sync), through that model.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from shared.atomic import atomic_write_bytes
from shared.manifest import utc_iso
from shared.status_doc import MAX_STATUS_BYTES, InvalidStatus, Status, parse_status
from watcher import system_facts
from watcher.clock_sync import clock_synchronized

__all__ = ["MAX_STATUS_BYTES", "Counters", "InvalidStatus", "Status", "StatusListener", "StatusReporter",
           "parse_status"]

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
    clock_synchronized: bool | None = None  # the kernel's word (watcher.clock_sync); None: unknown
    events_connected: bool | None = None  # the MQTT broker's connection; None: [mqtt] is off
    events_sent: int = 0  # events handed to the broker
    events_dropped: int = 0  # events dropped while the broker was away (the oldest first)
    webhooks_delivered: int = 0  # webhook events a target took (2xx)
    webhooks_failed: int = 0  # webhook events given up (attempts used, refused) or dropped (queue full)
    last_clip_at: str | None = None  # wall clock (UTC ISO) when the last clip was published
    clip_bytes_today: int | None = None  # watcher.wear: None until the data directory's count is read
    clip_bytes_total: int | None = None
    last_frame_wall: float = 0.0  # time.time() of the last frame in (written as last_frame_at)

    def error(self, message: str) -> None:
        self.last_error = message
        self.last_error_at = utc_iso(datetime.now(UTC))


@dataclass
class _Rates:
    mono: float = 0.0
    frames_in: int = 0
    frames_encoded: int = 0
    extra: dict[str, float] = field(default_factory=dict)


class StatusListener(Protocol):
    """Told at each status write (on the pipeline thread): ``before`` may update the counters,
    ``written`` gets the document (watcher.events publishes it as health)."""

    def before(self, counters: Counters) -> None: ...
    def written(self, doc: Status) -> None: ...


class StatusReporter:
    def __init__(self, path: Path, counters: Counters, *, interval_s: float, started_mono: float,
                 listener: StatusListener | None = None, min_free_bytes: int | None = None,
                 clock_synchronized: Callable[[], bool | None] = clock_synchronized) -> None:
        self.path = path
        self.min_free_bytes = min_free_bytes
        self._boot_id = system_facts.boot_id()
        self.listener = listener
        self._clock_synchronized = clock_synchronized
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
        c.clock_synchronized = self._clock_synchronized()
        if self.listener is not None:
            self.listener.before(c)
        try:
            disk = shutil.disk_usage(self.path.parent)
            free, total = disk.free, disk.total
        except OSError:
            free = total = -1
        counts = asdict(c)
        last_frame = counts.pop("last_frame_wall")
        doc = Status(
            updated_at=utc_iso(datetime.now(UTC)),
            pid=os.getpid(),
            uptime_s=round(now_mono - self._started, 1),
            fps_in=round(fps_in, 2),
            fps_out=round(fps_out, 2),
            disk_free_bytes=free,
            disk_total_bytes=total,
            status_interval_s=self.interval_s,
            last_frame_at=utc_iso(datetime.fromtimestamp(last_frame, UTC)) if last_frame else None,
            boot_id=self._boot_id,
            system_uptime_s=system_facts.system_uptime_s(),
            min_free_bytes=self.min_free_bytes,
            device_written_bytes=system_facts.device_written_bytes(self.path.parent),
            **counts,
        )
        try:
            atomic_write_bytes(self.path, doc.to_json())
        except OSError as e:  # a full disk must not stop the watcher; the next write may succeed
            logger.warning("cannot write %s: %s", self.path, e)
        if self.listener is not None:
            self.listener.written(doc)
