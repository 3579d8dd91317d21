"""RemoteStore over SFTP: OpenSSH's ``ssh`` client as the transport (:mod:`inspector.ssh_pipe`),
SFTP v3 spoken by us over its pipes (:mod:`inspector.sftp_wire`, :mod:`inspector.sftp_session`).

Security: the host key must already be in the configured known_hosts (an unknown or changed key
is a :class:`HostKeyError`); only the configured key is used; ssh reads no user configuration.

Deadlines: the handshake within ``connect_timeout_s``; every outstanding request answered (bytes
arriving) within ``io_timeout_s`` or the connection is cut; while a clip is read, a floor on its
average rate (:class:`~inspector.deadlines.RateFloor`, shared by the clips in flight, counted
from the clip's first request): a clip arriving slower is abandoned
(:class:`~inspector.remote.ClipAbandoned`); when it was the only file being read, the connection is
replaced by a fresh one (the bytes still in flight for the old one would hold up the link), else
the connection stays for the other clips in flight and the abandoned file's replies are dropped.
:meth:`SftpStore.abort` cuts the connection from any thread, which fails every blocked call at once.

Speed: a file is read with a budget of READ requests outstanding (at most ``read_ahead`` of
``read_size`` bytes, the server's limits@openssh.com read length, at most 256 KiB), reassembled
in order and handed on window by window with no pause between windows: memory is bounded by
the budget plus one window, whatever the clip's size. The budget is per connection, served to
the files read at once in the order they were opened (manifests first), and follows the link:
about half a second of what it delivers (:mod:`inspector.readahead`), so a slow link is not queued
megabytes deep. The first requests of a transfer are small (unless the connection is measured
fast), so a slow link delivers its first bytes (and the rate floor sees them) soon. A listing keeps
READDIR_AHEAD requests in flight. Handles are closed without waiting for the reply.

Threads: several threads may use one store at once (each open reader by one thread); the session
demultiplexes replies. ``_lock`` guards the swap of ``session`` on renewal and abort. A renewal
happens only when the abandoned clip was the one file being read; a call another thread starts
in that moment fails (RemoteError: the pass ends, the next pass resumes).
"""

from __future__ import annotations

import errno
import logging
import posixpath
import threading
from collections import deque
from collections.abc import Callable, Iterator

from inspector import sftp_wire as wire
from inspector.config import WatcherEntry
from inspector.deadlines import RateFloor, TransferClock
from inspector.links import OpenLinks
from inspector.readahead import ReadBudget
from inspector.remote import (
    STATUS_FILE,
    ClipAbandoned,
    RemoteEntry,
    RemoteError,
    archive_dir_of,
    check_name,
    status_path_of,
)
from inspector.sftp_session import Pending, SftpSession
from inspector.ssh_pipe import HostKeyError

__all__ = ["HostKeyError", "SftpStore"]

logger = logging.getLogger(__name__)

MAX_READ_SIZE = 256 * 1024  # the most one READ asks for, whatever the server allows
FALLBACK_READ_SIZE = 32 * 1024  # a server without limits@openssh.com: the size every server takes
READ_AHEAD = 64  # READ requests outstanding per file (tests/bench: 64 of 255 KiB fill loopback and a long link)
RAMP = (16 * 1024, 32 * 1024, 64 * 1024, 128 * 1024)  # the first requests of a transfer: first bytes soon
QUEUED_CHECK_S = 0.25  # how often a transfer queued behind earlier replies looks again
RAMP_S = 0.05  # ... unless the connection's measured rate fills a bigger request in this long
READDIR_AHEAD = 8  # READDIR requests in flight while listing (OpenSSH answers ~100 names each)


def _status_error(what: str, st: wire.Status) -> RemoteError:
    """A RemoteError whose cause is the matching OSError (the puller tells 'gone' by FileNotFoundError)."""
    text = st.message or f"status {st.code}"
    cause: OSError
    if st.code == wire.FX_NO_SUCH_FILE:
        cause = FileNotFoundError(errno.ENOENT, text)
    elif st.code == wire.FX_PERMISSION_DENIED:
        cause = PermissionError(errno.EACCES, text)
    else:
        cause = OSError(text)
    err = RemoteError(f"{what}: {text}")
    err.__cause__ = cause
    return err


