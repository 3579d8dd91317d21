"""OpenSSH's own ``ssh`` client as the SFTP transport: ``ssh ... -s HOST sftp``, the SFTP subsystem
on its stdin and stdout (the way OpenSSH's ``sftp`` and sshfs use it). Key exchange, crypto,
keepalives and the cipher choice happen in C, in another process; we speak SFTP over the pipes.

Security: every setting that matters is on the command line and nothing comes from the user's
environment: no ``~/.ssh/config`` (``-F /dev/null``), no agent, no other key, no global
known_hosts, no password or keyboard prompt, no forwarding, no ProxyCommand, no connection
sharing, no host key learned or updated. The host key must already be in the configured
known_hosts; an unknown or changed key is a :class:`HostKeyError` that says what to do.

``LogLevel=VERBOSE`` (not ERROR): its one line "Authenticated to ..." tells a silent SFTP server
(the login worked, the subsystem never answers) from a login that never finished, so each
deadline can say which step missed it. ssh prints no secret at that level (no key material, no
passphrase); the lines are kept bounded and logged at DEBUG.

Threads: the owner starts and closes the pipe; a daemon thread drains stderr (ssh blocks on a
full pipe) into a bounded tail; :meth:`SshPipe.kill` may be called from any thread. One lock
orders kill against the final reap, so a signal never reaches a reaped (reused) process id.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from typing import IO

from inspector.config import WatcherEntry
from inspector.remote import RemoteError

logger = logging.getLogger(__name__)

STDERR_LINES = 40  # the tail of ssh's stderr that is kept
STDERR_LINE_CHARS = 400
REAP_S = 5.0  # after SIGKILL, how long the reap may take
AUTHENTICATED = "Authenticated to "
CIPHERS = "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com"


class HostKeyError(RemoteError):
    """The server's host key is unknown or does not match known_hosts."""


class SshMissing(RemoteError):
    """The OpenSSH client is not installed on this machine."""


def ssh_client() -> str:
    """The ``ssh`` executable, or :class:`SshMissing` saying how to install it."""
    path = shutil.which("ssh")
    if path is None:
        raise SshMissing("the OpenSSH client 'ssh' is not on PATH; the inspector pulls from SFTP watchers "
                         "through it (install it: apt install openssh-client)")
    return path


def _value(text: str, what: str) -> str:
    """An ``-o key=value`` value: ``%`` is doubled (ssh expands %-tokens in paths), whitespace quoted."""
    if not text or '"' in text or any(ord(c) < 32 for c in text):
        raise RemoteError(f"refusing {what} {text!r} for the ssh command line")
    text = text.replace("%", "%%")
    return f'"{text}"' if any(c.isspace() for c in text) else text


def ssh_command(entry: WatcherEntry, ssh: str) -> list[str]:
    """The full command; see the module doc for why each option is there."""
    host = entry.host
    if not host or host.startswith("-") or any(c.isspace() or c in "@%\"'" or ord(c) < 32 for c in host):
        raise RemoteError(f"refusing host {host!r} for the ssh command line")
    alive = max(1, round(entry.io_timeout_s / 3))  # ssh notices a dead peer after about 3 * alive seconds
    options = {
        "BatchMode": "yes",  # never prompt
        "StrictHostKeyChecking": "yes",
        "UserKnownHostsFile": _value(entry.known_hosts, "known_hosts"),
        "GlobalKnownHostsFile": "/dev/null",
        "KnownHostsCommand": "none",
        "UpdateHostKeys": "no",  # never write to known_hosts
        "CheckHostIP": "no",
        "VerifyHostKeyDNS": "no",
        "IdentitiesOnly": "yes",
        "IdentityFile": _value(entry.identity_file, "identity_file"),
        "IdentityAgent": "none",
        "AddKeysToAgent": "no",
        "PKCS11Provider": "none",
        "PubkeyAuthentication": "yes",
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "HostbasedAuthentication": "no",
        "ClearAllForwardings": "yes",
        "ForwardAgent": "no",
        "ForwardX11": "no",
        "Tunnel": "no",
        "PermitLocalCommand": "no",
        "ProxyCommand": "none",
        "ProxyJump": "none",
        "ControlMaster": "no",
        "ControlPath": "none",
        "RequestTTY": "no",
        "EscapeChar": "none",
        "CanonicalizeHostname": "no",
        "Compression": "no",  # clips are compressed video
        "Ciphers": CIPHERS,  # AEAD only; chacha20 first: the Pi 4 has no AES instructions
        "ConnectTimeout": str(max(1, round(entry.connect_timeout_s))),
        "ServerAliveInterval": str(alive),
        "ServerAliveCountMax": "3",
        "TCPKeepAlive": "yes",
        "Port": str(entry.port),
        "User": _value(entry.user, "user"),
        "LogLevel": "VERBOSE",  # see the module doc
    }
    args = [ssh, "-F", "/dev/null", "-x", "-T", "-a", "-e", "none"]
    for key, value in options.items():
        args += ["-o", f"{key}={value}"]
    return [*args, "-s", "--", host, "sftp"]


