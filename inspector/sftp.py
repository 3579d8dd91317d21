"""RemoteStore over SFTP (paramiko); the only module that imports paramiko.

Security: the host key must already be in the configured known_hosts (RejectPolicy; an
unknown or changed key refuses the connection); only the configured key is used (no agent,
no key search).

Deadlines, step by step (paramiko leaves some steps without one):
- TCP connect, SSH banner, key exchange, authentication, channel open: ``connect_timeout_s``
  through paramiko's own timeouts.
- The reply to the ``sftp`` subsystem request, which paramiko awaits with no timeout: a watchdog
  cuts the connection after ``connect_timeout_s`` (:func:`~inspector.deadlines.cut_after`).
- The SFTP handshake (``SFTPClient`` waits for the server's version): we open the channel
  ourselves and the channel has a timeout *before* the handshake starts (``open_sftp`` sets none,
  so a server that accepts the subsystem and never answers hung it forever).
- Every SFTP read: ``io_timeout_s`` per read (the channel timeout; paramiko's keepalive alone never
  notices a dead peer), and while a file is read, a floor on its average rate
  (:class:`~inspector.deadlines.RateFloor`): a Pi trickling bytes just fast enough to beat the
  per-read timeout has that clip abandoned (:class:`~inspector.remote.ClipAbandoned`); the
  connection is then replaced by a fresh one (nothing left in flight), so the next clip goes on.
- :meth:`SftpStore.abort` cuts the connection from any thread (SIGTERM), which fails every
  blocked call at once.

Speed: paramiko never sets TCP_NODELAY and its ``get`` either waits one round trip per 32 KiB
or queues the whole file. We pass our own socket with TCP_NODELAY, and read with ``readv``
over windows of a few MiB: a bounded number of requests in flight, bounded memory.

Threads: one worker thread owns a store and everything it opens; ``abort`` (main thread) and
the session-start watchdog (a timer thread) only shut the socket and close the transport,
which paramiko allows from any thread.
"""

from __future__ import annotations

import logging
import posixpath
import socket
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

import paramiko
from paramiko.sftp import CMD_CLOSE, CMD_HANDLE, CMD_NAME, CMD_OPENDIR, CMD_READDIR

from inspector.config import WatcherEntry
from inspector.deadlines import DeadlineChannel, RateFloor, cut_after
from inspector.links import OpenLinks
from inspector.remote import ClipAbandoned, RemoteEntry, RemoteError, archive_dir_of, check_name, kind_of
from inspector.sftp_names import parse_name_reply

logger = logging.getLogger(__name__)

REQUEST_SIZE = 32 * 1024  # paramiko's per-request maximum
READDIR_AHEAD = 8  # READDIR requests in flight while listing (OpenSSH answers ~100 names each)
_ERRORS = (OSError, EOFError, paramiko.SSHException)
_SILENT_OR_GONE = (TimeoutError, EOFError, paramiko.SSHException)  # not an error status from the server


class HostKeyError(RemoteError):
    """The server's host key is unknown or does not match known_hosts."""