class _SftpReader:
    def __init__(self, store: SftpStore, session: SftpSession, handle: bytes) -> None:
        self._store = store
        self._session = session  # the connection this handle belongs to
        self._handle = handle
        # an FSTAT sent ahead, answered by the next fstat(): sent with the OPEN's follow-up and with
        # the last READ, so checking the file before and after its transfer costs no round trip
        self._fstat_ahead: Pending | None = None
        self._first_seq: int | None = None  # the transfer's first request, until nothing sent before it is outstanding

    def fstat_ahead(self) -> None:
        self._fstat_ahead = self._session.send(wire.fstat, self._handle)

    def fstat(self) -> tuple[int, float, str]:
        """(size, mtime, kind) of the open file: as of the FSTAT sent ahead, if one was, else now.
        The server answers in order, so an FSTAT sent with the last READ sees the file as it was
        when that READ was served: a change during the transfer is seen either way."""
        p, self._fstat_ahead = self._fstat_ahead, None
        reply = self._session.call(wire.fstat, self._handle) if p is None else self._session.wait(p)
        if isinstance(reply, wire.Status):
            raise _status_error("fstat failed", reply)
        if not isinstance(reply, wire.Attrs):
            raise self._session.protocol(f"unexpected reply {type(reply).__name__ if reply else None} to FSTAT")
        return reply.size, reply.mtime, reply.kind

    def read_windows(self, offset: int, length: int, window: int) -> Iterator[bytes | memoryview]:
        """Yield ``window`` bytes at a time; when the transfer fails midway, first yield what arrived
        (contiguous from the last window), so the caller keeps it to resume from, then raise.
        The READs granted at once go out in one write; with the last one goes an FSTAT for the
        caller's check that the file did not change (:meth:`fstat`)."""
        s = self._session
        floor = self._store.floor
        size, budget = self._store.read_size, self._store.budget
        clock = TransferClock(floor, budget.served) if floor is not None else None
        end = offset + length
        inflight: deque[tuple[Pending, int, int]] = deque()
        asked, issued = offset, 0
        got: list[bytes | memoryview] = []
        got_len = 0
        # a connection known to be fast skips the small first requests (they are for slow links)
        first = max(RAMP[0], min(size, int(budget.rate() * RAMP_S)))
        ticket = budget.join(small=length <= size)
        try:
            while offset < end:
                batch: list[tuple[int, int]] = []
                while asked < end and budget.take(len(inflight) + len(batch), ticket):
                    n = min(max(RAMP[issued], first) if issued < len(RAMP) else size, end - asked)
                    batch.append((asked, n))
                    asked += n
                    issued += 1
                if batch:
                    requests: list[tuple[Callable[..., bytes], tuple[object, ...]]] = [
                        (wire.read, (self._handle, at, n)) for at, n in batch]
                    if asked >= end and self._fstat_ahead is None:
                        requests.append((wire.fstat, (self._handle,)))
                    try:
                        sent = s.send_all(requests)
                    except RemoteError:
                        budget.give(len(batch))
                        raise
                    inflight.extend((p, at, n) for p, (at, n) in zip(sent, batch, strict=False))
                    if len(sent) > len(batch):
                        self._fstat_ahead = sent[-1]
                    if clock is not None and clock.t0 is None:
                        clock.start()
                        self._first_seq = sent[0].seq
                    if asked >= end:
                        budget.sated(ticket)
                p, at, n = inflight.popleft()
                budget.give()  # its reply is consumed now (or the read fails)
                data = self._data(p, clock, at, n)
                budget.delivered(len(data))
                got.append(data)
                got_len += len(data)
                offset += len(data)
                if got_len >= window or offset >= end:
                    yield got[0] if len(got) == 1 else b"".join(got)
                    got, got_len = [], 0
        except ClipAbandoned:
            if got:
                yield b"".join(got)
            if budget.readers() == 1:  # alone on it: the old connection still carries our replies in flight
                self._store.renew_session()
            # else other clips are in flight on it: keep it; this file's replies are dropped as they come
            raise
        except RemoteError as e:
            if got:
                yield b"".join(got)
            raise RemoteError(f"read failed at {offset}: {e}") from e
        finally:
            budget.give(len(inflight))  # abandoned: their replies are dropped when they come
            budget.leave(ticket)

    def _data(self, p: Pending, clock: TransferClock | None, at: int, n: int) -> bytes | memoryview:
        reply = self._wait(p, clock)
        if isinstance(reply, wire.Status):
            if reply.code == wire.FX_EOF:
                raise RemoteError(f"file shrank while reading: end of file at {at}")
            raise _status_error("read refused", reply)
        if not isinstance(reply, wire.Data):
            raise self._session.protocol(f"unexpected reply {type(reply).__name__} to READ")
        data = reply.data
        if clock is not None:
            clock.done += len(data)
        if len(data) == n:
            return data
        if len(data) > n or not data:
            raise self._session.protocol(f"{len(data)} bytes in reply to a READ of {n}")
        # a short read (allowed by the protocol): ask for the rest before going on in order
        rest = self._data(self._session.send(wire.read, self._handle, at + len(data), n - len(data)),
                          clock, at + len(data), n - len(data))
        return bytes(data) + bytes(rest)

    def _wait(self, p: Pending, clock: TransferClock | None) -> wire.Reply:
        while True:
            timeout = None
            if clock is not None:
                queued = self._first_seq is not None and self._session.outstanding_before(self._first_seq)
                # still behind earlier requests' replies: not this clip's slowness, for up to the I/O timeout
                if queued and not clock.restart(self._session.entry.io_timeout_s):
                    queued = False
                if not queued:
                    self._first_seq = None
                timeout = clock.time_left()
                if timeout <= 0:
                    raise clock.abandoned()
                if queued:
                    timeout = min(timeout, QUEUED_CHECK_S)
            reply = self._session.wait(p, timeout)
            if reply is not None:
                return reply

    def close(self) -> None:
        """Close the handle without waiting for the reply (it comes before any later one's)."""
        try:
            self._session.send(wire.close, self._handle)
        except RemoteError:
            pass  # the connection is gone, and the handle with it


