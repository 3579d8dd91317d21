"""What keeps the catalog honest: a damaged or lost catalog is an error, never a silent fresh start,
and a rebuild never swaps the file under a process that has it open.

Two checks run once per process and catalog file (by device and inode, so a catalog swapped in by
a rebuild is checked again), when the first :class:`~inspector.catalog.Catalog` opens it:

- a missing or 0-byte catalog beside a library that holds clips (``clips/`` or ``quarantine/``)
  is :class:`CatalogMissing`: starting afresh would hide every stored clip for good. A brand-new
  library (no clips yet) starts fresh.
- anything else must be an SQLite database that passes ``PRAGMA quick_check`` (a file that is
  not a database, a truncated file, a malformed page): otherwise :class:`CatalogDamaged`.
  ``quick_check`` reads every page once (O(size): 0.2-0.6 s for 100,000 clips, a 30 MB catalog,
  here), which is why it runs at a process's first open and not on every thread's connection.

The library lock (``<library>/catalog.lock``, :data:`LOCK_NAME`) is an ``flock``: every process
holds it *shared* while it has at least one Catalog open (taken by the first open, released by the
last close; :class:`_Lease` counts them), and ``catalog rebuild`` takes it *exclusively*
(:func:`hold_exclusive`) for its whole scan and swap. So a rebuild never runs while a ``run``,
``pull``, analysis or report has the catalog open, and none of them opens it during a rebuild (they
fail at once with :class:`CatalogBusy`, exit 75, for systemd to retry). Code that changes the
library's files without a Catalog open must hold :func:`library_lease` around it.

Threads: any thread may open or close a Catalog; ``_LOCK`` guards the lease table and the set of
checked files, and is held during a first check so that two threads never run it twice.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.errors import AppError
from shared.flock import flocked, try_flock

logger = logging.getLogger(__name__)

LOCK_NAME = "catalog.lock"
SQLITE_MAGIC = b"SQLite format 3\x00"
REBUILD_HINT = "python -m inspector catalog rebuild --config FILE"

_LOCK = threading.Lock()
_LEASES: dict[str, _Lease] = {}
_CHECKED: set[tuple[int, int]] = set()


class CatalogError(AppError):
    """The catalog cannot be used as it is; the message says why and what to do."""

    exit_code = 65  # EX_DATAERR: restarting does not help until someone rebuilds it


class CatalogDamaged(CatalogError):
    pass


class CatalogMissing(CatalogError):
    pass


class CatalogBusy(CatalogError):
    """Another process holds the library in a way that excludes us (a rebuild, or, for the
    rebuild, any other inspector process)."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class _Lease:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.count = 0


def _open_lock(library: Path) -> int:
    return os.open(library / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def acquire_lease(library: Path) -> None:
    """Count one more open Catalog of ``library`` in this process; the first takes the shared lock."""
    key = str(library.resolve())
    with _LOCK:
        lease = _LEASES.get(key)
        if lease is None:
            fd = _open_lock(library)
            if not try_flock(fd, exclusive=False):
                os.close(fd)
                raise CatalogBusy(f"{library / 'catalog.sqlite3'}: the catalog is being rebuilt or checked by "
                                  f"another process ({_holders(library) or 'unknown'}); try again when it is "
                                  "done")
            lease = _LEASES[key] = _Lease(fd)
        lease.count += 1


def release_lease(library: Path) -> None:
    key = str(library.resolve())
    with _LOCK:
        lease = _LEASES.get(key)
        if lease is None:
            return
        lease.count -= 1
        if lease.count <= 0:
            del _LEASES[key]
            os.close(lease.fd)  # releases the shared flock


@contextmanager
def library_lease(library: Path) -> Iterator[None]:
    """Hold the library (shared) without a Catalog open: a rebuild waits for it."""
    acquire_lease(library)
    try:
        yield
    finally:
        release_lease(library)


@contextmanager
def hold_exclusive(library: Path, wait_s: float = 10.0, poll_s: float = 0.1) -> Iterator[None]:
    """Hold the library alone (for a rebuild). Waits up to ``wait_s`` for short holders (a
    ``status``, a report build) to finish, then refuses with :class:`CatalogBusy` naming them."""
    with _LOCK:
        if _LEASES.get(str(library.resolve())):
            raise CatalogBusy(f"{library}: this process has the catalog open; close it before a rebuild")
    fd = _open_lock(library)
    try:
        with flocked(fd, timeout_s=wait_s, poll_s=poll_s) as held:
            if not held:
                raise CatalogBusy(f"{library}: another inspector process holds the library "
                                  f"({_holders(library) or 'unknown'}); stop it (systemctl stop inspector) "
                                  "and try again")
            yield
    finally:
        os.close(fd)


def _holders(library: Path) -> str:
    """Who holds the lock file, from /proc/locks (Linux): 'pid 123 (python -m inspector run ...)'."""
    try:
        st = os.stat(library / LOCK_NAME)
        lines = Path("/proc/locks").read_text().splitlines()[:10000]
    except OSError:
        return ""
    want = f":{st.st_ino}"
    pids = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5].endswith(want) and parts[4] != str(os.getpid()):
            pids.append(parts[4])
    out = []
    for pid in sorted(set(pids))[:5]:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()[:200].replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmd = "?"
        out.append(f"pid {pid} ({cmd.strip()})")
    return ", ".join(out)