def _connect_socket(host: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _SftpReader:
    def __init__(self, f: paramiko.SFTPFile, store: SftpStore) -> None:
        self._f = f
        self._store = store
        self._channel = store.channel  # the session this file belongs to

    def fstat(self) -> tuple[int, float, str]:
        try:
            st = self._f.stat()
        except _ERRORS as e:
            raise RemoteError(f"fstat failed: {e}") from e
        return int(st.st_size or 0), float(st.st_mtime or 0), kind_of(st.st_mode or 0)

    def read_windows(self, offset: int, length: int, window: int) -> Iterator[bytes]:
        """Yield whole windows; when a window fails midway, first yield the part of it that arrived
        (contiguous from its start), so the caller keeps it to resume from, then raise."""
        end = offset + length
        floor = self._store.floor
        if floor is not None:
            self._channel.start_transfer(floor)
        try:
            while offset < end:
                n = min(window, end - offset)
                chunks = [(o, min(REQUEST_SIZE, offset + n - o)) for o in range(offset, offset + n, REQUEST_SIZE)]
                got: list[bytes] = []
                try:
                    for (_, want), data in zip(chunks, self._f.readv(chunks), strict=False):
                        got.append(data)
                        if len(data) != want:
                            break
                except ClipAbandoned:
                    yield from _arrived(got, chunks)
                    self._store.renew_session()  # the old session stopped mid-reply: never reuse it
                    raise
                except _ERRORS as e:
                    if isinstance(e, _SILENT_OR_GONE):  # the connection is in doubt: do not wait on it again
                        self._store.cut()  # (closing the file would wait io_timeout_s for its reply)
                    yield from _arrived(got, chunks)
                    at = offset + sum(map(len, got))
                    raise RemoteError(f"read failed at {at}: {str(e) or type(e).__name__}") from e
                data = b"".join(got)
                if len(data) != n:
                    raise RemoteError(f"short read: {len(data)} of {n} bytes at {offset}")
                offset += n
                yield data
        finally:
            if floor is not None:
                self._channel.stop_transfer()

    def close(self) -> None:
        try:
            self._f.close()
        except _ERRORS:
            pass  # the connection (or this session) is gone; nothing to release


def _arrived(got: list[bytes], chunks: list[tuple[int, int]]) -> Iterator[bytes]:
    """The leading chunks that arrived whole, as one piece (nothing if none did)."""
    whole = []
    for data, (_, want) in zip(got, chunks, strict=False):  # got may stop short
        if len(data) != want:
            break
        whole.append(data)
    if whole:
        yield b"".join(whole)


class SftpStore:
    max_clips_in_flight = 1  # one paramiko SFTPClient per thread (FACTS: sharing one has deadlocked)

    def __init__(self, entry: WatcherEntry, *, floor: RateFloor | None = None,
                 links: OpenLinks | None = None) -> None:
        """Connect and start the SFTP session; every step has a deadline (module doc). ``links``
        registers the store before its first network wait, so a stop can cut it at any step."""
        self.entry = entry
        self.floor = floor
        self.dir = entry.remote_dir.rstrip("/") or "/"
        self.archive_dir = archive_dir_of(entry.remote_dir)
        self._links = links
        self._aborted = threading.Event()
        self._sock: socket.socket | None = None
        self.client = paramiko.SSHClient()
        if links is not None:
            links.add(self)
        try:
            self._connect()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> None:
        """A fresh TCP connection, SSH session and SFTP session."""
        entry = self.entry
        client = paramiko.SSHClient()
        client.load_host_keys(entry.known_hosts)  # raises if unreadable; never the system files
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        self.client = client
        t = entry.connect_timeout_s
        where = f"{entry.user}@{entry.host}:{entry.port}"
        if self._aborted.is_set():
            raise self._cut_or(RemoteError("stopped"))
        try:
            self._sock = _connect_socket(entry.host, entry.port, t)
        except OSError as e:
            raise RemoteError(f"cannot reach {entry.host}:{entry.port}: {e}") from e
        if self._aborted.is_set():  # abort() may have run while the socket was being made
            self.cut()
        try:
            client.connect(
                entry.host, port=entry.port, username=entry.user, key_filename=entry.identity_file,
                allow_agent=False, look_for_keys=False, timeout=t, banner_timeout=t, auth_timeout=t,
                channel_timeout=t, sock=self._sock,
            )
            transport = client.get_transport()
            assert transport is not None
            transport.set_keepalive(15)
            logger.debug("[%s] ssh session up; starting the SFTP session", entry.name)
            self.sftp, self.channel = self._open_session()
        except paramiko.BadHostKeyException as e:
            raise HostKeyError(f"{entry.host}:{entry.port}: host key does not match {entry.known_hosts}: {e}") from e
        except paramiko.SSHException as e:
            if "not found in known_hosts" in str(e):
                raise HostKeyError(f"{entry.host}:{entry.port}: host key not in {entry.known_hosts} "
                                   "(add it with 'inspector add-watcher')") from e
            raise self._cut_or(RemoteError(f"ssh to {where} failed: {e}")) from e
        except (OSError, EOFError) as e:
            if isinstance(e, RemoteError):
                raise
            raise self._cut_or(RemoteError(f"ssh to {where} failed: {str(e) or type(e).__name__}")) from e

    def _cut_or(self, error: RemoteError) -> RemoteError:
        return RemoteError(f"connection to {self.entry.host}:{self.entry.port} cut: stopping") \
            if self._aborted.is_set() else error

    def _open_session(self) -> tuple[paramiko.SFTPClient, DeadlineChannel]:
        """A new SFTP session (channel) on the connection, each step under ``connect_timeout_s``."""
        t = self.entry.connect_timeout_s
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise self._cut_or(RemoteError("the SSH connection is closed"))
        try:
            raw = transport.open_session(timeout=t)
        except _ERRORS as e:
            raise self._cut_or(RemoteError(f"cannot open an SSH channel: {str(e) or type(e).__name__}")) from e
        with cut_after(t, self.cut, f"sftp-start-{self.entry.name}") as fired:
            try:
                raw.invoke_subsystem("sftp")  # paramiko waits for the reply with no timeout
            except _ERRORS as e:
                raw.close()
                if fired.is_set():
                    raise RemoteError(f"no reply to the SFTP subsystem request within {t:g} s") from e
                raise self._cut_or(RemoteError(f"SFTP subsystem refused: {str(e) or type(e).__name__}")) from e
        raw.settimeout(t)  # before the handshake: SFTPClient() waits for the server's version reply
        channel = DeadlineChannel(raw, t)
        try:
            sftp = paramiko.SFTPClient(channel)  # type: ignore[arg-type]  # duck-typed: it wraps a Channel
        except TimeoutError as e:
            raw.close()
            raise RemoteError(f"SFTP handshake timed out after {t:g} s (the server accepted the sftp "
                              "subsystem but never answered)") from e
        except _ERRORS as e:
            raw.close()
            raise self._cut_or(RemoteError(f"SFTP handshake failed: {str(e) or type(e).__name__}")) from e
        channel.io_timeout_s = self.entry.io_timeout_s
        return sftp, channel

    def renew_session(self) -> None:
        """Replace the connection by a fresh one. The old SFTP session may have stopped in the
        middle of a reply, and on a slow link the bytes already in flight for it would hold up
        anything else sent on that connection: a new connection leaves both behind."""
        self.cut()
        self._connect()

    def _path(self, name: str) -> str:
        return posixpath.join(self.dir, check_name(name))

    def list(self) -> Iterator[RemoteEntry]:
        """READDIR replies parsed one batch at a time (inspector.sftp_names says why not paramiko's
        listdir_*), with READDIR_AHEAD requests in flight so a long listing over a slow link is not
        one round trip per ~100 names. Replies are read in request order, which is how OpenSSH
        answers; a server that reordered them would make a read wait for a reply paramiko already
        dropped, which the channel timeout ends as a RemoteError. The handle is closed however the
        iteration ends (after an error the connection is left to be dropped instead)."""
        # paramiko's request API (_request, _async_request, _read_response) is private: not in its stubs
        sftp: Any = self.sftp
        try:
            t, msg = sftp._request(CMD_OPENDIR, self.dir)
            if t != CMD_HANDLE:
                raise RemoteError(f"cannot list {self.dir}: unexpected reply {t} to OPENDIR")
            handle = msg.get_binary()
        except _ERRORS as e:
            raise RemoteError(f"cannot list {self.dir}: {e}") from e
        inflight: deque[int] = deque()
        healthy, at_end = True, False
        try:
            while True:
                try:
                    while not at_end and len(inflight) < READDIR_AHEAD:
                        inflight.append(sftp._async_request(type(None), CMD_READDIR, handle))
                    if not inflight:
                        return
                    try:
                        t, msg = sftp._read_response(inflight.popleft())
                    except EOFError:  # SSH_FX_EOF: the end of the directory (later requests say so too)
                        at_end = True
                        continue
                except _ERRORS as e:
                    healthy = False
                    raise RemoteError(f"cannot list {self.dir}: {e}") from e
                try:
                    if t != CMD_NAME:
                        raise ValueError(f"unexpected reply {t} to READDIR")
                    batch = parse_name_reply(msg.get_remainder())
                except ValueError as e:
                    raise RemoteError(f"malformed listing of {self.dir}: {e}") from e
                yield from batch
        finally:
            if healthy:
                try:
                    for num in inflight:  # already on their way: collect them before closing the handle
                        try:
                            sftp._read_response(num)
                        except EOFError:
                            pass
                    sftp._request(CMD_CLOSE, handle)
                except _ERRORS:
                    pass

    def open(self, name: str) -> _SftpReader:
        try:
            f = self.sftp.open(self._path(name), "rb")
        except _ERRORS as e:
            raise RemoteError(f"cannot open {name}: {e}") from e
        return _SftpReader(f, self)

    def archive(self, name: str) -> None:
        """posix_rename into ``transferred/``, which must exist: deploy creates it, and the Pi's SFTP
        account cannot create directories (nor does the inspector try)."""
        src = self._path(name)
        try:
            self.sftp.posix_rename(src, posixpath.join(self.archive_dir, name))
            return
        except FileNotFoundError:
            pass  # the clip is gone (archived by an earlier pass) or transferred/ is missing
        except _ERRORS as e:
            raise RemoteError(f"cannot archive {name}: {e}") from e
        try:
            self.sftp.lstat(src)
        except FileNotFoundError:
            return  # already archived
        except _ERRORS as e:
            raise RemoteError(f"cannot archive {name}: {e}") from e
        raise RemoteError(f"cannot archive {name}: {self.archive_dir} does not exist on the watcher "
                          "(deploy creates it; the inspector's account cannot create directories)")

    def delete(self, name: str) -> None:
        try:
            self.sftp.remove(self._path(name))
        except FileNotFoundError:
            pass
        except _ERRORS as e:
            raise RemoteError(f"cannot delete {name}: {e}") from e

    def close(self) -> None:
        """Close the connection (no polite SFTP close: on a silent link it could wait)."""
        if self._links is not None:
            self._links.discard(self)
        self.client.close()
        if self._sock is not None:
            self._sock.close()

    def abort(self) -> None:
        """Cut the connection from any thread, for good: blocked reads, waits and handshakes fail
        at once, and no new connection is made."""
        self._aborted.set()
        self.cut()

    def cut(self) -> None:
        """Close this connection now (any thread); the store is unusable until ``renew_session``."""
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # not connected (any more)
        self.client.close()
