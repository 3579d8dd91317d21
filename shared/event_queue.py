"""A bounded queue between the pipeline and a side channel (MQTT, webhooks) that never blocks the pipeline.

``put`` always returns at once: when the queue is full the *oldest* item is dropped and counted (a
late "motion on" is worth less than the newest state), so a broker or a webhook target that is down,
slow or refusing costs the recording nothing. The consumer (one thread) takes items with ``get``.

Threads: any number of producers, one consumer; one condition guards the deque and the counts.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class EventQueue(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0  # items dropped because the queue was full (oldest first)
        self.put_count = 0

    def put(self, item: T) -> bool:
        """Queue ``item``; False if that dropped the oldest one (or the queue is closed: ``item`` dropped)."""
        with self._cond:
            if self._closed:
                self.dropped += 1
                return False
            self.put_count += 1
            kept = True
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
                kept = False
            self._items.append(item)
            self._cond.notify()
            return kept

    def put_front(self, item: T) -> None:
        """Give back an item the consumer took but could not deliver: it goes out first next time
        (dropped instead if the queue filled meanwhile: it is now the oldest)."""
        with self._cond:
            if len(self._items) >= self.capacity:
                self.dropped += 1
                return
            self._items.appendleft(item)
            self._cond.notify()

    def get(self, timeout: float | None = None) -> T | None:
        """The oldest item; None if ``timeout`` passed first or the queue is closed and empty."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                return None
            return self._items.popleft() if self._items else None

    def close(self) -> None:
        """Wake the consumer; later ``put`` calls drop their item (counted)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def drop_all(self) -> int:
        """Drop what is queued (counted); how many."""
        with self._cond:
            n = len(self._items)
            self._items.clear()
            self.dropped += n
            return n

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
