"""Whether the kernel's clock is synchronized (NTP or chrony has disciplined it), from adjtimex(2).

The same rule as systemd's ``ntp_synced()`` (src/basic/time-util.c), which ``timedatectl`` shows as
"System clock synchronized": adjtimex with no change requested, and the clock is synchronized unless
the call fails, returns TIME_ERROR, or the status has STA_UNSYNC. A Pi has no real-time clock: until
it is synchronized after boot, the wall clock (clip names, manifest times) may be far off.

Under systemd's ``ProtectClock=yes`` (watcher.service) the seccomp filter denies adjtimex even to read:
then the flag file systemd-timesyncd keeps (``/run/systemd/timesync/synchronized``, since systemd 239:
present once it has synchronized the clock; Raspberry Pi OS uses timesyncd) answers instead, and only
its presence counts (absent: unknown, since another NTP daemon may be in charge).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")
TIME_ERROR = 5
STA_UNSYNC = 0x0040


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):  # struct timex, <sys/timex.h> (Linux, glibc)
    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int), ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
        ("_padding", ctypes.c_int * 11),
    ]


def clock_synchronized(flag: Path = TIMESYNCD_FLAG) -> bool | None:
    """True or False per the kernel; where adjtimex cannot be called (denied by a seccomp filter, not
    Linux), True if timesyncd's flag file is there, else None (unknown)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        tx = _Timex()  # modes = 0: read only
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError) as e:
        logger.debug("adjtimex unavailable: %s", e)
        state = -1
    if state < 0:
        return True if flag.exists() else None
    return state != TIME_ERROR and not tx.status & STA_UNSYNC
