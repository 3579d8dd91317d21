"""sd_notify over a real AF_UNIX datagram socket bound by the test; time is injected, nothing sleeps."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from watcher.sdnotify import Watchdog, notify, socket_address, watchdog_interval


class NotifyListener:
    """The service manager's end: a bound datagram socket we read without blocking."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.setblocking(False)  # a datagram sent to a Unix socket is queued before sendall returns

    def messages(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[tuple[NotifyListener, str]]:
    d = tempfile.mkdtemp(prefix="sdn-")  # short: AF_UNIX paths are limited to 107 bytes
    path = os.path.join(d, "notify")
    lst = NotifyListener(path)
    yield lst, path
    lst.close()
    os.unlink(path)
    os.rmdir(d)


def test_ready_then_watchdog_while_frames_flow_and_none_after_stall(listener) -> None:
    lst, path = listener
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}  # WatchdogSec=2: ping every 1 s of frames
    threads_before = threading.active_count()
    wd = Watchdog(environ=env)
    assert wd.enabled and wd.interval_s == 1.0
    assert lst.messages() == []

    assert wd.ready()
    assert lst.messages() == ["READY=1"]

    fps, t0 = 30.0, 1000.0
    frame_times = [t0 + i / fps for i in range(int(5 * fps))]  # 5 s of frames
    for t in frame_times:
        wd.frame_flowed(t)
    got = lst.messages()
    assert got == ["WATCHDOG=1"] * 5, got  # at t0, t0+1, ..., t0+4: one per half period, not one per frame

    # The camera stalls: no more frames, time goes on. Nothing pings on its own (no thread, no timer).
    assert threading.active_count() == threads_before
    assert lst.messages() == []
    # Frames come back 10 s later: the next frame pings at once.
    assert wd.frame_flowed(t0 + 15.0)
    assert lst.messages() == ["WATCHDOG=1"]
    assert not wd.frame_flowed(t0 + 15.5)
    assert lst.messages() == []

    assert wd.status("recording cam1_x") and wd.stopping()
    assert lst.messages() == ["STATUS=recording cam1_x", "STOPPING=1"]


def test_ping_schedule_is_half_the_period(listener) -> None:
    lst, path = listener
    sent: list[float] = []
    wd = Watchdog(environ={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"})  # 10 s -> every 5 s
    for t in (0.0, 1.0, 4.99, 5.0, 9.9, 10.0, 10.1):
        if wd.frame_flowed(t):
            sent.append(t)
    assert sent == [0.0, 5.0, 10.0]
    assert lst.messages() == ["WATCHDOG=1"] * 3 and wd.pings == 3


def test_abstract_namespace_socket() -> None:
    name = f"motion-watcher-test-{os.getpid()}-{id(object())}"
    lst = NotifyListener("\0" + name)
    try:
        assert notify("READY=1", environ={"NOTIFY_SOCKET": "@" + name})
        assert lst.messages() == ["READY=1"]
    finally:
        lst.close()


def test_without_systemd_everything_is_a_no_op() -> None:
    wd = Watchdog(environ={})
    assert not wd.enabled
    assert not wd.ready() and not wd.frame_flowed(0.0) and not wd.stopping() and not wd.status("x")
    assert not notify("READY=1", environ={})


def test_watchdog_for_another_pid_is_ignored(listener) -> None:
    lst, path = listener
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    wd = Watchdog(environ=env)
    assert not wd.enabled and not wd.frame_flowed(0.0)
    assert wd.ready()  # READY still goes out: only the watchdog is meant for another process
    assert lst.messages() == ["READY=1"]
    assert Watchdog(environ=dict(env, WATCHDOG_PID=str(os.getpid()))).enabled


def test_dead_socket_is_reported_not_raised(tmp_path: Path) -> None:
    assert not notify("READY=1", environ={"NOTIFY_SOCKET": str(tmp_path / "gone")})


@pytest.mark.parametrize("value,expected", [
    ("/run/systemd/notify", "/run/systemd/notify"), ("@abc", "\0abc"), ("", None), (None, None),
    ("vsock:2:1234", None),
])
def test_socket_address(value: str | None, expected: str | None) -> None:
    assert socket_address(value) == expected


@pytest.mark.parametrize("env,interval", [
    ({}, None), ({"WATCHDOG_USEC": "0"}, None), ({"WATCHDOG_USEC": "junk"}, None),
    ({"WATCHDOG_USEC": "30000000"}, 15.0), ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "8"}, None),
])
def test_watchdog_interval(env: dict[str, str], interval: float | None) -> None:
    assert watchdog_interval(env, pid=7) == interval