def library_has_clips(library: Path) -> bool:
    """Whether any stored or quarantined clip file is in the library. Stops at the first one."""
    def any_file(d: Path, depth: int) -> bool:
        try:
            with os.scandir(d) as it:
                for e in it:
                    if depth == 0:
                        if e.is_file(follow_symlinks=False):
                            return True
                    elif e.is_dir(follow_symlinks=False) and any_file(Path(e.path), depth - 1):
                        return True
        except (FileNotFoundError, NotADirectoryError):
            pass
        return False

    return any_file(library / "clips", 3) or any_file(library / "quarantine", 1)


def check_library(library: Path) -> None:
    """What an entry point calls after loading its config: the first-open check of the library's
    catalog, so that damage is one clear error (a CatalogError) before any work starts."""
    library = Path(library)
    if not library.is_dir():
        return  # a brand-new library: nothing to check, nothing to hold yet
    with library_lease(library):  # a rebuild in progress: CatalogBusy here, not later mid-work
        verify_catalog(library / "catalog.sqlite3")


def verify_catalog(path: Path) -> None:
    """The first-open check (see the module docstring); a no-op for a file already checked."""
    with _LOCK:
        try:
            st = path.stat()
        except FileNotFoundError:
            st = None
        if st is None or (st.st_size == 0 and _wal_empty(path)):
            if library_has_clips(path.parent):
                state = "missing" if st is None else "empty (0 bytes)"
                raise CatalogMissing(f"{path} is {state} but {path.parent} holds clips: the catalog was lost. "
                                     f"Rebuild it from the library's files: {REBUILD_HINT}")
            return  # a brand-new library: SQLite creates the catalog
        key = (st.st_dev, st.st_ino)
        if key in _CHECKED:
            return
        problem = catalog_problem(path)
        if problem:
            raise CatalogDamaged(f"{path} is damaged ({problem}). Rebuild it from the library's files: "
                                 f"{REBUILD_HINT} (the damaged file is kept aside)")
        _CHECKED.add(key)


def _wal_empty(path: Path) -> bool:
    try:
        return Path(f"{path}-wal").stat().st_size == 0
    except FileNotFoundError:
        return True


def catalog_problem(path: Path) -> str | None:
    """None if ``path`` is a sound SQLite database; else what is wrong, in a few words."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as e:
        return f"cannot read it: {e.strerror or e}"
    if head != SQLITE_MAGIC and not (head == b"" and not _wal_empty(path)):
        return "not an SQLite database: its header is wrong" if len(head) == len(SQLITE_MAGIC) else \
            f"truncated to {len(head)} bytes"
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=30.0)
        try:
            rows = db.execute("PRAGMA quick_check").fetchmany(5)
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        return f"SQLite: {e}"
    if rows != [("ok",)]:
        text = "; ".join(str(r[0]) for r in rows).replace("\n", " ")
        return f"quick_check: {text[:300]}"
    return None
