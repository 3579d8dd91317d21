"""Moving a file onto a name only if that name is free: the watcher never replaces anything in recorded_clips/.

recorded_clips/ is shared with the inspector's SFTP account, which may have put anything on the name
the watcher is about to use (an empty file, another clip renamed there). ``os.replace`` would
silently destroy it, so every publish goes through :func:`rename_noreplace`, which fails with a
clear "taken" instead, and the caller picks another name.

renameat2(RENAME_NOREPLACE) does it in one atomic step (Linux >= 3.15, glibc >= 2.28; ext4, xfs,
btrfs, tmpfs, vfat). Where the filesystem refuses the flag, a hard link and an unlink do the
same without ever replacing (a crash in between leaves both names: callers tolerate that); where
it has no hard links either, a check then a rename is the last resort (it could replace a file
created in between, so it is logged once).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def _load_renameat2() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):  # no glibc renameat2: musl before 1.2.4, old glibc
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _load_renameat2()
_racy_fallback_logged = False


def rename_noreplace(src: Path, dst: Path) -> bool:
    """Rename ``src`` to ``dst`` unless ``dst`` exists (any kind: file, directory, symlink).

    Returns False when ``dst`` is taken; raises OSError for anything else (``src`` missing, I/O).
    Not durable by itself: fsync the directories afterwards."""
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return True
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            return False
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), str(src), None, str(dst))
    return _link_then_unlink(src, dst)


def _link_then_unlink(src: Path, dst: Path) -> bool:
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        return False
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        return _check_then_rename(src, dst)
    os.unlink(src)
    return True


def _check_then_rename(src: Path, dst: Path) -> bool:
    global _racy_fallback_logged  # noqa: PLW0603 - once per process, whichever thread gets here first
    if not _racy_fallback_logged:
        _racy_fallback_logged = True
        logger.warning("%s: the filesystem has neither RENAME_NOREPLACE nor hard links; publishing with a check "
                       "then a rename (a file created in between would be replaced)", dst.parent)
    if os.path.lexists(dst):
        return False
    os.rename(src, dst)
    return True


def describe(path: Path) -> str:
    """What occupies ``path``, for a log line: 'a directory', 'a symlink', 'a file of N bytes'."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return "nothing (it went away)"
    except OSError as e:
        return f"something unreadable ({e.strerror})"
    if stat.S_ISDIR(st.st_mode):
        return "a directory"
    if stat.S_ISLNK(st.st_mode):
        return "a symlink"
    if stat.S_ISREG(st.st_mode):
        return f"a file of {st.st_size} bytes (owner uid {st.st_uid})"
    return "a special file"
