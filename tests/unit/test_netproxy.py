"""The test link itself: bytes arrive intact, no faster than the cap, and not at all while frozen."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.netproxy import LinkProxy


@pytest.fixture
def echo_port() -> Iterator[int]:
    srv = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(c,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()


def _echo(c: socket.socket) -> None:
    with c:
        while data := c.recv(65536):
            c.sendall(data)


def _roundtrip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        threading.Thread(target=s.sendall, args=(payload,), daemon=True).start()
        got = bytearray()
        while len(got) < len(payload):
            got += s.recv(65536)
    return bytes(got)


def test_bytes_arrive_intact_and_no_faster_than_the_cap(echo_port: int) -> None:
    payload = os.urandom(1 << 20)
    with LinkProxy(("127.0.0.1", echo_port), delay_s=0.01, bytes_per_s=4e6) as link:
        t0 = time.monotonic()
        got = _roundtrip(link.port, payload)
        elapsed = time.monotonic() - t0
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
    assert elapsed >= 0.25, f"1 MiB at 4 MB/s took {elapsed:.3f} s"  # a floor: the cap can never be beaten
    assert link.bytes_up == link.bytes_down == len(payload)


def test_frozen_link_holds_bytes_until_thawed(echo_port: int) -> None:
    with LinkProxy(("127.0.0.1", echo_port)) as link, socket.create_connection(("127.0.0.1", link.port)) as s:
        assert _roundtrip(link.port, b"warm") == b"warm"
        link.freeze()
        s.sendall(b"hello")
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(10)  # a silent peer: the connection is open, nothing comes
        link.thaw()
        s.settimeout(10)
        assert s.recv(10) == b"hello"
