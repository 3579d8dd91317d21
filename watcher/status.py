"""status.json: the watcher's health, rewritten atomically every few seconds.

The document is the :class:`Status` model: the writer builds it through the model (so its shape is
checked and typed), and :func:`parse_status` reads one back totally, a Status or :class:`InvalidStatus`
with a reason, for any bytes (the inspector reads Pis' status.json). Unknown keys are dropped, as in
the manifest: a newer watcher may add a counter without cutting off an older reader.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal, Protocol

from pydantic import ConfigDict, Field

from shared.atomic import atomic_write_bytes
from shared.bounded_json import RejectedJSON, load_json
from shared.manifest import UtcTime, utc_iso
from shared.validation import Problem, Strict, validate
from watcher.clock_sync import clock_synchronized

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

    def error(self, message: str) -> None:
        self.last_error = message
        self.last_error_at = utc_iso(datetime.now(UTC))


MAX_STATUS_BYTES = 64 * 1024
Count = Annotated[int, Field(ge=0)]


class InvalidStatus(ValueError):
    """Bytes that are not a status.json this reader accepts; the message says why."""


class Status(Strict):
    """status.json: the process, its rates, its data disk and the :class:`Counters`."""

    model_config = ConfigDict(extra="ignore")  # a newer watcher's extra keys (see the module docstring)

    updated_at: UtcTime
    pid: int = Field(ge=1)
    uptime_s: float = Field(ge=0.0)
    fps_in: float = Field(ge=0.0)
    fps_out: float = Field(ge=0.0)
    disk_free_bytes: int = Field(ge=-1)  # -1: the data disk could not be read
    disk_total_bytes: int = Field(ge=-1)
    frames_in: Count
    frames_encoded: Count
    frames_dropped: Count
    packets_dropped: Count
    clips_published: Count
    motion: bool
    recording: bool
    current_clip: str | None
    last_clip: str | None
    last_error: str | None
    last_error_at: UtcTime | None
    source: str
    state: Literal["starting", "running", "stopped"]
    recording_paused: str | None
    # added with MQTT (issue 13): absent from older documents
    clock_synchronized: bool | None = None
    events_connected: bool | None = None
    events_sent: Count = 0
    events_dropped: Count = 0
    webhooks_delivered: Count = 0
    webhooks_failed: Count = 0

    def to_json(self) -> bytes:
        return (json.dumps(self.model_dump(), indent=2, sort_keys=True) + "\n").encode()


def parse_status(raw: bytes) -> Status:
    """A status.json's bytes as a :class:`Status`, or :class:`InvalidStatus` with the reason (never another
    exception: the size is capped and the JSON bounded by :mod:`shared.bounded_json`)."""
    try:
        return validate(Status, load_json(raw, max_bytes=MAX_STATUS_BYTES))
    except (RejectedJSON, Problem) as e:
        raise InvalidStatus(str(e).encode("ascii", "backslashreplace").decode("ascii")) from None


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
                 listener: StatusListener | None = None,
                 clock_synchronized: Callable[[], bool | None] = clock_synchronized) -> None:
        self.path = path
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
        doc = Status(
            updated_at=utc_iso(datetime.now(UTC)),
            pid=os.getpid(),
            uptime_s=round(now_mono - self._started, 1),
            fps_in=round(fps_in, 2),
            fps_out=round(fps_out, 2),
            disk_free_bytes=free,
            disk_total_bytes=total,
            **asdict(c),
        )
        try:
            atomic_write_bytes(self.path, doc.to_json())
        except OSError as e:  # a full disk must not stop the watcher; the next write may succeed
            logger.warning("cannot write %s: %s", self.path, e)
        if self.listener is not None:
            self.listener.written(doc)
