"""Every open connection of the fleet, so that a stop can cut them all at once.

A worker blocked in a read from a silent Pi wakes up only when its connection fails; on SIGTERM
the main thread calls :meth:`OpenLinks.cut_all`, which aborts every registered store (closing its
socket and transport), so each worker's blocked call fails at once and the worker can finish.

Threads: workers call ``add`` (from inside the store's constructor, before the first network
wait) and ``discard``; the main thread calls ``cut_all``. One lock guards the set; stores are
aborted outside it. A store added after ``cut_all`` is aborted on the spot.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

logger = logging.getLogger(__name__)


class Abortable(Protocol):
    def abort(self) -> None: ...


class OpenLinks:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[Abortable] = set()
        self._cut = False

    def add(self, link: Abortable) -> None:
        with self._lock:
            cut = self._cut
            if not cut:
                self._open.add(link)
        if cut:
            link.abort()

    def discard(self, link: Abortable) -> None:
        with self._lock:
            self._open.discard(link)

    def cut_all(self) -> int:
        """Abort every open link, now and from now on; return how many were open."""
        with self._lock:
            self._cut = True
            links, self._open = list(self._open), set()
        for link in links:
            try:
                link.abort()
            except Exception:  # one broken link must not keep the others open
                logger.exception("aborting a connection failed")
        return len(links)
