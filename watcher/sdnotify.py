"""systemd's notification protocol (sd_notify) without a dependency.

The service manager passes ``$NOTIFY_SOCKET``: a Unix datagram socket, a filesystem path, or
an abstract-namespace name when it starts with ``@``. A message is newline-separated
``KEY=VALUE`` lines in one datagram (``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``, ``STATUS=...``).
Outside systemd the variable is unset and every call is a cheap no-op that returns False.

:class:`Watchdog` pings only when the caller says a frame went through: the pipeline calls
:meth:`Watchdog.frame_flowed` once per processed frame, so a camera that stops delivering
frames stops the pings and systemd (``WatchdogSec=``) restarts the service. The time is
passed in (monotonic seconds), which keeps the rate limit testable without clocks.

Threads: a Watchdog belongs to the pipeline thread; :func:`notify` itself is thread-safe
(one short-lived socket per message).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping

logger = logging.getLogger(__name__)


def socket_address(value: str | None) -> str | None:
    """``$NOTIFY_SOCKET`` as an AF_UNIX address, or None if unset or of a kind we do not speak (vsock)."""
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None


def notify(state: str, *, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``) to the service manager; True if a datagram was sent."""
    env = os.environ if environ is None else environ
    address = socket_address(env.get("NOTIFY_SOCKET"))
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as e:
        logger.warning("sd_notify to %s failed: %s", env.get("NOTIFY_SOCKET"), e)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between pings (half of ``$WATCHDOG_USEC``), or None when no watchdog is asked of ``pid``."""
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner and (not owner.isdigit() or int(owner) != pid):
        return None  # the watchdog is meant for another process (we are a child of the service's main process)
    return int(usec) / 2 / 1_000_000


class Watchdog:
    """READY / WATCHDOG / STOPPING / STATUS for one service process.

    ``frame_flowed(now)`` sends ``WATCHDOG=1`` at most once per half watchdog period and only
    when called; nothing is ever sent from a timer.
    """

    def __init__(self, *, environ: Mapping[str, str] | None = None, pid: int | None = None,
                 send: Callable[[str], bool] | None = None) -> None:
        env = dict(os.environ if environ is None else environ)
        self._send: Callable[[str], bool] = send or (lambda state: notify(state, environ=env))
        self.interval_s = watchdog_interval(env, os.getpid() if pid is None else pid)
        self._last_ping: float | None = None
        self.pings = 0

    @property
    def enabled(self) -> bool:
        return self.interval_s is not None

    def ready(self, status: str | None = None) -> bool:
        """Start-up is complete (call once, when the first frame went through)."""
        return self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def frame_flowed(self, now_mono: float) -> bool:
        """A frame was processed at ``now_mono``: ping if the last ping is half a period old."""
        if self.interval_s is None:
            return False
        if self._last_ping is not None and now_mono - self._last_ping < self.interval_s:
            return False
        self._last_ping = now_mono
        self.pings += 1
        return self._send("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown has begun (the open clip is being published)."""
        return self._send("STOPPING=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> bool:
        """One line for ``systemctl status``."""
        return self._send("STATUS=" + text.replace("\n", " "))
