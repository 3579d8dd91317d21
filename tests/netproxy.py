"""A slow network link for tests and benchmarks: a TCP proxy on loopback with a one-way delay, a
bandwidth cap and a freeze switch.

There is no kernel netem here, so a Pi on Wi-Fi (tens of milliseconds away, a few MB/s) is
simulated in user space: every connection accepted on ``127.0.0.1:<port>`` is carried to the
target through two pumps (one per direction). Each pump reads what arrives, stamps it, and a
writer delivers it no earlier than ``delay_s`` later and no faster than ``bytes_per_s``; a
bounded queue between them keeps TCP's back-pressure (a sender sees a full window, not an
infinite buffer). ``freeze()`` stops delivery in both directions while keeping every
connection open: a peer that went silent without closing. ``thaw()`` resumes it.

    with LinkProxy(("127.0.0.1", sshd.port), delay_s=0.02, bytes_per_s=5e6) as link:
        ... connect to ("127.0.0.1", link.port) ...
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from types import TracebackType

logger = logging.getLogger(__name__)

CHUNK = 16 * 1024
QUEUE_CHUNKS = 64  # at most 1 MiB in flight per direction inside the proxy


class LinkProxy:
    def __init__(self, target: tuple[str, int], *, delay_s: float = 0.0, bytes_per_s: float | None = None) -> None:
        self.target = target
        self.delay_s = delay_s
        self.bytes_per_s = bytes_per_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._thawed = threading.Event()
        self._thawed.set()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.connections = 0
        self.bytes_down = 0  # target -> client
        self.bytes_up = 0  # client -> target

    # --- control -------------------------------------------------------------------------

    def start(self) -> LinkProxy:
        self._spawn(self._accept_loop, "proxy-accept")
        return self

    def freeze(self) -> None:
        """Stop delivering bytes in both directions; connections stay open."""
        self._thawed.clear()

    def thaw(self) -> None:
        self._thawed.set()

    def drop_all(self) -> None:
        """Close every proxied connection abruptly (the link went down); keep accepting new ones."""
        with self._lock:
            socks, self._sockets = self._sockets, []
        for s in socks:
            _close(s)

    def close(self) -> None:
        self._closed.set()
        self._thawed.set()
        _close(self._listener)
        self.drop_all()
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self) -> LinkProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------

    def _spawn(self, target, name: str, *args: object) -> None:  # type: ignore[no-untyped-def]
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError as e:
                logger.warning("proxy: cannot reach %s: %s", self.target, e)
                _close(client)
                continue
            upstream.settimeout(None)
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, upstream]
                self.connections += 1
            self._pump(client, upstream, "up")
            self._pump(upstream, client, "down")

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str) -> None:
        q: queue.Queue[tuple[float, bytes]] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._spawn(self._reader, f"proxy-read-{direction}", src, dst, q)
        self._spawn(self._writer, f"proxy-write-{direction}", src, dst, q, direction)

    def _reader(self, src: socket.socket, dst: socket.socket, q: queue.Queue[tuple[float, bytes]]) -> None:
        while True:
            try:
                data = src.recv(CHUNK)
            except OSError:
                data = b""
            if not self._put(q, (time.monotonic() + self.delay_s, data)) or not data:
                return

    def _put(self, q: queue.Queue[tuple[float, bytes]], item: tuple[float, bytes]) -> bool:
        while not self._closed.is_set():
            try:
                q.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _writer(self, src: socket.socket, dst: socket.socket, q: queue.Queue[tuple[float, bytes]],
                direction: str) -> None:
        link_free_at = 0.0
        while not self._closed.is_set():
            try:
                due, data = q.get(timeout=0.5)
            except queue.Empty:
                continue
            if not data:  # the sender closed its side: pass the half-close on
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                return
            self._thawed.wait()
            # store and forward: a chunk leaves once it is due and the link has carried all of it
            link_free_at = max(due, link_free_at) + (len(data) / self.bytes_per_s if self.bytes_per_s else 0.0)
            wait = link_free_at - time.monotonic()
            if wait > 0 and self._closed.wait(wait):  # the simulated link's own clock
                return
            self._thawed.wait()
            try:
                dst.sendall(data)
            except OSError:
                _close(src)
                return
            with self._lock:
                if direction == "down":
                    self.bytes_down += len(data)
                else:
                    self.bytes_up += len(data)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        s.close()
