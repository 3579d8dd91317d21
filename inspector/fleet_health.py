"""Fleet health: each watcher's status.json, read at every pass, and the rules that flag a Pi.

A pass that reached the watcher also reads its ``status.json`` (beside recorded_clips/, through the same
SFTP account, read-only): size-capped, bounded JSON, schema-checked (:func:`shared.status_doc.parse_status`),
like a manifest. What came back (the checked document, or why there is none) is kept in the catalog
(``watcher_health``); ``inspector status`` and the report judge it with :func:`assess`. Every flag
carries the rule that raised it, in words:

  unreachable      the last pass failed and none has succeeded since
  status_rejected  status.json could not be read, or was not a status document (the reason)
  stale            status.json was older than STALE_INTERVALS status intervals (at least STALE_MIN_S) when read
  stopped          the watcher says it stopped
  no_frames        running, but no frame for FRAMES_STOPPED_INTERVALS intervals (at least FRAMES_STOPPED_MIN_S)
  disk             recording paused, or free space within DISK_MARGIN of the retention floor
  clock            the kernel says the clock is not synchronized

Times the Pi reports are compared with the Pi's own clock where they can be (last frame vs the document's
time); only staleness compares the Pi's clock with ours, and says so when the Pi's clock is not synchronized.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from inspector.catalog import Catalog
from inspector.remote import RemoteError, RemoteStore
from shared.status_doc import MAX_STATUS_BYTES, InvalidStatus, Status, parse_status

logger = logging.getLogger(__name__)

STALE_INTERVALS = 5
STALE_MIN_S = 30.0
FRAMES_STOPPED_INTERVALS = 3
FRAMES_STOPPED_MIN_S = 10.0
UNSYNCED = " (the Pi's clock is not synchronized: its times may be off)"
DISK_MARGIN = 1.1  # free space below 110 % of the floor is flagged before the watcher has to act


@dataclass(frozen=True)
class Flag:
    flag: str
    rule: str


def read_status(store: RemoteStore) -> tuple[Status | None, str | None]:
    """(the checked document, None) or (None, why not): never raises for what the watcher holds."""
    try:
        reader = store.open_status()
    except RemoteError as e:
        return None, "no status.json" if isinstance(e.__cause__, FileNotFoundError) else f"cannot open status.json: {e}"
    try:
        size, _, kind = reader.fstat()
        if kind != "file":
            return None, f"status.json is a {kind}, not a regular file"
        if size > MAX_STATUS_BYTES:
            return None, f"status.json is {size} bytes (cap {MAX_STATUS_BYTES})"
        raw = b"".join(reader.read_windows(0, size, MAX_STATUS_BYTES))
    except RemoteError as e:
        return None, f"cannot read status.json: {e}"
    finally:
        reader.close()
    try:
        return parse_status(raw), None
    except InvalidStatus as e:
        return None, f"status.json rejected: {e}"


def record_status(catalog: Catalog, watcher: str, store: RemoteStore) -> None:
    """Read the watcher's status.json and keep what came back in the catalog (logged when rejected)."""
    status, error = read_status(store)
    if error is not None and error != "no status.json":
        logger.warning("[%s] %s", watcher, error)
    catalog.record_health(watcher, status.to_json().decode() if status is not None else None, error)


def _epoch(iso: str | None) -> float | None:
    if iso is None:
        return None
    return datetime.strptime(iso.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z" if "." in iso
                             else "%Y-%m-%dT%H:%M:%S%z").timestamp()


