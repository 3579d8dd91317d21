"""The clock's synchronization state: the kernel's word (adjtimex) where it may be asked, timesyncd's flag
file where a seccomp filter (systemd's ProtectClock=yes, as in watcher.service) denies the call."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import pytest

from watcher import clock_sync


def test_the_kernel_answers_here() -> None:
    assert isinstance(clock_sync.clock_synchronized(), bool)  # Linux, adjtimex allowed in this process


class _DeniedLibc:
    """libc as seen under ProtectClock=yes: systemd's SystemCallFilter=~@clock makes adjtimex fail with
    EPERM (systemd.exec(5), ProtectClock=), so it returns -1 whatever it is asked."""

    def adjtimex(self, _buf: Any) -> int:
        return -1


def test_denied_adjtimex_falls_back_to_timesyncds_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: _DeniedLibc())
    flag = tmp_path / "synchronized"
    assert clock_sync.clock_synchronized(flag) is None, "no flag: unknown (another NTP daemon may run)"
    flag.touch()
    assert clock_sync.clock_synchronized(flag) is True
