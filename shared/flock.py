"""``flock``: the one place that calls it, so every lock in the project is taken the same way.

Three ways to wait, chosen by ``timeout_s``:

- ``0``: one try (a live writer's lock tells salvage and cleanup that a file is not an orphan);
- ``> 0``: poll a non-blocking ``flock`` until it is ours or the deadline (monotonic) has passed.
  ``flock`` has no timeout of its own, and a blocking ``flock`` cannot be interrupted by our stop
  events, so the clip-id counter, the maintenance lock and the library lock wait this way;
- ``None``: block until it is ours (the report builder: one at a time, each short).

Some locks live as long as an open file (a clip being recorded, a download in progress): their
owner keeps the fd and calls :func:`try_flock` or :func:`flock_within` on it; closing the last
descriptor of the file releases the lock. :func:`flocked` is for a lock held over a block.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def try_flock(fd: int, *, exclusive: bool = True) -> bool:
    """One non-blocking try to take ``flock`` on ``fd``. Returns whether it was taken."""
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def flock_within(fd: int, timeout_s: float | None, *, exclusive: bool = True, poll_s: float = 0.02) -> bool:
    """Take ``flock`` on ``fd`` within ``timeout_s`` seconds (see the module docstring for 0 and
    None). Returns whether it was taken."""
    if timeout_s is None:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        return True
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()  # never set: a wait that is not a bare sleep in a lock loop
    while True:
        if try_flock(fd, exclusive=exclusive):
            return True
        if time.monotonic() >= deadline:
            return False
        pause.wait(poll_s)


@contextmanager
def flocked(target: Path | int, *, exclusive: bool = True, timeout_s: float | None = 0.0, poll_s: float = 0.02,
            mode: int = 0o644) -> Iterator[bool]:
    """Hold ``flock`` on ``target`` for the block; yields whether it was taken (the caller decides
    what a busy lock means, and raises its own error naming the holder).

    A path is opened (created with ``mode`` if missing) and closed at the end, which releases the
    lock. An fd stays the caller's: it is unlocked at the end, not closed."""
    if isinstance(target, int):
        held = flock_within(target, timeout_s, exclusive=exclusive, poll_s=poll_s)
        try:
            yield held
        finally:
            if held:
                fcntl.flock(target, fcntl.LOCK_UN)
        return
    fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        yield flock_within(fd, timeout_s, exclusive=exclusive, poll_s=poll_s)
    finally:
        os.close(fd)
