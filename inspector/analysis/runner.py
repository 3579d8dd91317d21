"""Supervising clip analyses, one child process per clip (:mod:`.child`), a few at a time.

Why not a ``concurrent.futures`` pool: when one of its workers dies (a decoder's segfault, the CPU
cap's SIGXCPU, the kernel's OOM killer), the whole pool breaks and it cannot say which clip killed
it. Here each clip has its own process, so a death is that clip's alone: its exit status says how
it ended, ``wait4`` gives its CPU time and peak memory, and the next clip starts in a fresh
process, with fresh caps.

:meth:`ClipRunner.run` starts up to ``workers`` children, waits (``select`` on each child's result
pipe and pidfd) until one ends or a deadline passes, kills a child past its wall-clock deadline,
reaps it and calls ``on_done`` with an :class:`Outcome`, on the caller's thread. Setting ``stop``
kills the running children (outcome ``stopped``: not the clip's fault) and starts no more.

The result a child sends is parsed as hostile (the child decodes hostile bytes): bounded in size,
a JSON object of a known shape, or the outcome is ``failed`` with the reason.

Threads: only the caller's thread; the children run in their own sessions (a Ctrl-C on the terminal
reaches the inspector, which stops them, not the children directly).
"""

from __future__ import annotations

import json
import logging
import math
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspector.analysis.child import BLAS_THREAD_VARS, ORPHANED_EXIT, Job, encode_job
from inspector.analysis.limits import Caps
from inspector.analysis.result import AnalysisResult, BadAnalysis, result_of

logger = logging.getLogger(__name__)

MAX_RESULT_BYTES = 16 << 20
_ROOT = Path(__file__).resolve().parents[2]  # the directory holding the inspector package
_TICK_S = 0.5  # how often ``stop`` is looked at while children run (and exits polled without pidfd)


@dataclass(frozen=True)
class ClipJob:
    key: Any  # the caller's name for it
    job: Job
    caps: Caps


@dataclass
class Outcome:
    """How one clip's process ended. ``kind``: ``analyzed`` (``data`` is the analysis JSON),
    ``rejected`` (the clip's fault: ``reason``), ``failed`` (the process died or ran out of a cap:
    ``reason``; worth another try) or ``stopped`` (killed because ``stop`` was set).
    ``maxrss_mb``: the child's own peak when it reported one; otherwise wait4's ``ru_maxrss``, which on
    Linux also counts the supervisor's resident size when it spawned the child (an upper bound)."""

    kind: str
    reason: str | None = None
    data: AnalysisResult | None = None
    pid: int = 0
    cpu_s: float = 0.0
    maxrss_mb: float = 0.0
    wall_s: float = 0.0

    def usage(self) -> dict[str, float]:
        return {"pid": self.pid, "cpu_s": round(self.cpu_s, 3), "maxrss_mb": round(self.maxrss_mb, 1),
                "wall_s": round(self.wall_s, 3)}


@dataclass
class _Child:
    cj: ClipJob
    proc: subprocess.Popen[bytes]
    result_fd: int
    pidfd: int | None
    started: float
    deadline: float
    buf: bytearray = field(default_factory=bytearray)
    result_open: bool = True
    killed_for: str | None = None  # why we killed it: a reason, or "stopped"


def _peak(doc: dict[str, Any]) -> float | None:
    v = doc.pop("peak_rss_mb", None)
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
    return float(v) if ok else None


def parse_result(raw: bytes) -> tuple[str, str | None, AnalysisResult | None, float | None]:
    """(kind, reason, data, peak_rss_mb) from a child's result document; never raises."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as e:  # ValueError covers bad UTF-8 and bad JSON
        return "failed", f"sent an unreadable result ({type(e).__name__})", None, None
    if not isinstance(doc, dict):
        return "failed", "sent a result of an unknown shape", None, None
    peak = _peak(doc)
    if len(doc) != 1:
        return "failed", "sent a result of an unknown shape", None, peak
    (kind, value), = doc.items()
    if kind in ("rejected", "failed") and isinstance(value, str):
        return kind, value[:2000], None, peak
    if kind == "analyzed":
        try:
            return "analyzed", None, result_of(value), peak
        except BadAnalysis as e:
            return "failed", f"sent an analysis that cannot be recorded: {e}", None, peak
    return "failed", "sent a result of an unknown shape", None, peak


def death_reason(status: int, caps: Caps, cpu_s: float) -> str:
    """Words for how a child without a result ended."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s >= caps.cpu_s):
            return f"analysis process over its CPU time cap of {caps.cpu_s} s (killed by {name})"
        if sig == signal.SIGKILL:
            return f"analysis process killed by SIGKILL after {cpu_s:.1f} s of CPU (memory cap {caps.memory_mb} MiB)"
        return f"analysis process crashed: killed by {name}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    if code == ORPHANED_EXIT:
        return "analysis process lost its supervisor"
    return f"analysis process exited with status {code} without a result"


