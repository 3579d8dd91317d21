"""Durable file operations: the one way this project replaces a file (borg's ``SaveFile`` sequence).

Guarantee of :func:`save_file` (and of :func:`atomic_write_bytes` and :func:`link_durably`, built on
the same steps): when the ``with`` block ends without an exception, the target holds the complete
new content and survives a power cut; until then, a reader sees the old target (or none), never a
partial file. If the block raises, the temp file is removed and the target is untouched.

The temp file is created beside the target (or in ``tmp_dir``, which must be on the target's
filesystem, since the last step is a rename) under a name no other writer can hold:
``.<target name>.<pid>.<random>.tmp``, created with ``O_EXCL``. The pid stays in the name so that
a process cleaning up after a killed one can find that one's leftovers (see
:func:`temp_files_of`); the random part is what keeps two threads of one process apart.

The only other renames onto a published name in the project are deliberate no-replace moves
(watcher/noreplace.py, inspector/library.py's link placement) and the report's symlink flip.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".tmp"
_NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a directory so that renames/creations inside it are durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike[str]) -> None:
    """fsync a file written by someone else (a remuxer, a download) before it is given a name."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(target: Path, tmp_dir: Path | None = None, *, pid: int | None = None) -> Path:
    """A fresh temp name for ``target``: ``.<name>.<pid>.<random>.tmp`` in ``tmp_dir`` or beside it."""
    parent = tmp_dir if tmp_dir is not None else target.parent
    return parent / f".{target.name}.{os.getpid() if pid is None else pid}.{secrets.token_hex(6)}{TEMP_SUFFIX}"


def temp_files_of(target: Path, pid: int, tmp_dir: Path | None = None) -> list[Path]:
    """The temp files process ``pid`` may have left while writing ``target`` (it was killed)."""
    parent = tmp_dir if tmp_dir is not None else target.parent
    return sorted(parent.glob(f".{target.name}.{pid}.*{TEMP_SUFFIX}"))


def _create_exclusive(target: Path, tmp_dir: Path | None) -> BinaryIO:
    """Open a temp file no one else has (``O_EXCL``); mode 0o666 less the umask, as a plain open gives."""
    for _ in range(100):
        try:
            return open(temp_name(target, tmp_dir), "xb")  # closed by save_file
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"no free temp name beside {target}")


@contextmanager
def save_file(target: str | os.PathLike[str], *, tmp_dir: Path | None = None) -> Iterator[BinaryIO]:
    """Yield a binary file whose content replaces ``target`` durably when the block ends.

    On a normal exit: flush, fsync the file, ``os.replace`` it onto ``target``, fsync the target's
    directory. On an exception: the temp file is removed and ``target`` is not touched. The file's
    ``name`` is the temp path (a caller may check the content by path before the replace)."""
    target = Path(target)
    f = _create_exclusive(target, tmp_dir)
    tmp = Path(f.name)
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(target: Path, data: bytes, *, tmp_dir: Path | None = None) -> None:
    """Write ``data`` to ``target`` atomically and durably (see :func:`save_file`)."""
    with save_file(target, tmp_dir=tmp_dir) as f:
        f.write(data)


def replace_durably(src: Path, target: Path) -> None:
    """Give a complete file ``src`` (made by a library that wants a path, e.g. SQLite) the name
    ``target``, replacing it: fsync ``src``, ``os.replace``, fsync the directory. ``src`` must be
    a temp file of this process beside ``target`` (see :func:`temp_name`)."""
    fsync_file(src)
    os.replace(src, target)
    fsync_dir(target.parent)


def move_durably(src: Path, target: Path) -> None:
    """Move an existing file to another directory of the same filesystem, replacing ``target``;
    both directories are fsynced, so after a power cut the file is in exactly one of them."""
    os.replace(src, target)
    fsync_dir(target.parent)
    if src.parent != target.parent:
        fsync_dir(src.parent)


def link_durably(src: Path, target: Path) -> None:
    """Give ``src``'s file the name ``target`` too, replacing ``target``: a hard link made under a
    temp name and renamed into place, so ``src`` keeps its name. Where the filesystem has no hard
    links, ``src`` is renamed onto ``target`` instead (its own name is then gone)."""
    tmp = temp_name(target)
    try:
        os.link(src, tmp)
    except OSError as e:
        if e.errno not in _NO_HARD_LINKS:
            raise
        os.replace(src, target)
    else:
        try:
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    fsync_dir(target.parent)
