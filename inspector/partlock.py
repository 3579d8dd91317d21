"""The per-clip lock: an ``flock`` on the clip's ``.part`` download, taken before its bytes are touched.

Any number of inspector processes (the ``run`` service, a manual ``pull``, ``cleanup``) share one
library. Whoever holds the flock on ``incoming/<watcher>/<id>.mp4.part`` owns that clip: it may
resume, truncate, verify, store and acknowledge it. The file is opened without truncation and
locked before anything is decided, and the lock is held until the clip is stored and
acknowledged (or given up), so a second process never writes into a download in progress.

A lock on a file that was unlinked meanwhile (stored by its owner, or removed by cleanup) locks
nothing: after taking the flock we check that the path still names the inode we hold, and open
again if not. Cleanup does the same check before it removes a stale ``.part``. The owner keeps
the ``.part`` name (a hard link to the stored clip) until it is done, then removes it; a ``.part``
with more than one link is therefore a stored clip whose owner died, and is never written through.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from shared.flock import try_flock

_ADVISE = getattr(os, "posix_fadvise", None)  # not on macOS: there the final fsync does it all

_ATTEMPTS = 3


class PartLock:
    """An open, exclusively locked ``.part`` file. One thread uses it; :meth:`release` closes it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    def try_acquire(cls, path: Path) -> PartLock | None:
        """Open (creating if needed, never truncating) and lock ``path``; None if another process holds it."""
        for _ in range(_ATTEMPTS):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                taken = try_flock(fd)  # held as long as the fd is open: the clip's whole download
            except BaseException:
                os.close(fd)
                raise
            if not taken:
                os.close(fd)
                return None
            if not same_file(fd, path):
                os.close(fd)  # the path was unlinked or replaced after we opened it: try the new one
                continue
            if os.fstat(fd).st_nlink > 1:
                # also a stored clip (its owner died between placing it and removing the .part):
                # drop this name, never write through it, and start from a fresh file
                path.unlink()
                os.close(fd)
                continue
            return cls(path, fd)
        return None

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)

    def hash_prefix(self, n: int) -> hashlib._Hash:
        """sha256 of the first ``n`` bytes (a resumed download's bytes so far)."""
        digest = hashlib.sha256()
        offset = 0
        while offset < n:
            block = os.pread(self.fd, min(1 << 20, n - offset), offset)
            if not block:
                break
            digest.update(block)
            offset += len(block)
        return digest

    def write_at(self, offset: int, data: bytes | memoryview) -> None:
        """Write ``data`` at ``offset`` and start writing it back to the disk now (Linux: FADV_DONTNEED
        starts writeback of the range's dirty pages without waiting), so the fsync that ends the
        download waits for the last window only, not for the whole clip (tests/bench transfer)."""
        view = memoryview(data)
        start, length = offset, len(view)
        while view:
            n = os.pwrite(self.fd, view, offset)
            offset += n
            view = view[n:]
        if _ADVISE is not None:
            _ADVISE(self.fd, start, length, os.POSIX_FADV_DONTNEED)

    def fsync(self) -> None:
        os.fsync(self.fd)

    def discard(self) -> None:
        """Remove the ``.part`` (still ours: we hold the lock) and release it."""
        try:
            if same_file(self.fd, self.path):
                self.path.unlink()
        finally:
            self.release()

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the last descriptor drops the flock
            self.fd = -1


def same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)
