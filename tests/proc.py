"""Run the watcher as a real process and follow its log lines (no sleeps: we wait on the lines)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_for_file(path: Path, ready, timeout: float = 30.0, poll_s: float = 0.05) -> str:
    """The text of ``path`` once ``ready(text)`` is true (its writer replaces it atomically); fail at
    the deadline. Polls the file: the file is what we synchronize on, not a guessed duration."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = path.read_text()
            if ready(last):
                return last
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(poll_s)
    raise AssertionError(f"{path} did not become ready within {timeout:g} s; last content: {last!r}")


def wait_until(condition, timeout: float, what: str, poll_s: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it returns something true and return that; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll_s)  # the poll interval of a deadline loop, never a guessed duration
    raise AssertionError(f"{what}: not within {timeout:g} s")


LIVE: list[subprocess.Popen[str]] = []  # killed after each test by the autouse fixture in conftest.py


class WatcherProcess:
    def __init__(self, *args: str, cwd: Path | None = None, module: str = "watcher",
                 env: dict[str, str] | None = None) -> None:
        env = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=cwd or ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        LIVE.append(self.proc)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, needle: str, timeout: float = 60.0, count: int = 1) -> str:
        """Block until the count-th log line containing ``needle`` arrives; fail at the deadline."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no line with {needle!r} within {timeout} s; log tail: {self.log[-10:]}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise EOFError(f"process ended before {needle!r}; log tail: {self.log[-15:]}")
            self.log.append(line)
            if needle in line:
                seen += 1
                if seen >= count:
                    return line

    def next_line(self, timeout: float) -> str | None:
        """The next log line, or None if none arrived within ``timeout`` (or the process ended)."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is not None:
            self.log.append(line)
        return line

    def finish(self, timeout: float = 120.0) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        while (line := self.lines.get_nowait() if not self.lines.empty() else None) is not None:
            self.log.append(line)
        return rc
