"""Clip bytes this watcher has published: today (UTC) and since install, kept in ``<data_dir>/wear.json``.

What the inspector shows as the watcher's own writes to the card (beside the kernel's count for the whole
device since boot, watcher.system_facts). Updated once per published clip (a small durable write);
an unreadable or damaged file starts the count again from zero, with a warning.

Threads: ``add`` is called on the clip-writer thread; ``today``/``total`` are read by the pipeline thread
(plain int assignments, atomic in CPython).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from shared.atomic import atomic_write_bytes

logger = logging.getLogger(__name__)


class ClipBytes:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.day, self.today, self.total = "", 0, 0
        try:
            d = json.loads(path.read_text())
            self.day, self.today, self.total = str(d["day"]), int(d["today"]), int(d["total"])
            if min(self.today, self.total) < 0:
                raise ValueError("negative count")
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as e:
            logger.warning("%s unreadable (%s): the clip byte count starts again", path, e)
            self.day, self.today, self.total = "", 0, 0

    def roll(self, now: datetime) -> None:
        """A new UTC day starts today's count afresh."""
        day = now.astimezone(UTC).strftime("%Y-%m-%d")
        if day != self.day:
            self.day, self.today = day, 0

    def add(self, nbytes: int, now: datetime | None = None) -> None:
        self.roll(now or datetime.now(UTC))
        self.today += nbytes
        self.total += nbytes
        try:
            atomic_write_bytes(self.path, json.dumps({"day": self.day, "today": self.today,
                                                      "total": self.total}).encode())
        except OSError as e:  # a full disk must not stop the watcher
            logger.warning("cannot write %s: %s", self.path, e)
