"""One SFTP session over one ``ssh`` process: requests from any thread, replies demultiplexed by id.

:meth:`SftpSession.send` gives a request an id, registers a :class:`Pending` for it and writes it
to ssh's stdin; :meth:`SftpSession.wait` blocks on that Pending. A reader thread reads ssh's
stdout, parses each reply (:mod:`inspector.sftp_wire`) and hands it to the Pending with its id;
a reply nobody waits for any more (a read abandoned midway) is dropped there. Any failure of the
connection (ssh exits, a protocol error, a deadline, :meth:`cut`) fails every Pending at once and
every later call, with one error that says what happened.

Deadlines: the handshake (spawn to the server's VERSION) within ``connect_timeout_s``; then,
while any request is outstanding, the server must send bytes within ``io_timeout_s``
(:class:`~inspector.deadlines.IoWatch`, checked by a watchdog thread) or the connection is cut.
ssh itself notices a dead peer when idle (ServerAliveInterval, :mod:`inspector.ssh_pipe`).

Threads: the owner constructs, starts and closes; any thread may send, wait and cut. ``_lock``
guards ``_pending``, ``_next_id`` and ``_error``; ``_send_lock`` keeps each request's bytes
together on the pipe (taken without ``_lock`` held). The reader thread is the only one that reads
stdout; the watchdog only calls ``cut``. Both end when the connection fails or closes, and
``close`` joins them before it closes the pipes.
"""

from __future__ import annotations

import io
import logging
import math
import struct
import threading
import time
from collections.abc import Callable, Sequence
from typing import cast

from inspector import sftp_wire as wire
from inspector.config import WatcherEntry
from inspector.deadlines import IoWatch
from inspector.remote import RemoteError
from inspector.ssh_pipe import SshPipe

logger = logging.getLogger(__name__)

READ_PIECE = 256 * 1024  # stdout is read in pieces of at most this size: progress is noticed within a reply
_U32 = struct.Struct(">I")


class Pending:
    """One request in flight: the reader thread fills ``reply`` and calls :meth:`set`, once (the
    Pending is popped from the session's table under its lock first). A bare lock, held until
    then, is the signal: cheaper than an Event (a Condition and a lock) for thousands of requests."""

    __slots__ = ("_lock", "id", "reply", "sent_at", "seq")

    def __init__(self, req_id: int, seq: int = 0) -> None:
        self.id = req_id
        self.seq = seq  # the session's count of requests sent (ids wrap around; this does not)
        self.sent_at = 0.0  # time.monotonic() when it was written
        self._lock = threading.Lock()
        self._lock.acquire()
        self.reply: wire.Reply | None = None

    def set(self) -> None:
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        """True once set (any number of waits, from any thread); False if ``timeout`` passed first."""
        if not self._lock.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            return False
        self._lock.release()
        return True


