"""Retention policy: which stored clips to remove, decided without touching the disk.

Order of sacrifice: archived clips (already copied by an inspector, in ``transferred/``) older
than ``keep_transferred_days`` always go; then, while free space is below ``min_free_mb`` or
the clip folders exceed ``max_usage_mb``, the oldest archived clips; then, only when
``on_full == "delete_oldest"``, the oldest clips nobody has copied yet (each one a loss that
is logged as such). With ``on_full == "stop_recording"`` un-transferred clips are never
removed; the watcher stops recording instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from shared.validation import Strict


class RetentionSettings(Strict):
    keep_transferred_days: float = Field(default=7.0, ge=0.0, le=3650.0,
                                         description="archived clips older than this are removed")
    min_free_mb: float = Field(default=512.0, ge=0.0, le=10_000_000.0,
                               description="free space floor on the data directory's filesystem")
    max_usage_mb: float = Field(default=0.0, ge=0.0, le=10_000_000.0,
                                description="cap on recorded_clips/ + transferred/ (0: no cap)")
    on_full: Literal["delete_oldest", "stop_recording"] = Field(
        default="delete_oldest", description="when space cannot be made from archived clips")
    check_interval_s: float = Field(default=10.0, ge=0.05, le=3600.0,
                                    description="how often the watcher checks free space")

@dataclass(frozen=True)
class StoredClip:
    clip_id: str
    transferred: bool  # in transferred/ (an inspector has a verified copy)
    started: datetime
    nbytes: int  # clip + manifest


@dataclass(frozen=True)
class Removal:
    clip: StoredClip
    reason: str  # "expired", "space" or "space-untransferred"


@dataclass(frozen=True)
class Plan:
    removals: list[Removal]
    short_bytes: int  # space still missing after the plan (0 when the floor/cap is met)

    @property
    def loses_untransferred(self) -> bool:
        return any(not r.clip.transferred for r in self.removals)


def plan(clips: list[StoredClip], *, free_bytes: int, settings: RetentionSettings, now: datetime) -> Plan:
    mb = 1024 * 1024
    removals: list[Removal] = []
    expiry = now - timedelta(days=settings.keep_transferred_days)
    keep = []
    for c in sorted(clips, key=lambda c: (c.started, c.clip_id)):
        if c.transferred and c.started < expiry:
            removals.append(Removal(c, "expired"))
            free_bytes += c.nbytes
        else:
            keep.append(c)
    usage = sum(c.nbytes for c in keep)

    def short() -> int:
        need_free = int(settings.min_free_mb * mb) - free_bytes
        need_cap = usage - int(settings.max_usage_mb * mb) if settings.max_usage_mb > 0 else 0
        return max(0, need_free, need_cap)

    candidates = [c for c in keep if c.transferred]
    if settings.on_full == "delete_oldest":
        candidates += [c for c in keep if not c.transferred]
    for c in candidates:
        if short() <= 0:
            break
        removals.append(Removal(c, "space" if c.transferred else "space-untransferred"))
        free_bytes += c.nbytes
        usage -= c.nbytes
    return Plan(removals, short())
