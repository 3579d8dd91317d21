"""Durable file operations (the borg save-file sequence).

Guarantee of :func:`atomic_write_bytes` and :func:`publish_file`: after they return, the
target holds the complete new content and survives a power cut; before they return, a
reader sees either the old target (or none) or the complete new one, never a partial file.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a directory so that renames/creations inside it are durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(target: Path, data: bytes, *, tmp_dir: Path | None = None) -> None:
    """Write ``data`` to ``target`` atomically and durably.

    The temp file lives in ``tmp_dir`` (same filesystem as ``target``) or beside the target
    as a dot-file; it is removed if anything fails.
    """
    tmp_parent = tmp_dir if tmp_dir is not None else target.parent
    tmp = tmp_parent / f".{target.name}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def publish_file(src: Path, target: Path) -> None:
    """Durably move a complete file ``src`` onto ``target`` (same filesystem).

    ``src`` is fsynced first, then renamed with ``os.replace`` (atomic), then the target's
    directory is fsynced so the rename survives a power cut.
    """
    fsync_file(src)
    os.replace(src, target)
    fsync_dir(target.parent)
