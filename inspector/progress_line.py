"""The terminal's progress line for ``pull``: one line, rewritten in place, for every watcher and
every clip in flight at once (several clips of one watcher, several watchers in parallel).

Each call reports one clip's bytes (the Puller's ``progress`` callback, from any worker thread).
The line shows, per watcher: the clips in flight and how far they are together, the clips finished
and the bytes moved this pass, e.g. ``[pi1] 3 in flight 41% · 12 done · 57.3 MB``. It is redrawn at
most every ``interval_s`` (a terminal is not a log) and always when a clip finishes. Log records
written to the same terminal go through :meth:`ProgressLine.redirect_logging`: the line is wiped
before a record is written and drawn again below it, so the two never run into each other.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

INTERVAL_S = 0.2


@dataclass
class _Watcher:
    flight: dict[str, tuple[int, int]] = field(default_factory=dict)  # clip id -> (done, total)
    finished: int = 0
    moved: int = 0  # bytes of finished clips (this pass's share: the caller's totals include a resume's offset)

    def text(self, name: str) -> str:
        done = sum(d for d, _ in self.flight.values())
        total = sum(t for _, t in self.flight.values())
        parts = [f"[{name}]"]
        if self.flight:
            parts.append(f"{len(self.flight)} in flight {100 * done // max(total, 1):d}%")
        parts.append(f"· {self.finished} done · {(self.moved + done) / 1e6:.1f} MB")
        return " ".join(parts)


class ProgressLine:
    def __init__(self, out: TextIO, *, interval_s: float = INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._out = out
        self._interval = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._watchers: dict[str, _Watcher] = {}
        self._drawn = float("-inf")
        self._width = 0

    def __call__(self, watcher: str, clip_id: str, done: int, total: int) -> None:
        with self._lock:
            w = self._watchers.setdefault(watcher, _Watcher())
            finished = done >= total
            if finished:
                w.flight.pop(clip_id, None)
                w.finished += 1
                w.moved += total
            else:
                w.flight[clip_id] = (done, total)
            now = self._clock()
            if finished or not self._width or now - self._drawn >= self._interval:
                self._drawn = now
                self._draw()

    def _draw(self) -> None:
        line = "  ".join(w.text(name) for name, w in sorted(self._watchers.items()))
        pad = max(0, self._width - len(line))  # wipe what a longer line left
        self._width = len(line)
        self._out.write("\r" + line + " " * pad)
        self._out.flush()

    def write(self, text: str) -> int:
        """A log record's text: wipe the line, write the text; the next report draws the line again."""
        with self._lock:
            if self._width:
                self._out.write("\r" + " " * self._width + "\r")
                self._width = 0
            self._out.write(text)
            return len(text)

    def flush(self) -> None:
        self._out.flush()

    @contextlib.contextmanager
    def redirect_logging(self) -> Iterator[None]:
        """While inside: the root logger's handlers that write to this line's terminal write through it."""
        moved = [h for h in logging.getLogger().handlers
                 if isinstance(h, logging.StreamHandler) and h.stream in (self._out, sys.stderr)]
        old = [h.setStream(self) for h in moved]
        try:
            yield
        finally:
            for h, stream in zip(moved, old, strict=True):
                h.setStream(stream)

    def end(self) -> None:
        """Leave the line as it is and move to the next (call once the pass is over)."""
        with self._lock:
            if self._watchers:
                self._draw()
                self._out.write("\n")
                self._out.flush()
