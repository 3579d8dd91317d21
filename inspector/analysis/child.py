"""One clip's analysis in a process of its own: ``python -m inspector.analysis.child``.

Why a process per clip: the caps set here with ``setrlimit`` (CPU time, address space, core
files, file size) then bound this clip alone, and when a decoder crashes, runs out of its CPU time
or is killed, the supervisor (:mod:`.runner`) knows exactly which clip it was, reads the process's
own resource usage (``wait4``) and the other clips carry on.

Protocol with the supervisor, which started this process:

- argv: the caps, the log level and ``--result-fd N``; the caps are applied first, before numpy,
  OpenCV or FFmpeg are loaded.
- stdin: an 8-byte big-endian length, then a pickled :class:`Job`. stdin stays open after that:
  end of file means the supervisor is gone, and this process exits (no orphaned analysis).
- fd N: one JSON document written at the end, ``{"analyzed": <analysis JSON>}``,
  ``{"rejected": reason}`` (the clip's fault: quarantine it) or ``{"failed": reason}`` (say, out of
  memory under the cap: count a try), plus ``"peak_rss_mb"``: this process's own peak (VmHWM; the
  ``ru_maxrss`` that ``wait4`` reports also holds the supervisor's size when it spawned us).
  Then exit 0. Any other end is reported by the supervisor from
  the exit status (``SIGXCPU``: over the CPU cap).

Threads: the main thread analyzes; one daemon thread only waits for end of file on stdin.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import resource
import struct
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("inspector.analysis.child")

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
MAX_FILE_BYTES = 64 << 20  # RLIMIT_FSIZE: stills and the analysis JSON are far smaller
MAX_JOB_BYTES = 1 << 20
ORPHANED_EXIT = 3


@dataclass(frozen=True)
class Job:
    """What to analyze. ``clip``: a library clip (its manifest beside it; results written beside
    it). ``settings`` and ``limits`` are :class:`AnalyzerSettings` and :class:`AnalysisLimits`
    (None: the defaults)."""

    clip: str
    settings: Any = None
    limits: Any = None


def set_caps(cpu_s: int, memory_mb: int) -> None:
    """Cap this process: SIGXCPU after ``cpu_s`` of CPU time (SIGKILL 5 s later), allocations fail
    past ``memory_mb`` of address space, no core file (a crash must not write gigabytes outside the
    library), no file larger than MAX_FILE_BYTES."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    mem = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))


def _read_exactly(fd: int, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def read_job(fd: int) -> Job:
    """Read the job from ``fd`` (raw reads: the orphan watch then reads the same fd unbuffered)."""
    header = _read_exactly(fd, 8)
    if len(header) != 8:
        raise ValueError("no job on stdin")
    (size,) = struct.unpack(">Q", header)
    if size > MAX_JOB_BYTES:
        raise ValueError(f"job of {size} bytes")
    job = pickle.loads(_read_exactly(fd, size))  # from our own supervisor, through a pipe only it holds
    if not isinstance(job, Job):
        raise ValueError("not a Job")
    return job


def encode_job(job: Job) -> bytes:
    data = pickle.dumps(job)
    return struct.pack(">Q", len(data)) + data


def _exit_when_orphaned(fd: int) -> None:
    """Blocks until stdin ends: the supervisor closed it or died. Either way, stop at once."""
    try:
        while os.read(fd, 4096):
            pass
    finally:
        os._exit(ORPHANED_EXIT)


def analyze(job: Job, memory_mb: int) -> dict[str, Any]:
    """Run the job; the result document (never raises for the clip's sake)."""
    import cv2

    from inspector.analysis.analyzer import ClipRejected, analyze_clip

    cv2.setNumThreads(1)  # one thread: the supervisor runs one process per core
    try:
        return {"analyzed": analyze_clip(Path(job.clip), job.settings, job.limits).model_dump(mode="json")}
    except ClipRejected as e:
        return {"rejected": str(e)}
    except MemoryError:
        return {"failed": f"ran out of memory under its cap of {memory_mb} MiB"}
    except cv2.error as e:
        if e.code == cv2.Error.StsNoMem:
            return {"failed": f"ran out of memory under its cap of {memory_mb} MiB (OpenCV)"}
        logger.exception("analysis of %s failed", job.clip)
        return {"failed": f"OpenCV error: {e}".strip()[:500]}
    except OSError as e:
        logger.exception("analysis of %s failed", job.clip)
        return {"failed": f"{type(e).__name__}: {e}"[:500]}
    except Exception as e:  # an analyzer bug: the supervisor counts a try
        logger.exception("analysis of %s failed", job.clip)
        return {"failed": f"{type(e).__name__}: {e}"[:500]}


def peak_rss_mb() -> float | None:
    """This process's peak resident set size since it started (exec), in MiB; None if unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The supervisor's flags (runner.py passes them); ``--log-level`` takes whatever level name it passes."""
    p.add_argument("--result-fd", type=int, required=True)
    p.add_argument("--cpu-s", type=int, required=True)
    p.add_argument("--memory-mb", type=int, required=True)
    p.add_argument("--log-level", default="INFO")


def run(args: argparse.Namespace) -> int:
    set_caps(args.cpu_s, args.memory_mb)
    for var in BLAS_THREAD_VARS:  # before numpy is first imported
        os.environ[var] = "1"
    job = read_job(0)
    threading.Thread(target=_exit_when_orphaned, args=(0,), name="orphan-watch", daemon=True).start()
    result = analyze(job, args.memory_mb)
    result["peak_rss_mb"] = peak_rss_mb()
    data = json.dumps(result).encode()
    with os.fdopen(args.result_fd, "wb") as out:
        out.write(data)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from shared import cli

    p = argparse.ArgumentParser(prog="python -m inspector.analysis.child")
    cli.wire(p, sys.modules[__name__], log_level=None)  # its own --log-level, whatever the runner passes
    return p


def main(argv: list[str] | None = None) -> int:
    """Logging is set up (by the entry-point wrapper) before the caps: it loads nothing heavy."""
    from shared import cli

    return cli.main(build_parser(), argv)


if __name__ == "__main__":
    # run the module's importable copy: the pickled Job names inspector.analysis.child.Job, not __main__.Job
    from inspector.analysis import child  # noqa: PLW0406 - on purpose, see above

    sys.exit(child.main())
