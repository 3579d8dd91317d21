"""shared.flock on real files: one try, a deadline, blocking, shared vs exclusive, path vs a kept fd.
(flock conflicts between open file descriptions, so two opens in one process stand for two processes.)"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from shared.flock import flock_within, flocked, try_flock


def _open(p: Path) -> int:
    return os.open(p, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def test_try_once_sees_a_holder_and_the_lock_goes_with_the_holders_fd(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    a, b = _open(lock), _open(lock)
    try:
        assert try_flock(a)
        assert not try_flock(b)
        assert not try_flock(b, exclusive=False)
        os.close(a)  # what a killed writer's kernel does
        a = -1
        assert try_flock(b)
    finally:
        for fd in (a, b):
            if fd >= 0:
                os.close(fd)


def test_shared_holders_share_and_keep_an_exclusive_out(tmp_path: Path) -> None:
    lock = tmp_path / "lib.lock"
    with flocked(lock, exclusive=False) as one, flocked(lock, exclusive=False) as two:
        assert one and two
        with flocked(lock) as alone:
            assert not alone
    with flocked(lock) as alone:
        assert alone


def test_a_deadline_gives_up_after_it_and_not_before(tmp_path: Path) -> None:
    lock = tmp_path / "m.lock"
    with flocked(lock) as held:
        assert held
        t0 = time.monotonic()
        with flocked(lock, timeout_s=0.3, poll_s=0.01) as second:
            waited = time.monotonic() - t0
        assert not second and 0.3 <= waited < 5.0


def test_a_deadline_wait_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    lock = tmp_path / "m.lock"
    holder = _open(lock)
    assert try_flock(holder)
    waiting = threading.Event()
    got: list[bool] = []

    def waiter() -> None:
        fd = _open(lock)
        try:
            waiting.set()
            got.append(flock_within(fd, 30.0, poll_s=0.01))
        finally:
            os.close(fd)

    t = threading.Thread(target=waiter)
    t.start()
    assert waiting.wait(10)
    os.close(holder)
    t.join(30)
    assert got == [True]


def test_blocking_waits_for_the_holder(tmp_path: Path) -> None:
    lock = tmp_path / ".report.lock"
    order: list[str] = []
    entered = threading.Event()
    with flocked(lock, timeout_s=None) as held:
        assert held

        def second() -> None:
            with flocked(lock, timeout_s=None):
                order.append("second")
                entered.set()

        t = threading.Thread(target=second)
        t.start()
        assert not entered.wait(0.2), "the second builder ran while the first held the lock"
        order.append("first done")
    t.join(30)
    assert order == ["first done", "second"]


def test_a_kept_fd_is_unlocked_not_closed(tmp_path: Path) -> None:
    lock = tmp_path / "c.part"
    fd, other = _open(lock), _open(lock)
    try:
        with flocked(fd) as held:
            assert held and not try_flock(other)
        os.fstat(fd)  # still open: the caller's
        assert try_flock(other)
    finally:
        os.close(fd)
        os.close(other)


def test_a_path_lock_is_created_with_its_mode(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with flocked(tmp_path / "clip-seq.lock", mode=0o640) as held:
            assert held
    finally:
        os.umask(old)
    assert (tmp_path / "clip-seq.lock").stat().st_mode & 0o777 == 0o640
