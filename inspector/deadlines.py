"""Deadlines of the SFTP transport, as pure objects with time passed in.

- :class:`IoWatch`: while any request is outstanding, the server must send something within
  ``io_timeout_s``; a connection that stays silent that long is cut (the session's watchdog thread
  asks :meth:`IoWatch.overdue`). Progress is counted in bytes arriving, not whole replies, so a
  slow link with many large reads in flight is not taken for a dead one.
- :class:`RateFloor`: a clip must arrive at ``bytes_per_s`` on average, after ``grace_s`` of
  slack; a Pi trickling bytes just fast enough to beat the I/O timeout has that clip abandoned.
- :class:`TransferClock`: one clip's transfer measured against a floor, shared fairly by the clips
  in flight on one connection.

The handshake's deadline (spawn to VERSION within ``connect_timeout_s``) is a plain timed wait in
:mod:`inspector.sftp_session`.

Threads: an IoWatch is shared by the session's reader thread (``progress``), the threads that send
requests (``sent``/``answered``) and the watchdog (``overdue``); one lock guards it. A
TransferClock belongs to the one thread reading that file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from inspector.remote import ClipAbandoned


@dataclass(frozen=True)
class RateFloor:
    """A transfer must deliver ``bytes_per_s`` on average; it may lag that by ``grace_s`` seconds."""

    bytes_per_s: float
    grace_s: float

    def time_left(self, elapsed_s: float, done: int) -> float:
        """Seconds the transfer may still wait for more bytes: ``done`` bytes buy ``done / rate``
        seconds, plus the grace. Zero or less: the floor is missed."""
        return done / self.bytes_per_s + self.grace_s - elapsed_s


class IoWatch:
    """Outstanding requests and the last sign of life from the server."""

    def __init__(self, io_timeout_s: float, now: float) -> None:
        self.io_timeout_s = io_timeout_s
        self._lock = threading.Lock()
        self._outstanding = 0
        self._last = now

    def sent(self, now: float) -> None:
        with self._lock:
            if self._outstanding == 0:
                self._last = now  # the clock starts with the first request in flight
            self._outstanding += 1

    def answered(self) -> None:
        with self._lock:
            self._outstanding -= 1

    def progress(self, now: float) -> None:
        with self._lock:
            self._last = now

    def overdue(self, now: float) -> bool:
        with self._lock:
            return self._outstanding > 0 and now - self._last >= self.io_timeout_s


class TransferClock:
    """One file's transfer against a :class:`RateFloor`, fairly shared: with ``n`` files read at once
    over one connection (clips in flight, ``sharers()``), each owes ``bytes_per_s / n`` while they
    share it, so a link that carries the floor in total is never taken for a slow one because it
    carries several clips. The clock starts when the file's first request is sent (:meth:`start`),
    and again (:meth:`restart`) while replies to requests sent before it are still to come: waiting
    for the connection's budget, or behind another clip's replies, is the inspector's queue, not the
    Pi's slowness. ``done`` counts the bytes delivered."""

    def __init__(self, floor: RateFloor, sharers: Callable[[], int] = lambda: 1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.floor = floor
        self._sharers = sharers
        self._clock = clock
        self.t0: float | None = None
        self._last = 0.0
        self._owed = 0.0  # bytes the floor asks for so far, each second at the share of that moment
        self._share = floor.bytes_per_s
        self._held_since: float | None = None
        self.done = 0

    def start(self) -> None:
        if self.t0 is None:
            self.t0 = self._last = self._clock()

    def restart(self, most_s: float) -> bool:
        """Start again from now, nothing owed: the file's first request is still queued behind
        replies to requests sent before it (another clip's, on the same connection). For at most
        ``most_s`` after the first restart (a server holding back an earlier reply must not hold
        the floor off for good): False, and nothing done, once that has passed."""
        now = self._clock()
        if self._held_since is None:
            self._held_since = now
        if now - self._held_since > most_s:
            return False
        self.t0 = self._last = now
        self._owed = 0.0
        return True

    def time_left(self) -> float:
        """Seconds to wait for more bytes before the floor is missed (the grace included)."""
        if self.t0 is None:
            return self.floor.grace_s
        now = self._clock()
        self._owed += (now - self._last) * self._share  # the share held since the last look
        self._last = now
        self._share = self.floor.bytes_per_s / max(1, self._sharers())
        return (self.done - self._owed) / self._share + self.floor.grace_s

    def abandoned(self) -> ClipAbandoned:
        elapsed = self._clock() - (self.t0 if self.t0 is not None else self._clock())
        floor = self.floor
        shared = self.floor.bytes_per_s / self._share
        among = f", shared by {shared:.0f} clips in flight" if shared > 1.01 else ""
        return ClipAbandoned(
            f"transfer too slow: {self.done} bytes in {elapsed:.1f} s "
            f"({self.done / max(elapsed, 1e-9) / 1000:.1f} kB/s), below the floor of "
            f"{floor.bytes_per_s / 1000:g} kB/s{among} after a grace of {floor.grace_s:g} s")