def assess(status: Status | None, error: str | None, fetched_at: float | None, *, last_ok: float | None,
           last_error: str | None, last_error_at: float | None) -> list[Flag]:
    """The flags of one watcher, each with its rule (module docstring)."""
    flags = []
    if last_error is not None and (last_ok is None or (last_error_at or 0.0) >= last_ok):
        since = "never" if last_ok is None else _iso(last_ok)
        flags.append(Flag("unreachable", f"the last pass failed ({last_error}); last success: {since}"))
    if error is not None:
        flags.append(Flag("status_rejected", error))
    if status is None:
        return flags
    interval = status.status_interval_s or 2.0
    updated = _epoch(status.updated_at)
    if fetched_at is not None and updated is not None:
        limit = max(STALE_MIN_S, STALE_INTERVALS * interval)
        age = fetched_at - updated
        if age > limit:
            skew = "" if status.clock_synchronized is not False else UNSYNCED
            flags.append(Flag("stale", f"status.json was {age:.0f} s old when read, more than {limit:.0f} s "
                                       f"({STALE_INTERVALS} status intervals of {interval:g} s){skew}"))
    if status.state == "stopped":
        flags.append(Flag("stopped", "the watcher says it stopped"))
    elif status.state == "running" and updated is not None:
        limit = max(FRAMES_STOPPED_MIN_S, FRAMES_STOPPED_INTERVALS * interval)
        last_frame = _epoch(status.last_frame_at)
        if last_frame is None or updated - last_frame > limit:
            gap = "no frame yet" if last_frame is None else f"no frame for {updated - last_frame:.0f} s"
            flags.append(Flag("no_frames", f"{gap} while running (the limit is {limit:.0f} s)"))
    if status.recording_paused:
        flags.append(Flag("disk", f"recording paused: {status.recording_paused}"))
    elif status.min_free_bytes and 0 <= status.disk_free_bytes < status.min_free_bytes * DISK_MARGIN:
        flags.append(Flag("disk", f"{status.disk_free_bytes / 1e6:.0f} MB free, within "
                                  f"{(DISK_MARGIN - 1) * 100:.0f} % of the retention floor "
                                  f"({status.min_free_bytes / 1e6:.0f} MB)"))
    if status.clock_synchronized is False:
        flags.append(Flag("clock", "the kernel says the clock is not synchronized (clip names and times may be off)"))
    return flags


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fleet_view(catalog: Catalog, watchers: list[str]) -> dict[str, dict[str, Any]]:
    """Per configured watcher: what its last status.json said, and its flags (for status and the report)."""
    summary = catalog.summary()["watchers"]
    assert isinstance(summary, dict)
    health = catalog.health()
    out: dict[str, dict[str, Any]] = {}
    for w in watchers:
        row = summary.get(w, {})
        fetched_at, doc, error = health.get(w, (None, None, None))
        status = None
        if doc is not None:
            try:
                status = parse_status(doc.encode())
            except InvalidStatus as e:  # checked when stored; a catalog edited by hand still gets a reason
                error = f"stored status.json rejected: {e}"
        flags = assess(status, error, fetched_at, last_ok=row.get("last_ok"), last_error=row.get("last_error"),
                       last_error_at=row.get("last_error_at"))
        view: dict[str, Any] = {
            "last_contact": _iso(row["last_ok"]) if row.get("last_ok") else None,
            "status_read_at": _iso(fetched_at) if fetched_at else None,
            "status_error": error,
            "flags": [{"flag": f.flag, "rule": f.rule} for f in flags],
        }
        if status is not None:
            view |= {k: getattr(status, k) for k in (
                "updated_at", "state", "fps_in", "fps_out", "frames_dropped", "packets_dropped", "disk_free_bytes",
                "disk_total_bytes", "min_free_bytes", "recording_paused", "clock_synchronized", "last_clip",
                "last_clip_at", "last_frame_at", "clip_bytes_today", "clip_bytes_total", "device_written_bytes",
                "boot_id", "system_uptime_s", "last_error", "last_error_at")}
            view["frames_flowing"] = not any(f.flag in ("no_frames", "stopped", "stale") for f in flags)
            last_clip = _epoch(status.last_clip_at)
            view["last_clip_age_s"] = round(fetched_at - last_clip) if last_clip and fetched_at else None
        out[w] = view
    return out
