"""The watcher's data directory layout and its single-instance lock.

    <data_dir>/temp_clips/<id>.mp4.part    clip being recorded (fragmented MP4, flock held by its writer)
    <data_dir>/temp_clips/<id>.meta.json   what is known about it, for salvage after a crash
    <data_dir>/temp_clips/<id>.pending.json  its manifest-to-be; moved to recorded_clips/ as the commit
    <data_dir>/temp_clips/<id>.*.tmp       intermediate files of a publish in progress
    <data_dir>/recorded_clips/<id>.mp4     finished clip (standard MP4) ...
    <data_dir>/recorded_clips/<id>.json    ... and its manifest, written last: the commit marker
    <data_dir>/transferred/<id>.mp4|json   clips an inspector has copied and archived (it renames them here)
    <data_dir>/status.json                 health, rewritten atomically
    <data_dir>/clip-seq, clip-seq.copy     the clip id counter (watcher.clip_seq), and clip-seq.lock
    <data_dir>/watcher.lock                held (flock) by the one watcher using this directory
    <data_dir>/maintenance.lock            held (flock) while salvage or retention change clip folders
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.errors import DataDirError
from shared.flock import flocked, try_flock

PART_SUFFIX = ".mp4.part"
META_SUFFIX = ".meta.json"
PENDING_SUFFIX = ".pending.json"


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def temp(self) -> Path:
        return self.root / "temp_clips"

    @property
    def recorded(self) -> Path:
        return self.root / "recorded_clips"

    @property
    def transferred(self) -> Path:
        return self.root / "transferred"

    @property
    def status_file(self) -> Path:
        return self.root / "status.json"

    def part(self, clip_id: str) -> Path:
        return self.temp / f"{clip_id}{PART_SUFFIX}"

    def meta(self, clip_id: str) -> Path:
        return self.temp / f"{clip_id}{META_SUFFIX}"

    def pending(self, clip_id: str) -> Path:
        return self.temp / f"{clip_id}{PENDING_SUFFIX}"

    def tmp(self, clip_id: str, what: str) -> Path:
        return self.temp / f"{clip_id}.{what}.tmp"

    def clip(self, clip_id: str) -> Path:
        return self.recorded / f"{clip_id}.mp4"

    def manifest(self, clip_id: str) -> Path:
        return self.recorded / f"{clip_id}.json"

    def create(self) -> None:
        try:
            for d in (self.root, self.temp, self.recorded):
                d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DataDirError(f"cannot create data directory {self.root}: {e}") from e
        if os.stat(self.temp).st_dev != os.stat(self.recorded).st_dev:
            raise DataDirError(f"{self.temp} and {self.recorded} must be on one filesystem (atomic rename)")

    def lock(self) -> int:
        """Take the single-instance lock; return its fd (keep it open for the process lifetime)."""
        path = self.root / "watcher.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        if not try_flock(fd):
            os.close(fd)
            raise DataDirError(f"another watcher is using {self.root} (lock {path} is held)")
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd


@contextmanager
def maintenance_lock(dirs: DataDir, timeout_s: float = 120.0) -> Iterator[None]:
    """Serialize salvage and retention between the watcher and the cleanup command.

    Waits up to ``timeout_s`` (monotonic) for the lock; raises DataDirError after that."""
    path = dirs.root / "maintenance.lock"
    with flocked(path, timeout_s=timeout_s, poll_s=0.05) as held:
        if not held:
            raise DataDirError(f"{path} is held by another process for over {timeout_s:.0f} s")
        yield


def try_lock_file(path: Path) -> int | None:
    """Open ``path`` and take an exclusive non-blocking flock on it.

    Returns the fd (caller closes it to release), or None if a live writer holds the lock
    or the file vanished. This is how salvage and cleanup tell a live recording from an orphan.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    if not try_flock(fd):
        os.close(fd)
        return None
    return fd
