"""The READ requests one connection keeps outstanding, shared by the files being read on it.

The files are served in the order they joined: the oldest file still asking for bytes takes what it
can use, and a younger one gets requests only while every older one asking has requests outstanding
(so it cannot use a free one before its next reply comes) or once they have asked for all of their
bytes. So clips in flight finish nearly one after another, each at the link's full rate, and one
clip's round trips before and after its bytes (open, manifest, close, archive) overlap the next
clip's transfer; shared equally instead, clips in flight move in step, finish together and leave the
link idle together (measured in tests/bench transfer through the delay proxy: 2-3 % of a backlog's
time). A younger file that had to wait until the older one asked for everything left the requests
given back meanwhile unused until the older one's next reply: with a budget of a few round trips (below)
the link went idle for a round trip at nearly every clip. A small read (a manifest: one request) goes
before them all. Memory stays bounded by the budget (``total`` requests of at most 256 KiB) however
many clips are in flight. A younger file waits for requests only while older ones are still to be
granted theirs; its rate floor (:class:`inspector.deadlines.TransferClock`) starts with its first request.

Threads: every reader thread calls ``join``/``take``/``give``/``sated``/``leave``; one condition
guards the counts. A reader blocks in ``take`` only when it has nothing outstanding, so it never
waits on itself; the others give their requests back as their replies are consumed or abandoned.

The budget follows the link (:meth:`ReadBudget.delivered`): it is what the link delivers, at the
rate measured over the last ``SAMPLE_S``, in ``queue_s`` plus ``RTT_QUEUES`` round trips (``rtt``: the
connection's shortest reply time), in requests of ``request_bytes``, between ``least`` and ``most``.
Enough to keep the link busy for a round trip and through a short stall of ours, and no more, because
the server answers in order: every other request of the connection (the OPEN, FSTAT and RENAME of
the clips in flight, a manifest's READ) waits behind the replies outstanding. Half a second of the
link outstanding (this module's first rule) made each of those wait half a second, a clip's seven of
them outlasted its transfer even with 16 clips in flight, and the link went idle for a round trip
whenever no opened clip was left to read (through tests/bench transfer's delay proxy, 40 ms and
40 Mbit/s: 2.8 s idle in a 300-clip backlog against rsync's 0.9 s). So a fast link (or loopback)
gets the whole budget after a fraction of a second, a long fat link keeps bandwidth x round trip
outstanding and a little more, and a slow link queues only a little: a clip that joins the connection
then gets its first bytes soon instead of behind megabytes of another clip's, and an abandoned clip
leaves little behind.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

QUEUE_S = 0.1  # seconds of the measured rate kept outstanding, beyond the round trips
RTT_QUEUES = 2.0  # ... and this many round trips of it
SAMPLE_S = 0.1  # the rate is measured over at least this long


class ReadBudget:
    def __init__(self, most: int, *, start: int | None = None, least: int = 2, request_bytes: int = 256 * 1024,
                 queue_s: float = QUEUE_S, rtt: Callable[[], float] = lambda: 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``most`` requests at the most; ``start`` (default ``most``) until :meth:`delivered` measures;
        ``rtt`` gives the connection's round trip in seconds (0 when unknown)."""
        self.most, self.least = most, min(least, most)
        self.total = most if start is None else max(self.least, min(start, most))
        self.request_bytes = request_bytes
        self.queue_s = queue_s
        self._rtt = rtt
        self._clock = clock
        self._cond = threading.Condition()
        self._used = 0
        self._readers = 0
        self._next = 0
        self._asking: dict[int, bool] = {}  # ticket -> small, for the readers still asking for bytes
        self._served: set[int] = set()  # readers granted a request so far (and not gone)
        self._bytes = 0
        self._since = clock()
        self._rate = 0.0  # bytes/s, the last measure; 0 until there is one

    def join(self, *, small: bool = False) -> int:
        """A file starts being read; its ticket places it behind the files already being read
        (``small``: one request's worth, placed before them all)."""
        with self._cond:
            if not self._readers:  # a new transfer: the idle time before it is not the link's rate
                self._bytes, self._since = 0, self._clock()
            self._readers += 1
            ticket = self._next
            self._next += 1
            self._asking[ticket] = small
            return ticket

    def delivered(self, nbytes: int) -> None:
        """``nbytes`` arrived (a READ's reply): every ``SAMPLE_S`` the budget is set from the rate."""
        with self._cond:
            self._bytes += nbytes
            now = self._clock()
            elapsed = now - self._since
            if elapsed < SAMPLE_S:
                return
            rate = self._rate = self._bytes / elapsed
            self._bytes, self._since = 0, now
            queue_s = self.queue_s + RTT_QUEUES * self._rtt()
            total = max(self.least, min(self.most, math.ceil(rate * queue_s / self.request_bytes)))
            if total != self.total:
                self.total = total
                self._cond.notify_all()

    def rate(self) -> float:
        """The connection's last measured rate in bytes/s (0 before the first measure)."""
        with self._cond:
            return self._rate

    def sated(self, ticket: int) -> None:
        """The file has asked for all of its bytes: the ones behind it may take requests."""
        with self._cond:
            if self._asking.pop(ticket, None) is not None:
                self._cond.notify_all()

    def leave(self, ticket: int) -> None:
        with self._cond:
            self._asking.pop(ticket, None)
            self._served.discard(ticket)
            self._readers -= 1
            self._cond.notify_all()

    def readers(self) -> int:
        """How many files are being read on the connection now."""
        with self._cond:
            return self._readers

    def served(self) -> int:
        """How many files being read have had requests granted: the ones sharing the link now
        (one at least), not those still waiting for their turn."""
        with self._cond:
            return max(1, len(self._served))

    def _turn(self, ticket: int) -> bool:
        """No small read waits, and every reader before this one still asking has been granted
        requests, so it waits for their replies (callers hold the condition)."""
        if self._asking.get(ticket, False):
            return True  # small: before everyone
        return not any(small or (t < ticket and t not in self._served)
                       for t, small in self._asking.items() if t != ticket)

    def take(self, mine: int, ticket: int) -> bool:
        """One more request for the reader ``ticket``, which has ``mine`` outstanding: True if
        granted. A reader with none outstanding waits for one; otherwise the answer is immediate."""
        with self._cond:
            while True:
                if self._used < self.total and self._turn(ticket):
                    self._used += 1
                    self._served.add(ticket)
                    return True
                if mine:
                    return False
                self._cond.wait()

    def give(self, n: int = 1) -> None:
        if n:
            with self._cond:
                self._used -= n
                self._cond.notify_all()
