"""Secrets (an MQTT password, a webhook's signing key) read from a file of their own.

The configuration names the file, never the secret: a config file can be shown, copied into a bug
report or kept in git. The file must be owned by us and readable by nobody else (no group or other
permission bits): a secret the whole Pi can read is refused at start, with the command that fixes it.
The secret is the file's first line without its line end. Nothing here logs it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from shared.errors import ConfigError

MAX_SECRET_BYTES = 4096


def read_secret(path: Path, *, config: str, key: str) -> str:
    """The secret in ``path``, or ConfigError(config, key, why) naming the file and the key that names it."""
    def refuse(problem: str) -> ConfigError:
        return ConfigError(config, key, f"{path}: {problem}")

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise refuse("no such file") from None
    except PermissionError:
        raise refuse("permission denied") from None
    except OSError as e:
        raise refuse(e.strerror or str(e)) from None
    except ValueError:  # a NUL in the name
        raise refuse("not a valid file name") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refuse("not a regular file")
        if st.st_mode & 0o077:
            raise refuse(f"readable or writable by group or others (mode {stat.S_IMODE(st.st_mode):04o}); "
                         f"run: chmod 600 {path}")
        if st.st_uid != os.geteuid():
            raise refuse(f"owned by uid {st.st_uid}, not by this process's user (uid {os.geteuid()})")
        raw = os.read(fd, MAX_SECRET_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > MAX_SECRET_BYTES:
        raise refuse(f"larger than {MAX_SECRET_BYTES} bytes: not a secret file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse("not UTF-8 text") from None
    secret = text.splitlines()[0] if text else ""
    if not secret:
        raise refuse("empty (the secret is the file's first line)")
    return secret
