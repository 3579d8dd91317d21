"""Helpers for the inspector's storage tests: configs with settings, a watcher reached through a
slow link (tests/netproxy.py), and real ``python -m inspector pull`` processes whose log lines we
follow and whose peak memory we read from the kernel (wait4's rusage, see _LAUNCHER), never guess."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.proc import LIVE, ROOT


def write_config_with(path: Path, library: Path, tables: list[str], **settings: Any) -> Path:
    """An inspector config with top-level settings (max_clip_mb = ..., reserve_free_mb = ...)."""
    top = "".join(f"{k} = {v!r}\n" if not isinstance(v, str) else f'{k} = "{v}"\n' for k, v in settings.items())
    path.write_text(f'library = "{library}"\n{top}\n' + "\n".join(tables))
    return path


def via_port(sshd: Any, table: str, port: int) -> str:
    """``sshd.watcher_toml(...)`` pointed at another local port (a LinkProxy in front of sshd), with
    the host key pinned for that port too: known_hosts names "[host]:port"."""
    host_pub = sshd.host_key.with_suffix(".pub").read_text().split()
    kh = sshd.dir / f"known_hosts_{port}"
    kh.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    return table.replace(f"port = {sshd.port}\n", f"port = {port}\n").replace(
        f'known_hosts = "{sshd.known_hosts}"', f'known_hosts = "{kh}"')


@dataclass
class Pull:
    """A running ``python -m inspector pull`` whose stderr is read line by line on a thread."""

    proc: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    log: list[str] = field(default_factory=list)
    stdout: str = ""
    maxrss_kib: int = 0
    returncode: int | None = None
    wall_s: float = 0.0
    _started: float = 0.0
    _threads: list[threading.Thread] = field(default_factory=list)
    _rss_file: Path = Path()

    @classmethod
    def start(cls, config: Path, *args: str) -> Pull:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        fd, rss_file = tempfile.mkstemp(prefix="pull-rss-")
        os.close(fd)
        cmd = [sys.executable, "-m", "inspector", "pull", "--no-analyze", "--config", str(config), *args]
        proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, rss_file, *cmd], cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        LIVE.append(proc)
        p = cls(proc, _started=time.monotonic(), _rss_file=Path(rss_file))
        p._threads = [threading.Thread(target=p._read_err, daemon=True),
                      threading.Thread(target=p._read_out, daemon=True)]
        for t in p._threads:
            t.start()
        return p

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        self.stdout = self.proc.stdout.read()

    def _next(self, deadline: float) -> str | None:
        try:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the launcher and the pull it started
            raise AssertionError(f"no line before the deadline; log tail: {self.log[-10:]}") from None
        if line is None:
            self.lines.put(None)  # later readers see the end too
        else:
            self.log.append(line)
        return line

    def wait_for(self, predicate: Any, timeout: float = 120.0) -> str:
        """The first log line for which ``predicate(line)`` holds; fail at the deadline or at exit."""
        deadline = time.monotonic() + timeout
        while (line := self._next(deadline)) is not None:
            if predicate(line):
                return line
        raise AssertionError(f"process ended first; log tail: {self.log[-15:]}")

    def finish(self, timeout: float = 300.0) -> Pull:
        """Read the log to its end, wait for the exit, and read the pull's peak RSS as its launcher saw it."""
        deadline = time.monotonic() + timeout
        while self._next(deadline) is not None:
            pass
        self.returncode = self.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        self.wall_s = time.monotonic() - self._started
        self.maxrss_kib = int(self._rss_file.read_text() or 0)
        self._rss_file.unlink()
        for t in self._threads:
            t.join(timeout=30)
        return self

    @property
    def stderr(self) -> str:
        return "\n".join(self.log)


# A child's ru_maxrss counts the address space it was forked from (the kernel records the old mm's
# high-water mark at exec), so a pull started straight from pytest would report pytest's size. A
# small launcher starts the pull, reaps it with wait4 and writes that child's own peak RSS (KiB).
_LAUNCHER = """
import os, sys
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def pull(config: Path, *args: str, timeout: float = 300.0) -> Pull:
    return Pull.start(config, *args).finish(timeout)
