"""Disk limits for the library: refuse a clip before downloading it, not after the disk is full.

A watcher's manifest says how big its clip is, and a sparse file on the Pi costs the Pi nothing,
so a single "clip" can claim more than the workstation has. Before a download starts the puller
asks :meth:`SpaceGuard.reserve` for the bytes it still has to fetch; the guard refuses a clip
over ``max_clip_mb`` and one that does not fit in the free space minus ``reserve_free_mb``
minus what the other downloads of this process still have to write. The refusal is a reason
(a string), not an exception: the clip is skipped for this pass and asked for again next pass.

Threads: one guard per process and library, shared by every watcher thread. ``_lock`` guards
``_pending`` (bytes reserved and not written yet, per reservation); each :class:`Reservation`
is used by the one thread that made it. Other processes are seen only through ``statvfs``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

MIB = 1024 * 1024


class Reservation:
    """Bytes promised to one download. :meth:`wrote` hands them over to the disk as they land
    (statvfs then counts them), :meth:`release` returns what is left."""

    def __init__(self, guard: SpaceGuard, key: int, nbytes: int) -> None:
        self._guard = guard
        self._key = key
        self.nbytes = nbytes

    def wrote(self, n: int) -> None:
        self._guard._consume(self._key, n)

    def release(self) -> None:
        self._guard._release(self._key)

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


class SpaceGuard:
    def __init__(self, root: Path, *, max_clip_bytes: int, reserve_bytes: int,
                 statvfs: Callable[[Path], os.statvfs_result] = os.statvfs) -> None:
        self.root = root
        self.max_clip_bytes = max_clip_bytes
        self.reserve_bytes = reserve_bytes
        self._statvfs = statvfs  # injectable: tests and callers may measure another way
        self._lock = threading.Lock()
        self._pending: dict[int, int] = {}
        self._next = 0

    def free_bytes(self) -> int:
        st = self._statvfs(self.root)
        return st.f_bavail * st.f_frsize

    def check_size(self, size: int) -> str | None:
        """Why a clip of ``size`` bytes is refused whatever the free space, or None."""
        if size > self.max_clip_bytes:
            return (f"clip is {size / MIB:.1f} MiB, over max_clip_mb = {self.max_clip_bytes / MIB:g} "
                    "(refused before download; asked again next pass)")
        return None

    def reserve(self, size: int, remaining: int) -> Reservation | str:
        """Reserve ``remaining`` bytes of a clip of ``size`` bytes, or say why not."""
        refused = self.check_size(size)
        if refused:
            return refused
        with self._lock:  # statvfs inside the lock: two threads never both count the same free bytes
            free = self.free_bytes()
            pending = sum(self._pending.values())
            if remaining > free - self.reserve_bytes - pending:
                return (f"needs {remaining / MIB:.1f} MiB but the library has {free / MIB:.1f} MiB free, "
                        f"{pending / MIB:.1f} MiB promised to downloads in flight and reserve_free_mb = "
                        f"{self.reserve_bytes / MIB:g} (refused before download; asked again next pass)")
            key = self._next
            self._next += 1
            self._pending[key] = remaining
            return Reservation(self, key, remaining)

    def _consume(self, key: int, n: int) -> None:
        with self._lock:
            if key in self._pending:
                self._pending[key] = max(0, self._pending[key] - n)

    def _release(self, key: int) -> None:
        with self._lock:
            self._pending.pop(key, None)
