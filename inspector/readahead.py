"""The READ requests one connection keeps outstanding, shared fairly by the files being read on it.

One file alone gets the whole budget; with several clips in flight over one store each gets an
equal share (at least one request), so the replies held in memory stay bounded by the budget
(``total`` requests of at most 256 KiB) however many clips are in flight, and no file starves.

Threads: every reader thread calls ``join``/``take``/``give``/``leave``; one condition guards the
counts. A reader blocks in ``take`` only when it has nothing outstanding, so it never waits on
itself; the others give their requests back as their replies are consumed or abandoned.
"""

from __future__ import annotations

import threading


class ReadBudget:
    def __init__(self, total: int) -> None:
        self.total = total
        self._cond = threading.Condition()
        self._used = 0
        self._readers = 0

    def join(self) -> None:
        with self._cond:
            self._readers += 1

    def leave(self) -> None:
        with self._cond:
            self._readers -= 1
            self._cond.notify_all()

    def readers(self) -> int:
        """How many files are being read on the connection now."""
        with self._cond:
            return self._readers

    def share(self) -> int:
        """What one reader may have outstanding now (callers hold the condition)."""
        return max(1, self.total // max(1, self._readers))

    def take(self, mine: int) -> bool:
        """One more request for a reader that has ``mine`` outstanding: True if granted. A reader
        with none outstanding waits for one; otherwise the answer is immediate."""
        with self._cond:
            while True:
                if self._used < self.total and mine < self.share():
                    self._used += 1
                    return True
                if mine:
                    return False
                self._cond.wait()

    def give(self, n: int = 1) -> None:
        if n:
            with self._cond:
                self._used -= n
                self._cond.notify_all()
