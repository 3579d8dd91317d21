"""What one pass over a watcher did (:class:`PullStats`), and what this process already logged
about each watcher, so a problem is logged once rather than on every poll, in bounded memory.

Threads: ``_REPORTED`` maps a watcher name to its memory; the dict is guarded by ``_REPORTED_LOCK``
and each entry is used only by its watcher's threads (its clips in flight; ``_Recent`` has its own
lock). ``run`` makes a new Puller each pass, so the memory lives here rather than in the Puller.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

MAX_SKIP_NAMES = 256  # names kept in PullStats.skipped; the count goes on
MAX_REPORTED = 4096  # (name, reason) pairs remembered per watcher


@dataclass
class PullStats:
    watcher: str
    stored: list[str] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)  # sha256 mismatches and conflicts
    conflicts: list[str] = field(default_factory=list)  # ids re-sent with other bytes than the stored clip's
    refused: list[str] = field(default_factory=list)  # too big for max_clip_mb or the free space: next pass
    skipped: dict[str, str] = field(default_factory=dict)  # name -> reason (the first MAX_SKIP_NAMES)
    skipped_count: int = 0  # every name skipped this pass
    deferred: int = 0  # clips left for the next pass (max_clips_per_pass)
    bytes_transferred: int = 0
    error: str | None = None

    def skip(self, name: str, reason: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < MAX_SKIP_NAMES:
            self.skipped[name] = reason

    def add(self, other: PullStats) -> None:
        """Fold in what another worker of the same pass did (clips in flight: one PullStats each)."""
        for mine, theirs in ((self.stored, other.stored), (self.acked, other.acked),
                             (self.quarantined, other.quarantined), (self.conflicts, other.conflicts),
                             (self.refused, other.refused)):
            mine.extend(theirs)
        for name, reason in other.skipped.items():
            if len(self.skipped) >= MAX_SKIP_NAMES:
                break
            self.skipped.setdefault(name, reason)
        self.skipped_count += other.skipped_count
        self.bytes_transferred += other.bytes_transferred


class _Recent:
    """A set that forgets its oldest members beyond ``cap``: what was already logged, in bounded memory.
    Thread-safe: a watcher's clips in flight share it."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._items: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, item: tuple[str, str]) -> bool:
        """Add ``item``; True if it was not there."""
        with self._lock:
            if item in self._items:
                self._items.move_to_end(item)
                return False
            self._items[item] = None
            if len(self._items) > self.cap:
                self._items.popitem(last=False)
            return True


@dataclass
class Reported:
    """What this process already logged about one watcher: kept across passes (``run`` makes a new
    Puller for each pass), bounded whatever the watcher sends."""

    pairs: _Recent = field(default_factory=lambda: _Recent(MAX_REPORTED))
    last_summary: tuple[tuple[str, int], ...] = ()


_REPORTED: dict[str, Reported] = {}  # watcher name -> memory; each watcher's thread uses only its own
_REPORTED_LOCK = threading.Lock()


def reported_for(watcher: str) -> Reported:
    with _REPORTED_LOCK:
        return _REPORTED.setdefault(watcher, Reported())
