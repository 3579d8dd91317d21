"""status.json, the watcher's health document: its model, and a total reader for it.

The watcher writes it (watcher/status.py builds it through this model, so its shape is checked and
typed); the inspector reads Pis' status.json (fleet health) with :func:`parse_status`: a Status or
:class:`InvalidStatus` with a reason, for any bytes (size-capped, bounded JSON, schema-checked, like a
manifest). Unknown keys are dropped: a newer watcher may add a counter without cutting off an older
reader; keys added later have defaults, so an older watcher's document still reads.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from shared.bounded_json import RejectedJSON, load_json
from shared.manifest import UtcTime
from shared.validation import Problem, Strict, validate

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
    # added for the inspector's fleet health (issue 14): absent from older documents
    status_interval_s: float | None = Field(default=None, gt=0.0, le=86400.0)
    last_frame_at: UtcTime | None = None  # wall clock of the last frame in
    last_clip_at: UtcTime | None = None  # wall clock when the last clip was published
    boot_id: str | None = Field(default=None, max_length=64)  # /proc/sys/kernel/random/boot_id
    system_uptime_s: float | None = Field(default=None, ge=0.0)
    min_free_bytes: int | None = Field(default=None, ge=0)  # the retention floor ([retention] min_free_mb)
    clip_bytes_today: Count | None = None  # clip bytes this watcher published today (UTC), since install
    clip_bytes_total: Count | None = None
    device_written_bytes: Count | None = None  # the data disk's bytes written since boot (/proc/diskstats)

    def to_json(self) -> bytes:
        return (json.dumps(self.model_dump(), indent=2, sort_keys=True) + "\n").encode()


def parse_status(raw: bytes) -> Status:
    """A status.json's bytes as a :class:`Status`, or :class:`InvalidStatus` with the reason (never another
    exception: the size is capped and the JSON bounded by :mod:`shared.bounded_json`)."""
    try:
        return validate(Status, load_json(raw, max_bytes=MAX_STATUS_BYTES))
    except (RejectedJSON, Problem) as e:
        raise InvalidStatus(str(e).encode("ascii", "backslashreplace").decode("ascii")) from None