class SftpSession:
    def __init__(self, entry: WatcherEntry, *, on_authenticated: Callable[[], None] | None = None) -> None:
        """Spawn ssh (no network wait yet); :meth:`start` does the handshake."""
        self.entry = entry
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._pending: dict[int, Pending] = {}
        self._next_id = 1
        self._sent = 0
        self._error: RemoteError | None = None
        self._closed = threading.Event()
        self._version: wire.Version | None = None
        self._versioned = threading.Event()  # set on VERSION, or when the session fails first
        self.max_packet = wire.DEFAULT_MAX_PACKET
        self.limits: wire.Limits | None = None
        self._watch = IoWatch(entry.io_timeout_s, time.monotonic())
        self._min_rtt = math.inf
        self.pipe = SshPipe(entry, on_authenticated=on_authenticated)
        self._reader = threading.Thread(target=self._read_loop, name=f"sftp-reader-{entry.name}", daemon=True)
        self._watchdog = threading.Thread(target=self._watch_loop, name=f"sftp-watchdog-{entry.name}", daemon=True)
        self._reader.start()
        self._watchdog.start()

    @property
    def where(self) -> str:
        return self.pipe.where

    # --- start ----------------------------------------------------------------------------------

    def start(self) -> wire.Version:
        """INIT, then the server's VERSION within ``connect_timeout_s``; then its limits, if it has them."""
        t = self.entry.connect_timeout_s
        try:
            with self._send_lock:
                self.pipe.write(wire.init())
        except OSError:
            pass  # ssh is already gone: the reader thread says why
        if not self._versioned.wait(t):
            if self.pipe.authenticated.is_set():
                self.cut(RemoteError(f"SFTP handshake timed out after {t:g} s (the server accepted the sftp "
                                     "subsystem but never answered)"))
            else:
                self.cut(RemoteError(f"ssh to {self.where}: no SSH session within {t:g} s (connect, key "
                                     "exchange or login did not finish)"))
        with self._lock:
            version, error = self._version, self._error
        if version is None:
            assert error is not None
            raise error
        if version.version != wire.VERSION:
            self.cut(wire.ProtocolError(f"the server speaks SFTP version {version.version}, not {wire.VERSION}"))
            raise self._broken()
        if wire.LIMITS in version.extensions:
            reply = self.call(wire.limits)
            if not isinstance(reply, wire.ExtendedReply):
                raise self.protocol(f"unexpected reply {type(reply).__name__} to limits@openssh.com")
            try:
                self.limits = wire.parse_limits(reply.payload)
            except wire.ProtocolError as e:
                self.cut(e)
                raise
            if self.limits.max_packet:
                self.max_packet = min(self.max_packet, max(self.limits.max_packet, 34_000))
        return version

    @property
    def extensions(self) -> dict[bytes, bytes]:
        return self._version.extensions if self._version is not None else {}

    # --- requests -------------------------------------------------------------------------------

    def send(self, encode: Callable[..., bytes], *args: object) -> Pending:
        """Write ``encode(id, *args)``; the reply arrives on the returned Pending (any thread)."""
        return self.send_all([(encode, args)])[0]

    def send_all(self, requests: Sequence[tuple[Callable[..., bytes], tuple[object, ...]]]) -> list[Pending]:
        """Write several requests in one go (one write to ssh: one wake-up of ssh, not one each), in
        order; their replies arrive on the returned Pendings."""
        with self._lock:
            error = self._error
            if error is None:
                pending = []
                for _ in requests:
                    self._sent += 1
                    p = Pending(self._next_id, self._sent)
                    self._next_id = (self._next_id + 1) & 0xFFFFFFFF or 1
                    self._pending[p.id] = p
                    pending.append(p)
        if error is not None:
            raise RemoteError(str(error))
        now = time.monotonic()
        for p in pending:
            p.sent_at = now
            self._watch.sent(now)
        packets = b"".join(encode(p.id, *args) for p, (encode, args) in zip(pending, requests, strict=True))
        try:
            with self._send_lock:
                self.pipe.write(packets)
        except (OSError, ValueError) as e:  # ValueError: the pipe was closed under us
            self._fail(RemoteError(f"connection to {self.where} lost: {e}"))
            raise self._broken() from e
        return pending

    def wait(self, p: Pending, timeout: float | None = None) -> wire.Reply | None:
        """The reply, or None if ``timeout`` passed first; RemoteError if the connection failed."""
        if not p.wait(timeout):
            return None
        if p.reply is None:
            raise self._broken()
        return p.reply

    def min_rtt(self) -> float:
        """The shortest time any request took to be answered on this session (seconds): about the
        round trip to the server, measured when nothing was queued ahead of the request (the listing
        before the reads); 0 before any reply."""
        rtt = self._min_rtt
        return 0.0 if rtt == math.inf else rtt

    def outstanding_before(self, seq: int) -> bool:
        """Whether a request sent before the one numbered ``seq`` still awaits its reply."""
        with self._lock:
            return any(p.seq < seq for p in self._pending.values())

    def call(self, encode: Callable[..., bytes], *args: object) -> wire.Reply:
        reply = self.wait(self.send(encode, *args))
        assert reply is not None
        return reply

    def protocol(self, reason: str) -> RemoteError:
        """Cut the session for a reply that makes no sense; return the error to raise."""
        self.cut(wire.ProtocolError(reason))
        return self._broken()

    # --- failure --------------------------------------------------------------------------------

    def _broken(self) -> RemoteError:
        with self._lock:
            error = self._error
        return RemoteError(str(error) if error is not None else f"connection to {self.where} closed")

    def _fail(self, error: RemoteError) -> None:
        """The first failure wins; every waiter wakes up with it."""
        with self._lock:
            if self._error is None:
                self._error = error
            pending, self._pending = list(self._pending.values()), {}
        for p in pending:
            p.set()
        self._versioned.set()

    @property
    def failed(self) -> bool:
        return self._error is not None

    def cut(self, error: RemoteError) -> None:
        """Fail the session with ``error`` and kill ssh (any thread)."""
        self._fail(error)
        self.pipe.kill()

    def close(self) -> None:
        """Kill ssh, end both threads, reap (the owner)."""
        self._closed.set()
        self.cut(RemoteError(f"connection to {self.where} closed"))
        self._reader.join()
        self._watchdog.join()
        self.pipe.close()

    # --- threads --------------------------------------------------------------------------------

    def _watch_loop(self) -> None:
        tick = min(0.25, self.entry.io_timeout_s / 4)
        while not self._closed.wait(tick):
            if self.failed:
                return
            if self._watch.overdue(time.monotonic()):
                self.cut(RemoteError(f"no reply from {self.where} within {self.entry.io_timeout_s:g} s "
                                     "(connection cut)"))
                return

    def _read_loop(self) -> None:
        stdout = cast(io.RawIOBase, self.pipe.stdout)  # unbuffered: each reply read straight into its own buffer
        try:
            while True:
                head = self._exact(stdout, 4)
                if head is None:
                    self._fail(self.pipe.failure(f"connection to {self.where} lost (ssh exited)"))
                    return
                (n,) = _U32.unpack(head)
                wire.check_frame(n, self.max_packet)
                body = self._exact(stdout, n)
                if body is None:
                    self._fail(self.pipe.failure(f"connection to {self.where} lost in the middle of a reply"))
                    return
                self._deliver(wire.parse_reply(body))
        except RemoteError as e:  # ProtocolError: nothing more from this server can be trusted
            self.cut(e)
        except (OSError, ValueError) as e:  # the pipe closed under us
            self.cut(RemoteError(f"connection to {self.where} lost: {e}"))

    def _exact(self, stdout: io.RawIOBase, n: int) -> bytearray | None:
        """``n`` bytes, or None at the end of the stream; each piece counts as progress."""
        buf = bytearray(n)
        view = memoryview(buf)
        pos = 0
        while pos < n:
            k = stdout.readinto(view[pos:pos + READ_PIECE])
            if not k:
                return None
            pos += k
            self._watch.progress(time.monotonic())
        return buf

    def _deliver(self, reply: wire.Reply) -> None:
        if isinstance(reply, wire.Version):
            if self._version is not None:
                raise wire.ProtocolError("a second VERSION reply")
            with self._lock:
                self._version = reply
            self._versioned.set()
            return
        if self._version is None:
            raise wire.ProtocolError(f"{type(reply).__name__} reply before the server's VERSION")
        with self._lock:
            p = self._pending.pop(reply.id, None)
        if p is None:
            raise wire.ProtocolError(f"a reply to request {reply.id}, which is not outstanding")
        self._watch.answered()
        rtt = time.monotonic() - p.sent_at
        if rtt < self._min_rtt:  # the reader thread alone writes it
            self._min_rtt = rtt
        p.reply = reply
        p.set()
