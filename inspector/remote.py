"""What the puller needs from a watcher's ``recorded_clips/``, whatever carries it.

:class:`RemoteStore` is the contract; :mod:`inspector.sftp` implements it over SSH (the real
thing) and :class:`LocalStore` over a local directory (the demo without sshd, and tests of the
pure pull logic). Names passed in are single path components that the caller has already
checked with the shared naming function; the stores check again and refuse anything else.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

ARCHIVE_DIR = "transferred"
STATUS_FILE = "status.json"  # the watcher's health document, beside recorded_clips/


class RemoteError(OSError):
    """A remote operation failed (the connection may be gone)."""


class ClipAbandoned(RemoteError):
    """One clip's transfer was given up (it arrived slower than the configured floor); the store
    is still usable for the next clip, and what arrived is kept to resume from."""


@dataclass(frozen=True)
class RemoteEntry:
    name: str
    size: int
    mtime: float
    kind: str  # "file", "dir", "link" or "other" (lstat: a symlink is never followed)


class RemoteReader(Protocol):
    def fstat(self) -> tuple[int, float, str]:
        """(size, mtime, kind) of the open file itself."""
        ...

    def read_windows(self, offset: int, length: int, window: int) -> Iterator[bytes | memoryview]:
        """Yield the bytes from ``offset`` on in order, ``length`` of them, fetching ``window`` bytes at a time.
        May raise :class:`ClipAbandoned` (too slow: skip this clip, go on with the next) or
        :class:`RemoteError` (the connection is in doubt)."""
        ...

    def close(self) -> None: ...


class RemoteStore(Protocol):
    """Thread safety: several threads may call one store at once (several clips in flight over one
    connection); each :class:`RemoteReader` it opens is used by one thread at a time."""

    # How many clips a Puller may have in flight on this store at once, each from its own thread.
    max_clips_in_flight: int

    def list(self) -> Iterator[RemoteEntry]:
        """The directory's entries (lstat: links not followed), streamed: a directory of any size
        costs bounded memory. A name that is not valid UTF-8 comes decoded with ``surrogateescape``
        (so it can be told apart and skipped, never raised on). Closing the iterator early ends the
        listing cleanly."""
        ...

    def open(self, name: str) -> RemoteReader: ...

    def open_status(self) -> RemoteReader:
        """The watcher's status.json (beside recorded_clips/), to read; never written."""
        ...

    def archive(self, name: str) -> None:
        """Atomically move ``name`` into the sibling ``transferred/`` folder (replacing a stale copy).
        A name that is already gone is not an error (an earlier pass did it). Over SFTP the folder
        must exist (deploy creates it; the inspector's account cannot create directories)."""
        ...

    def delete(self, name: str) -> None:
        """Remove ``name``; a name that is already gone is not an error."""
        ...

    def close(self) -> None: ...

    def abort(self) -> None:
        """Cut the connection from any thread: every blocked call, in any thread, fails soon after
        (used on SIGTERM); the owner still calls ``close``."""
        ...


def check_name(name: str) -> str:
    if not name or "/" in name or "\x00" in name or name in (".", "..") or name.startswith("."):
        raise RemoteError(f"refusing unsafe remote name {name!r}")
    return name


def archive_dir_of(remote_dir: str) -> str:
    return posixpath.join(posixpath.dirname(remote_dir.rstrip("/")) or "/", ARCHIVE_DIR)


def status_path_of(remote_dir: str) -> str:
    return posixpath.join(posixpath.dirname(remote_dir.rstrip("/")) or "/", STATUS_FILE)


def kind_of(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    return "other"


class _LocalReader:
    def __init__(self, path: Path) -> None:
        # O_NOFOLLOW: a symlink swapped in after listing is refused, not followed
        self._fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)

    def fstat(self) -> tuple[int, float, str]:
        st = os.fstat(self._fd)
        return st.st_size, st.st_mtime, kind_of(st.st_mode)

    def read_windows(self, offset: int, length: int, window: int) -> Iterator[bytes]:
        end = offset + length
        while offset < end:
            data = os.pread(self._fd, min(window, end - offset), offset)
            if not data:
                raise RemoteError("file shrank while reading")
            offset += len(data)
            yield data

    def close(self) -> None:
        os.close(self._fd)


class LocalStore:
    """A watcher's recorded_clips/ reachable as a local directory. Any number of threads may use it
    (every call is its own system calls on paths or on a reader's own descriptor)."""

    max_clips_in_flight = 64

    def __init__(self, remote_dir: str) -> None:
        self.dir = Path(remote_dir)
        self.archive_dir = Path(archive_dir_of(remote_dir))

    def list(self) -> Iterator[RemoteEntry]:
        try:
            it = os.scandir(self.dir)  # str path: names come back surrogate-escaped, never undecodable
        except OSError as e:
            raise RemoteError(f"cannot list {self.dir}: {e}") from e
        with it:
            while True:
                try:
                    entry = next(it)
                except StopIteration:
                    return
                except OSError as err:
                    raise RemoteError(f"cannot list {self.dir}: {err}") from err
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # gone since readdir (archived by another inspector, or cleaned up)
                except OSError as err:
                    raise RemoteError(f"cannot stat {entry.name!r} in {self.dir}: {err}") from err
                yield RemoteEntry(entry.name, st.st_size, st.st_mtime, kind_of(st.st_mode))

    def open(self, name: str) -> _LocalReader:
        try:
            return _LocalReader(self.dir / check_name(name))
        except OSError as e:
            raise RemoteError(f"cannot open {name}: {e}") from e

    def open_status(self) -> _LocalReader:
        try:
            return _LocalReader(self.dir.parent / STATUS_FILE)
        except OSError as e:
            raise RemoteError(f"cannot open {STATUS_FILE}: {e}") from e

    def archive(self, name: str) -> None:
        try:
            self.archive_dir.mkdir(exist_ok=True)
            # the SFTP store's posix_rename, done locally: a rename on the watcher's side, as over SFTP
            # (not a publish of ours; the watcher's retention reads transferred/ as the inspector left it)
            os.replace(self.dir / check_name(name), self.archive_dir / name)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise RemoteError(f"cannot archive {name}: {e}") from e

    def delete(self, name: str) -> None:
        try:
            (self.dir / check_name(name)).unlink(missing_ok=True)
        except OSError as e:
            raise RemoteError(f"cannot delete {name}: {e}") from e

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass  # local reads do not block on a peer
