"""Waiting for an ``flock`` with a deadline: the one place that loops on a non-blocking lock.

``flock`` has no timeout of its own, and a blocking ``flock`` cannot be interrupted by our stop
events, so the watcher's counter and maintenance locks and the inspector's library lock all poll a
non-blocking ``flock`` until it is theirs or their deadline (monotonic) has passed.
"""

from __future__ import annotations

import fcntl
import threading
import time


def flock_within(fd: int, timeout_s: float, *, exclusive: bool = True, poll_s: float = 0.02) -> bool:
    """Take ``flock`` on ``fd`` within ``timeout_s`` seconds. Returns whether it was taken."""
    op = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()  # never set: a wait that is not a bare sleep in a lock loop
    while True:
        try:
            fcntl.flock(fd, op)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            pause.wait(poll_s)