PIPE_BYTES = 1 << 20  # ssh's stdout pipe (Linux's default is 64 KiB): see _widen


def _widen(fd: int) -> None:
    """Give the pipe ssh writes replies into room for several 256 KiB replies, so ssh keeps reading
    the socket while our reader thread waits for the GIL (measured in tests/bench: +25 % on a big clip
    on loopback). Best effort: a system whose pipe-max-size is lower keeps what it allows."""
    for size in (PIPE_BYTES, 256 * 1024):
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
            return


class SshPipe:
    """One ``ssh -s ... sftp`` process: its stdin and stdout carry SFTP; its stderr is kept (bounded)
    and turned into a clear error by :meth:`failure`."""

    def __init__(self, entry: WatcherEntry, *, on_authenticated: Callable[[], None] | None = None) -> None:
        self.entry = entry
        self._cmd = ssh_command(entry, ssh_client())
        self._on_authenticated = on_authenticated
        self._tail: deque[str] = deque(maxlen=STDERR_LINES)
        self.authenticated = threading.Event()
        self._lock = threading.Lock()
        self._reaped = False
        try:
            self.proc = subprocess.Popen(self._cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, bufsize=0, start_new_session=True, close_fds=True)
        except OSError as e:
            raise RemoteError(f"cannot start {self._cmd[0]}: {e}") from e
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.proc.stderr is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout
        _widen(self.stdout.fileno())
        self._stderr_done = threading.Thread(target=self._drain, args=(self.proc.stderr,),
                                             name=f"ssh-stderr-{entry.name}", daemon=True)
        self._stderr_done.start()

    @property
    def where(self) -> str:
        return f"{self.entry.user}@{self.entry.host}:{self.entry.port}"

    def _drain(self, stderr: IO[bytes]) -> None:
        for raw in iter(lambda: stderr.readline(4096), b""):
            line = raw.decode("utf-8", "replace").strip()[:STDERR_LINE_CHARS]
            if not line:
                continue
            self._tail.append(line)
            logger.debug("[%s] ssh: %s", self.entry.name, line)
            if line.startswith(AUTHENTICATED) and not self.authenticated.is_set():
                self.authenticated.set()
                if self._on_authenticated is not None:
                    self._on_authenticated()
        stderr.close()

    def stderr_tail(self, wait_s: float = 0.0) -> list[str]:
        """ssh's last stderr lines; ``wait_s`` lets a process that is exiting finish writing them."""
        if wait_s:
            self._stderr_done.join(wait_s)
        return list(self._tail)

    def failure(self, fallback: str, *, wait_s: float = 2.0) -> RemoteError:
        """What went wrong, from ssh's own words once it has exited (``fallback`` if it said nothing)."""
        e = self.entry
        lines = self.stderr_tail(wait_s)
        text = "\n".join(lines)
        if "Host key verification failed" in text or "host key is known" in text or "has changed" in text:
            if "has changed" in text or "IDENTIFICATION HAS CHANGED" in text:
                return HostKeyError(
                    f"{e.host}:{e.port}: host key does not match {e.known_hosts}: the watcher presented another "
                    "key (a reinstalled Pi, or someone in between); if the change is expected, remove the old "
                    "entry and pin the new key with 'inspector add-watcher'")
            return HostKeyError(f"{e.host}:{e.port}: host key not in {e.known_hosts} "
                                "(add it with 'inspector add-watcher')")
        noise = ("Authenticated to ", "Transferred: ", "Bytes per second", "Warning: Permanently added")
        said = [x for x in lines if not x.startswith(noise)]
        if any("Permission denied" in x for x in said):
            return RemoteError(f"ssh to {self.where}: login refused ({said[-1]}); is the public key of "
                               f"{e.identity_file} in the watcher's authorized_keys?")
        if said:
            return RemoteError(f"ssh to {self.where} failed: {said[-1]}")
        return RemoteError(fallback)

    def write(self, data: bytes) -> None:
        """Write all of ``data`` (blocking pipes may take it in parts)."""
        view = memoryview(data)
        while view:
            n = self.stdin.write(view)
            if n is None:  # cannot happen on a blocking pipe
                raise RemoteError("ssh's stdin would block")
            view = view[n:]

    def kill(self) -> None:
        """SIGKILL ssh's process group (any thread): its stdout ends, so every reader wakes."""
        with self._lock:
            if not self._reaped:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def close(self) -> None:
        """Kill, reap and close the pipes (the owner, once)."""
        self.kill()
        with self._lock:
            if not self._reaped:
                try:
                    self.proc.wait(REAP_S)
                except subprocess.TimeoutExpired:
                    logger.error("[%s] ssh (pid %d) did not exit after SIGKILL", self.entry.name, self.proc.pid)
                self._reaped = True
        for pipe in (self.stdin, self.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        self._stderr_done.join(REAP_S)
