"""RemoteStore over SFTP (paramiko); the only module that imports paramiko.

Security: the host key must already be in the configured known_hosts (RejectPolicy; an
unknown or changed key refuses the connection); only the configured key is used (no agent,
no key search); every step has a timeout, including every SFTP operation (channel timeout:
paramiko's keepalive alone never notices a dead peer).

Speed: paramiko never sets TCP_NODELAY and its ``get`` either waits one round trip per 32 KiB
or queues the whole file. We pass our own socket with TCP_NODELAY, and read with ``readv``
over windows of a few MiB: a bounded number of requests in flight, bounded memory.
"""

from __future__ import annotations

import logging
import posixpath
import socket
from collections import deque
from collections.abc import Iterator

import paramiko
from paramiko.sftp import CMD_CLOSE, CMD_HANDLE, CMD_NAME, CMD_OPENDIR, CMD_READDIR

from inspector.config import WatcherEntry
from inspector.remote import RemoteEntry, RemoteError, archive_dir_of, check_name, kind_of
from inspector.sftp_names import parse_name_reply

logger = logging.getLogger(__name__)

REQUEST_SIZE = 32 * 1024  # paramiko's per-request maximum
READDIR_AHEAD = 8  # READDIR requests in flight while listing (OpenSSH answers ~100 names each)
_ERRORS = (OSError, EOFError, paramiko.SSHException)


class HostKeyError(RemoteError):
    """The server's host key is unknown or does not match known_hosts."""


def _connect_socket(host: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _SftpReader:
    def __init__(self, f: paramiko.SFTPFile) -> None:
        self._f = f

    def fstat(self) -> tuple[int, float, str]:
        try:
            st = self._f.stat()
        except _ERRORS as e:
            raise RemoteError(f"fstat failed: {e}") from e
        return int(st.st_size or 0), float(st.st_mtime or 0), kind_of(st.st_mode or 0)

    def read_windows(self, offset: int, length: int, window: int) -> Iterator[bytes]:
        end = offset + length
        while offset < end:
            n = min(window, end - offset)
            chunks = [(o, min(REQUEST_SIZE, offset + n - o)) for o in range(offset, offset + n, REQUEST_SIZE)]
            try:
                data = b"".join(self._f.readv(chunks))
            except _ERRORS as e:
                raise RemoteError(f"read failed at {offset}: {e}") from e
            if len(data) != n:
                raise RemoteError(f"short read: {len(data)} of {n} bytes at {offset}")
            offset += n
            yield data

    def close(self) -> None:
        try:
            self._f.close()
        except _ERRORS:
            pass  # the connection is gone; nothing to release


class SftpStore:
    def __init__(self, entry: WatcherEntry) -> None:
        self.entry = entry
        self.dir = entry.remote_dir.rstrip("/") or "/"
        self.archive_dir = archive_dir_of(entry.remote_dir)
        client = paramiko.SSHClient()
        client.load_host_keys(entry.known_hosts)  # raises if unreadable; never the system files
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        t = entry.connect_timeout_s
        try:
            sock = _connect_socket(entry.host, entry.port, t)
        except OSError as e:
            raise RemoteError(f"cannot reach {entry.host}:{entry.port}: {e}") from e
        try:
            client.connect(
                entry.host, port=entry.port, username=entry.user, key_filename=entry.identity_file,
                allow_agent=False, look_for_keys=False, timeout=t, banner_timeout=t, auth_timeout=t,
                channel_timeout=t, sock=sock,
            )
            transport = client.get_transport()
            assert transport is not None
            transport.set_keepalive(15)
            self.sftp = client.open_sftp()
            self.sftp.get_channel().settimeout(entry.io_timeout_s)
        except paramiko.BadHostKeyException as e:
            client.close()
            raise HostKeyError(f"{entry.host}:{entry.port}: host key does not match {entry.known_hosts}: {e}") from e
        except paramiko.SSHException as e:
            client.close()
            if "not found in known_hosts" in str(e):
                raise HostKeyError(f"{entry.host}:{entry.port}: host key not in {entry.known_hosts} "
                                   "(add it with 'inspector add-watcher')") from e
            raise RemoteError(f"ssh to {entry.user}@{entry.host}:{entry.port} failed: {e}") from e
        except (OSError, EOFError) as e:
            client.close()
            raise RemoteError(f"ssh to {entry.host}:{entry.port} failed: {e}") from e
        self.client = client

    def _path(self, name: str) -> str:
        return posixpath.join(self.dir, check_name(name))

    def list(self) -> Iterator[RemoteEntry]:
        """READDIR replies parsed one batch at a time (inspector.sftp_names says why not paramiko's
        listdir_*), with READDIR_AHEAD requests in flight so a long listing over a slow link is not
        one round trip per ~100 names. Replies are read in request order, which is how OpenSSH
        answers; a server that reordered them would make a read wait for a reply paramiko already
        dropped, which the channel timeout ends as a RemoteError. The handle is closed however the
        iteration ends (after an error the connection is left to be dropped instead)."""
        sftp = self.sftp
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
        return _SftpReader(f)

    def archive(self, name: str) -> None:
        try:
            try:
                self.sftp.stat(self.archive_dir)
            except FileNotFoundError:
                self.sftp.mkdir(self.archive_dir)
            self.sftp.posix_rename(self._path(name), posixpath.join(self.archive_dir, name))
        except FileNotFoundError:
            pass  # already archived by an earlier pass
        except _ERRORS as e:
            raise RemoteError(f"cannot archive {name}: {e}") from e

    def delete(self, name: str) -> None:
        try:
            self.sftp.remove(self._path(name))
        except FileNotFoundError:
            pass
        except _ERRORS as e:
            raise RemoteError(f"cannot delete {name}: {e}") from e

    def close(self) -> None:
        try:
            self.sftp.close()
        finally:
            self.client.close()
