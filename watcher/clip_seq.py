"""Clip ids that are never reused in a data directory: a durable sequence counter.

An id is ``<camera>_<start second>_<seq>``. The start second cannot make it unique (a restart
within the same second, a clock that stepped back), and the inspector may already hold, and have
deleted on the Pi, a clip with any earlier id, so an existing-file check cannot either. The
sequence does: it only ever goes up, across restarts, and is kept in the data directory itself,
where the inspector's SFTP account cannot write (not in recorded_clips/ nor transferred/).

    <data_dir>/clip-seq        "<n> <crc32>": every sequence up to n may have been handed out
    <data_dir>/clip-seq.copy   the same, written after it
    <data_dir>/clip-seq.lock   flock held while a block is reserved (the watcher and the cleanup
                               command may both need fresh ids)

Sequences are reserved in blocks (one durable write per ``block`` clips, not per clip): both copies
are written (temp, fsync, rename, fsync the directory) before any sequence of the block is used,
one after the other, so a torn or garbled copy always leaves the other at least as high as
anything used. If neither copy is readable, counting resumes after the highest sequence of any
clip id in temp_clips/, recorded_clips/ or transferred/. A restart skips the rest of its block. If
the counter cannot be saved (a full disk), counting goes on in memory and the next block is saved
above it as soon as it can be: recording never stops for it (only a restart before then could hand
those unsaved sequences out again, still skipping every name on disk).

The counter ``n`` is unbounded; the id's sequence is ``(n - 1) % 999999 + 1`` (1..999999, what
:func:`shared.naming.make_clip_id` accepts). After 999,999 clips it wraps: an id could then come
back only if a clock showed the very same second for the very same sequence, clips apart by
999,999 others. Names already present in any clip folder are skipped in any case.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from shared.atomic import atomic_write_bytes
from shared.errors import DataDirError
from shared.flock import flocked
from shared.naming import MAX_SEQ, InvalidClipId, make_clip_id, parse_clip_id
from watcher.datadir import DataDir

logger = logging.getLogger(__name__)

COUNTER_NAMES = ("clip-seq", "clip-seq.copy")
LOCK_NAME = "clip-seq.lock"
_COUNTER_RE = re.compile(rb"(\d{1,18}) ([0-9a-f]{8})\n")


class NoFreeId(OSError):
    """Every candidate id was taken (the clip stays in temp_clips/ and is published later)."""


def seq_of(n: int) -> int:
    """The id sequence (1..999999) of counter value ``n`` (>= 1)."""
    return (n - 1) % MAX_SEQ + 1


def encode_counter(n: int) -> bytes:
    text = str(n).encode()
    return text + b" " + f"{zlib.crc32(text):08x}".encode() + b"\n"


def decode_counter(raw: bytes) -> int | None:
    """The counter in ``raw``, or None if it is not exactly one intact record."""
    m = _COUNTER_RE.fullmatch(raw)
    if m is None or f"{zlib.crc32(m[1]):08x}".encode() != m[2]:
        return None
    return int(m[1])


def read_counter(root: Path) -> tuple[int | None, list[str]]:
    """(highest intact copy or None, problems with the others)."""
    best: int | None = None
    problems = []
    for name in COUNTER_NAMES:
        path = root / name
        try:
            raw = path.read_bytes()[:64]
        except FileNotFoundError:
            problems.append(f"{name} is missing")
            continue
        except OSError as e:
            problems.append(f"{name}: {e.strerror}")
            continue
        n = decode_counter(raw)
        if n is None:
            problems.append(f"{name} is garbled")
        elif best is None or n > best:
            best = n
    return best, problems


def highest_seq_on_disk(dirs: DataDir) -> int:
    """The highest sequence of any clip id named in the three clip folders (0 if none)."""
    best = 0
    for folder in (dirs.temp, dirs.recorded, dirs.transferred):
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            try:
                best = max(best, parse_clip_id(name.split(".", 1)[0]).seq)
            except InvalidClipId:
                continue
    return best


@contextmanager
def _flock(path: Path, timeout_s: float) -> Iterator[None]:
    with flocked(path, timeout_s=timeout_s, mode=0o640) as held:
        if not held:
            raise DataDirError(f"{path} is held by another process for over {timeout_s:.0f} s")
        yield


class ClipIds:
    """Hands out clip ids for one data directory. Thread-safe (the pipeline thread names new clips,
    the clip-writer thread asks for a fresh name when a clip's own is taken); several processes
    coordinate through the lock file."""

    def __init__(self, dirs: DataDir, *, block: int = 16, lock_timeout_s: float = 10.0,
                 max_tries: int = MAX_SEQ) -> None:
        if block < 1 or max_tries < 1:
            raise ValueError("block and max_tries must be >= 1")
        self.dirs = dirs
        self.block = block
        self.max_tries = max_tries  # names tried per id (all of one second's, by default)
        self.lock_timeout_s = lock_timeout_s
        self._next = 1
        self._limit = 0  # nothing reserved yet: the first id reserves a block
        self._mutex = threading.Lock()

    def new_id(self, camera: str, started: datetime) -> str:
        """A clip id never handed out before in this data directory and free in every clip folder."""
        with self._mutex:
            for skipped in range(self.max_tries):  # ids tried and found taken before this one
                clip_id = make_clip_id(camera, started, seq_of(self._take()))
                if not self.taken(clip_id):
                    if skipped:
                        logger.warning("skipped %d clip id(s) whose names were already taken before %s", skipped,
                                       clip_id)
                    return clip_id
        raise NoFreeId(f"every clip id for {camera} at {started:%Y-%m-%dT%H:%M:%SZ} is taken in {self.dirs.root}")

    def taken(self, clip_id: str, *, own_part: bool = False) -> bool:
        """True if a file of that name exists in a clip folder, whoever put it there (``own_part``:
        the caller is publishing that temp file, which does not count)."""
        d = self.dirs
        names = [d.clip(clip_id), d.manifest(clip_id), d.transferred / f"{clip_id}.mp4",
                 d.transferred / f"{clip_id}.json"]
        return any(os.path.lexists(p) for p in (names if own_part else [d.part(clip_id), *names]))

    def _take(self) -> int:
        if self._next > self._limit:
            try:
                self._reserve()
            except (OSError, DataDirError) as e:  # e.g. a full disk: recording must go on
                logger.error("cannot save the clip id counter in %s (%s); counting on in memory until it can be "
                             "saved", self.dirs.root, e)
                self._limit = self._next + self.block - 1
        n = self._next
        self._next += 1
        return n

    def _reserve(self) -> None:
        root = self.dirs.root
        with _flock(root / LOCK_NAME, self.lock_timeout_s):
            stored, problems = read_counter(root)
            if stored is None:
                stored = highest_seq_on_disk(self.dirs)
                if not all(p.endswith("missing") for p in problems):
                    logger.warning("clip counter unreadable (%s); continuing after the highest sequence on disk, %d",
                                   "; ".join(problems), stored)
                elif stored:
                    logger.info("no clip counter yet; continuing after the highest sequence on disk, %d", stored)
            elif problems and not all(p.endswith("missing") for p in problems):
                logger.warning("clip counter: %s; using the intact copy (%d)", "; ".join(problems), stored)
            base = max(stored, self._limit)
            limit = base + self.block
            data = encode_counter(limit)
            for name in COUNTER_NAMES:  # one after the other: never both torn
                atomic_write_bytes(root / name, data)
        self._next, self._limit = base + 1, limit
