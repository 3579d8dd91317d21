"""Fetching, fingerprinting and pinning a watcher's SSH host key (paramiko).

:func:`fetch_host_key` runs only the SSH key exchange (which proves the server holds the
private half of the key it shows) with a timeout, and never authenticates: nothing secret is
sent to a host that is not yet trusted. Nothing here accepts a key by itself: the caller shows
:func:`fingerprint` to a person, or compares it with one given on the command line, before
calling :func:`pin`.

known_hosts entries are written the way OpenSSH and paramiko look them up: ``host`` on port
22, ``[host]:port`` otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

import paramiko

from shared.atomic import atomic_write_bytes
from shared.errors import AppError

logger = logging.getLogger(__name__)


class HostUnreachable(AppError):
    """The host could not be reached, or did not complete an SSH key exchange."""

    exit_code = 69  # EX_UNAVAILABLE


class HostKeyConflict(AppError):
    """known_hosts already pins a different key of the same type for this host."""

    exit_code = 1


@dataclass(frozen=True)
class HostKey:
    key_type: str  # e.g. "ssh-ed25519"
    base64: str  # the public key blob, as in known_hosts

    @property
    def fingerprint(self) -> str:
        return fingerprint(base64.b64decode(self.base64))


def fingerprint(blob: bytes) -> str:
    """``SHA256:...`` as ``ssh-keygen -lf`` prints it (base64 of the digest, no padding)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def normalize_fingerprint(text: str) -> str:
    """Accept ``SHA256:xxx`` with or without trailing '=' padding; anything else is returned as is."""
    text = text.strip()
    if text.startswith("SHA256:"):
        return text.rstrip("=")
    return text


def known_hosts_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def fetch_host_key(host: str, port: int, timeout: float) -> HostKey:
    """The key the server at ``host:port`` proves it holds; no authentication is attempted."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        raise HostUnreachable(f"cannot reach {host}:{port}: {e}") from e
    transport = paramiko.Transport(sock)
    transport.banner_timeout = timeout
    transport.handshake_timeout = timeout
    try:
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
    except (paramiko.SSHException, EOFError, OSError) as e:
        raise HostUnreachable(f"{host}:{port}: SSH key exchange failed (timeout {timeout:g} s): {e}") from e
    finally:
        transport.close()
    return HostKey(key.get_name(), key.get_base64())


def pinned_keys(known_hosts: Path, host: str, port: int) -> dict[str, str]:
    """key type -> base64 of what ``known_hosts`` pins for ``host:port`` (hashed names included)."""
    if not known_hosts.exists():
        return {}
    found = paramiko.HostKeys(str(known_hosts)).lookup(known_hosts_name(host, port))
    return {} if found is None else {t: k.get_base64() for t, k in found.items()}


def pin(known_hosts: Path, host: str, port: int, key: HostKey) -> bool:
    """Add ``key`` for ``host:port`` to ``known_hosts``; False if it was already there.

    Refuses (HostKeyConflict) when a different key of the same type is pinned: a changed host
    key is for a person to look into, never to overwrite.
    """
    current = pinned_keys(known_hosts, host, port)
    if current.get(key.key_type) == key.base64:
        return False
    if key.key_type in current:
        name = known_hosts_name(host, port)
        raise HostKeyConflict(
            f"{known_hosts} already pins a different {key.key_type} key for {name}: if the Pi was reinstalled, "
            f"remove the old one with: ssh-keygen -R '{name}' -f {known_hosts}")
    old = known_hosts.read_bytes() if known_hosts.exists() else b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    line = f"{known_hosts_name(host, port)} {key.key_type} {key.base64}\n".encode()
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(known_hosts, old + line)
    logger.info("pinned %s %s for %s in %s", key.key_type, key.fingerprint, known_hosts_name(host, port), known_hosts)
    return True


def restore(known_hosts: Path, previous: bytes | None) -> None:
    """Undo :func:`pin` (``previous`` is the file's content before, None if it did not exist)."""
    if previous is None:
        known_hosts.unlink(missing_ok=True)
    else:
        atomic_write_bytes(known_hosts, previous)
