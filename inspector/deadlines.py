"""Deadlines for the network steps paramiko leaves open.

paramiko bounds a channel read by the channel timeout alone: a Pi that trickles one byte just
before each timeout keeps a clip's transfer going for days, and a reply paramiko waits for with
no timeout at all (the answer to a subsystem request) blocks until the connection dies. Two tools:

- :class:`RateFloor` (pure) says how long a transfer may still wait for its next bytes: a clip
  must arrive at ``bytes_per_s`` on average, after ``grace_s`` of slack.
- :class:`DeadlineChannel` stands between paramiko's SFTP client and its channel: every ``recv``
  gets the channel's I/O timeout, shortened while a transfer is timed to what the floor leaves,
  and raises :class:`~inspector.remote.ClipAbandoned` once the floor is missed.
- :func:`cut_after` runs a block under a watchdog that cuts the connection at a deadline, for
  the one wait that takes no timeout.

Threads: a DeadlineChannel's transfer clock is started, read and stopped by the one thread that
reads the SFTP session (the watcher's worker); paramiko's prefetch thread only calls ``send``,
which passes straight through. :func:`cut_after`'s timer thread only calls ``cut``, which must be
safe from any thread (SftpStore.abort is).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

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


class DeadlineChannel:
    """A paramiko Channel as the SFTP client sees it, with a deadline on every read (see module doc).
    Everything but ``recv`` is passed through to the channel."""

    def __init__(self, channel: Any, io_timeout_s: float) -> None:
        self._channel = channel
        self.io_timeout_s = io_timeout_s
        self._floor: RateFloor | None = None
        self._t0 = 0.0
        self._done = 0

    def start_transfer(self, floor: RateFloor) -> None:
        self._floor, self._t0, self._done = floor, time.monotonic(), 0

    def stop_transfer(self) -> tuple[int, float]:
        """Stop timing; return (bytes received, seconds) of the transfer."""
        self._floor = None
        return self._done, time.monotonic() - self._t0

    def recv(self, n: int) -> bytes:
        floor = self._floor
        if floor is None:
            self._channel.settimeout(self.io_timeout_s)
            return bytes(self._channel.recv(n))
        left = floor.time_left(time.monotonic() - self._t0, self._done)
        if left <= 0:
            raise self._abandoned(floor)
        self._channel.settimeout(min(self.io_timeout_s, left))
        try:
            data = bytes(self._channel.recv(n))
        except TimeoutError:
            if floor.time_left(time.monotonic() - self._t0, self._done) <= 0:
                raise self._abandoned(floor) from None
            raise
        self._done += len(data)
        return data

    def _abandoned(self, floor: RateFloor) -> ClipAbandoned:
        elapsed = time.monotonic() - self._t0
        return ClipAbandoned(
            f"transfer too slow: {self._done} bytes in {elapsed:.1f} s "
            f"({self._done / max(elapsed, 1e-9) / 1000:.1f} kB/s), below the floor of "
            f"{floor.bytes_per_s / 1000:g} kB/s after a grace of {floor.grace_s:g} s")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._channel, name)


@contextmanager
def cut_after(seconds: float, cut: Callable[[], None], name: str = "deadline") -> Iterator[threading.Event]:
    """Run the block; if it is still running after ``seconds``, call ``cut`` (from a timer thread)
    so that whatever it waits on fails. Yields an event that is set when the deadline fired."""
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        cut()

    timer = threading.Timer(seconds, fire)
    timer.name = name
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()
        timer.join()