class ClipRunner:
    def __init__(self, workers: int, *, log_level: str | None = None) -> None:
        self.workers = max(1, workers)
        self.log_level = log_level or logging.getLevelName(logging.getLogger("inspector").getEffectiveLevel())

    def run(self, jobs: list[ClipJob], on_done: Callable[[ClipJob, Outcome], None],
            stop: threading.Event | None = None) -> None:
        pending = deque(jobs)
        running: dict[int, _Child] = {}
        sel = selectors.DefaultSelector()
        try:
            while pending or running:
                if stop is not None and stop.is_set():
                    pending.clear()
                    for child in running.values():
                        self._kill(child, "stopped")
                while pending and len(running) < self.workers:
                    child = self._start(pending.popleft())
                    running[child.proc.pid] = child
                    sel.register(child.result_fd, selectors.EVENT_READ, child)
                    if child.pidfd is not None:
                        sel.register(child.pidfd, selectors.EVENT_READ, child)
                now = time.monotonic()
                timeout = min([c.deadline - now for c in running.values()] + [_TICK_S])
                for key, _ in sel.select(max(0.0, timeout)):
                    child = key.data
                    if key.fd == child.result_fd:
                        self._read(child, sel)
                now = time.monotonic()
                for pid, child in list(running.items()):
                    if now >= child.deadline and child.killed_for is None:
                        self._kill(child, f"analysis process took longer than its {child.cj.caps.wall_s:.0f} s "
                                          f"wall-clock deadline")
                    reaped = self._reap(child)
                    if reaped is None:
                        continue
                    del running[pid]
                    for fd in (child.pidfd, child.result_fd if child.result_open else None):
                        if fd is not None:
                            sel.unregister(fd)
                            os.close(fd)
                    on_done(child.cj, reaped)
        finally:
            for child in running.values():  # an exception in on_done: leave no process behind
                self._kill(child, "stopped")
                os.waitpid(child.proc.pid, 0)
            sel.close()

    def _start(self, cj: ClipJob) -> _Child:
        r, w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
        for var in BLAS_THREAD_VARS:
            env[var] = "1"
        cmd = [sys.executable, "-m", "inspector.analysis.child", "--result-fd", str(w), "--cpu-s",
               str(cj.caps.cpu_s), "--memory-mb", str(cj.caps.memory_mb), "--log-level", self.log_level]
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(w,), env=env,
                                    cwd=_ROOT, start_new_session=True)
        finally:
            os.close(w)
        os.set_blocking(r, False)
        pidfd = None
        if hasattr(os, "pidfd_open"):
            try:
                pidfd = os.pidfd_open(proc.pid)
            except OSError:
                pidfd = None
        assert proc.stdin is not None
        try:
            proc.stdin.write(encode_job(cj.job))
            proc.stdin.flush()  # stdin stays open: its end tells the child we are gone
        except BrokenPipeError:
            pass  # it died already: its exit status says how
        now = time.monotonic()
        logger.debug("analysis of %s: process %d (caps: %s)", cj.key, proc.pid, cj.caps.to_json())
        return _Child(cj, proc, r, pidfd, now, now + cj.caps.wall_s)

    def _read(self, child: _Child, sel: selectors.BaseSelector) -> None:
        """Take what the result pipe holds now; close it at its end (or when it is too much)."""
        while child.result_open:
            try:
                chunk = os.read(child.result_fd, 1 << 16)
            except BlockingIOError:
                return
            if chunk and len(child.buf) + len(chunk) <= MAX_RESULT_BYTES:
                child.buf += chunk
                continue
            if chunk:
                self._kill(child, f"analysis process sent a result over {MAX_RESULT_BYTES} bytes")
            sel.unregister(child.result_fd)
            os.close(child.result_fd)
            child.result_open = False

    def _reap(self, child: _Child) -> Outcome | None:
        """The outcome if the child has ended (reaped now), else None."""
        pid = child.proc.pid
        got, status, ru = os.wait4(pid, os.WNOHANG)
        if got == 0:
            return None
        child.proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        assert child.proc.stdin is not None
        try:
            child.proc.stdin.close()
        except BrokenPipeError:
            pass
        if child.result_open:  # the writer is gone: what is in the pipe is all there is
            while True:
                try:
                    chunk = os.read(child.result_fd, 1 << 16)
                except BlockingIOError:
                    break
                if not chunk or len(child.buf) + len(chunk) > MAX_RESULT_BYTES:
                    break
                child.buf += chunk
        out = Outcome("failed", pid=pid, cpu_s=ru.ru_utime + ru.ru_stime, maxrss_mb=ru.ru_maxrss / 1024,
                      wall_s=time.monotonic() - child.started)
        caps = child.cj.caps
        if child.killed_for == "stopped":
            out.kind, out.reason = "stopped", "stopped before it finished"
        elif child.killed_for is not None:
            out.reason = child.killed_for
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and child.buf:
            out.kind, out.reason, out.data, peak = parse_result(bytes(child.buf))
            if peak is not None:
                out.maxrss_mb = peak
        else:
            out.reason = death_reason(status, caps, out.cpu_s)
        return out

    @staticmethod
    def _kill(child: _Child, why: str) -> None:
        if child.killed_for is not None:
            return
        child.killed_for = why
        try:
            if child.pidfd is not None:
                signal.pidfd_send_signal(child.pidfd, signal.SIGKILL)
            else:
                os.kill(child.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
