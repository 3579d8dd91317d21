"""Is the wall clock synchronized? Clip names and manifests carry UTC wall time, and a Pi has no
clock battery (the Pi 5 has an RTC, but without a battery it forgets too): until NTP syncs after
boot, fake-hwclock's saved time is what clips are named with.

Asked in turn: ``timedatectl show`` (systemd), the flag file systemd-timesyncd keeps in
/run/systemd/timesync/synchronized (present means synchronized; its absence says nothing, chrony
or ntpd may be in charge), then the kernel itself through ``adjtimex(2)`` (STA_UNSYNC).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from pathlib import Path

from watcher.doctor.probes import CommandRunner, run_command
from watcher.doctor.result import CheckResult, na, ok, warn

STA_UNSYNC = 0x0040
TIME_ERROR = 5
WRONG_NAMES = "clip names use UTC wall time: clips recorded now get wrong names and times"
SYNC_FIX = ("`sudo timedatectl set-ntp true` and network access to an NTP server (`timedatectl timesync-status`); "
            "`sudo systemctl enable systemd-time-wait-sync` makes the watcher wait for the sync at boot")


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):  # struct timex, <sys/timex.h>
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
                ("shift", ctypes.c_int), ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long),
                ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long),
                ("tai", ctypes.c_int), ("_reserved", ctypes.c_int * 11)]


def kernel_synchronized() -> bool | None:
    """The kernel's view (adjtimex with modes=0 only reads; no privilege needed), or None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        tx = _Timex()
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return not (state == TIME_ERROR or tx.status & STA_UNSYNC)


def _timedatectl(runner: CommandRunner) -> dict[str, str] | None:
    r = runner(["timedatectl", "show", "-p", "NTPSynchronized", "-p", "NTP"], 10.0)
    if r.returncode != 0:
        return None
    props = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    return props if "NTPSynchronized" in props else None


def _boot_wait(runner: CommandRunner, rtc_dir: Path) -> str | None:
    """A warning when the watcher will not wait for the clock at boot and nothing keeps time while off."""
    if rtc_dir.is_dir() and any(rtc_dir.iterdir()):
        return None  # an RTC (Pi 5, or an add-on board) keeps the time across reboots, if it has a battery
    r = runner(["systemctl", "is-enabled", "systemd-time-wait-sync.service"], 10.0)
    if r.returncode is None or r.stdout.strip() in ("enabled", "static", "enabled-runtime"):
        return None
    return ("synchronized now, but at boot the watcher starts before the sync (no RTC, systemd-time-wait-sync "
            "is not enabled): the first clips after a boot get the time of the last shutdown")


def check_clock(*, runner: CommandRunner = run_command, systemd_booted: bool = True,
                timesync_flag: Path = Path("/run/systemd/timesync/synchronized"),
                kernel: Callable[[], bool | None] = kernel_synchronized,
                rtc_dir: Path = Path("/sys/class/rtc")) -> CheckResult:
    props = _timedatectl(runner) if systemd_booted else None
    if props is not None:
        synced = props.get("NTPSynchronized") == "yes"
        if not synced:
            how = "no NTP service is enabled" if props.get("NTP") == "no" else "NTP has not synchronized yet"
            return warn("clock", f"not synchronized ({how}; timedatectl): {WRONG_NAMES}", SYNC_FIX,
                        source="timedatectl")
        late = _boot_wait(runner, rtc_dir)
        if late:
            return warn("clock", late, "`sudo systemctl enable systemd-time-wait-sync`", source="timedatectl")
        return ok("clock", "synchronized (timedatectl)", source="timedatectl")
    if timesync_flag.exists():
        return ok("clock", f"synchronized ({timesync_flag} exists)", source="timesyncd")
    by_kernel = kernel()
    if by_kernel is None:
        return na("clock", "cannot tell: no timedatectl answer, no timesyncd flag, adjtimex unavailable")
    if not by_kernel:
        return warn("clock", f"not synchronized (kernel adjtimex: STA_UNSYNC): {WRONG_NAMES}", SYNC_FIX,
                    source="adjtimex")
    return ok("clock", "synchronized (kernel adjtimex)", source="adjtimex")