class SftpStore:
    max_clips_in_flight = 64  # threads may share it (module doc); the READ budget is the connection's

    def __init__(self, entry: WatcherEntry, *, floor: RateFloor | None = None,
                 links: OpenLinks | None = None, read_ahead: int = READ_AHEAD) -> None:
        """Connect and start the SFTP session; every step has a deadline (module doc). ``links``
        registers the store before its first network wait, so a stop can cut it at any step."""
        self.entry = entry
        self.floor = floor
        self.read_ahead = read_ahead
        # shared by every file read at once (clips in flight); starts small and follows the link's rate
        self.budget = ReadBudget(read_ahead, start=2, rtt=self._rtt)
        self.read_size = FALLBACK_READ_SIZE
        self.dir = entry.remote_dir.rstrip("/") or "/"
        self.archive_dir = archive_dir_of(entry.remote_dir)
        self._links = links
        self._lock = threading.Lock()
        self._aborted = threading.Event()
        self._session: SftpSession | None = None
        if links is not None:
            links.add(self)
        try:
            self._connect()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> None:
        entry = self.entry
        if self._aborted.is_set():
            raise self._stopped()

        def up() -> None:
            logger.debug("[%s] ssh session up; starting the SFTP session", entry.name)

        session = SftpSession(entry, on_authenticated=up)
        with self._lock:
            self._session = session
        if self._aborted.is_set():  # abort() may have run before the session was registered
            session.cut(self._stopped())
        try:
            session.start()
        except RemoteError as e:
            if self._aborted.is_set() and not isinstance(e, HostKeyError):
                raise self._stopped() from e
            raise
        limits = session.limits
        self.read_size = min(MAX_READ_SIZE, limits.max_read) if limits and limits.max_read else FALLBACK_READ_SIZE
        self.read_size = min(self.read_size, session.max_packet - 1024)
        self.budget.request_bytes = self.read_size
        logger.debug("[%s] SFTP session up: %d-byte reads, %d in flight", entry.name, self.read_size,
                     self.read_ahead)

    def _rtt(self) -> float:
        with self._lock:
            s = self._session
        return 0.0 if s is None else s.min_rtt()

    def _stopped(self) -> RemoteError:
        return RemoteError(f"connection to {self.entry.host}:{self.entry.port} cut: stopping")

    @property
    def session(self) -> SftpSession:
        with self._lock:
            s = self._session
        if s is None:
            raise RemoteError("not connected")
        return s

    def renew_session(self) -> None:
        """Replace the connection by a fresh one (see the module doc)."""
        with self._lock:
            old, self._session = self._session, None
        if old is not None:
            old.close()
        self._connect()

    def _path(self, name: str) -> str:
        return posixpath.join(self.dir, check_name(name))

    def list(self) -> Iterator[RemoteEntry]:
        """READDIR replies parsed one batch at a time (inspector.sftp_names), READDIR_AHEAD requests
        in flight. The handle is closed however the iteration ends."""
        s = self.session
        try:
            reply = s.call(wire.opendir, self.dir)
        except RemoteError as e:
            raise RemoteError(f"cannot list {self.dir}: {e}") from e
        if isinstance(reply, wire.Status):
            raise _status_error(f"cannot list {self.dir}", reply)
        if not isinstance(reply, wire.Handle):
            raise s.protocol(f"unexpected reply {type(reply).__name__} to OPENDIR")
        handle = reply.handle
        inflight: deque[Pending] = deque()
        at_end = False
        try:
            while True:
                try:
                    while not at_end and len(inflight) < READDIR_AHEAD:
                        inflight.append(s.send(wire.readdir, handle))
                    if not inflight:
                        return
                    batch = s.wait(inflight.popleft())
                except RemoteError as e:
                    raise RemoteError(f"cannot list {self.dir}: {e}") from e
                if isinstance(batch, wire.Status):
                    if batch.code == wire.FX_EOF:  # the end of the directory (later requests say so too)
                        at_end = True
                        continue
                    raise _status_error(f"cannot list {self.dir}", batch)
                if not isinstance(batch, wire.Name):
                    raise s.protocol(f"unexpected reply {type(batch).__name__} to READDIR")
                yield from batch.entries
        finally:
            try:
                s.send(wire.close, handle)  # after the READDIRs in flight; their replies are dropped
            except RemoteError:
                pass

    def open(self, name: str) -> _SftpReader:
        return self._open(self._path(name), name)

    def open_status(self) -> _SftpReader:
        return self._open(status_path_of(self.dir), STATUS_FILE)

    def _open(self, path: str, name: str) -> _SftpReader:
        s = self.session
        try:
            reply = s.call(wire.open_read, path)
        except RemoteError as e:
            raise RemoteError(f"cannot open {name}: {e}") from e
        if isinstance(reply, wire.Status):
            raise _status_error(f"cannot open {name}", reply)
        if not isinstance(reply, wire.Handle):
            raise s.protocol(f"unexpected reply {type(reply).__name__} to OPEN")
        reader = _SftpReader(self, s, reply.handle)
        reader.fstat_ahead()  # every caller checks the file first (see _SftpReader.fstat)
        return reader

    def archive(self, name: str) -> None:
        """posix-rename into ``transferred/``, which must exist: deploy creates it, and the Pi's SFTP
        account cannot create directories (nor does the inspector try)."""
        s = self.session
        src = self._path(name)
        if wire.POSIX_RENAME not in s.extensions:
            raise RemoteError(f"cannot archive {name}: the watcher's SFTP server lacks posix-rename@openssh.com")
        try:
            reply = s.call(wire.posix_rename, src, posixpath.join(self.archive_dir, name))
        except RemoteError as e:
            raise RemoteError(f"cannot archive {name}: {e}") from e
        if isinstance(reply, wire.Status) and reply.code == wire.FX_OK:
            return
        if not (isinstance(reply, wire.Status) and reply.code == wire.FX_NO_SUCH_FILE):
            raise self._unexpected(s, f"cannot archive {name}", reply, "posix-rename")
        try:  # the clip is gone (archived by an earlier pass) or transferred/ is missing
            st = s.call(wire.lstat, src)
        except RemoteError as e:
            raise RemoteError(f"cannot archive {name}: {e}") from e
        if isinstance(st, wire.Status) and st.code == wire.FX_NO_SUCH_FILE:
            return  # already archived
        if not isinstance(st, wire.Attrs):
            raise self._unexpected(s, f"cannot archive {name}", st, "LSTAT")
        raise RemoteError(f"cannot archive {name}: {self.archive_dir} does not exist on the watcher "
                          "(deploy creates it; the inspector's account cannot create directories)")

    def delete(self, name: str) -> None:
        s = self.session
        try:
            reply = s.call(wire.remove, self._path(name))
        except RemoteError as e:
            raise RemoteError(f"cannot delete {name}: {e}") from e
        if isinstance(reply, wire.Status) and reply.code in (wire.FX_OK, wire.FX_NO_SUCH_FILE):
            return
        raise self._unexpected(s, f"cannot delete {name}", reply, "REMOVE")

    @staticmethod
    def _unexpected(s: SftpSession, what: str, reply: wire.Reply, op: str) -> RemoteError:
        if isinstance(reply, wire.Status):
            return _status_error(what, reply)
        return s.protocol(f"unexpected reply {type(reply).__name__} to {op}")

    def close(self) -> None:
        """Kill ssh and reap it (no polite SFTP close: on a silent link it could wait)."""
        if self._links is not None:
            self._links.discard(self)
        with self._lock:
            s, self._session = self._session, None
        if s is not None:
            s.close()

    def abort(self) -> None:
        """Cut the connection from any thread, for good: blocked reads, waits and handshakes fail
        at once, and no new connection is made."""
        self._aborted.set()
        with self._lock:
            s = self._session
        if s is not None:
            s.cut(self._stopped())
