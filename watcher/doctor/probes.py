"""The doctor's two ways of asking the outside world, both injectable and both bounded in time:

* :func:`run_command` runs a program (``systemctl``, ``timedatectl``) and returns its output;
* :func:`run_python_child` runs one of the doctor's probe modules (``watcher.doctor.*_probe``) in
  a fresh interpreter, so an import that raises, crashes the interpreter or hangs is contained.
  A probe reports through lines ``@@doctor {json}`` on stdout; whatever else the libraries print
  is ignored. A probe emits a ``start`` record before each risky step, so when the child dies
  the parent still knows which step killed it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARK = "@@doctor "
PROJECT_ROOT = str(Path(__file__).resolve().parents[2])  # the directory that holds the watcher package


@dataclass(frozen=True)
class CommandResult:
    returncode: int | None  # None: the program could not be run or timed out (see error)
    stdout: str = ""
    stderr: str = ""
    error: str | None = None


CommandRunner = Callable[[Sequence[str], float], CommandResult]


def run_command(argv: Sequence[str], timeout_s: float) -> CommandResult:
    env = dict(os.environ, LC_ALL="C", SYSTEMD_PAGER="", SYSTEMD_COLORS="0")
    try:
        p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s, env=env,
                           stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        return CommandResult(None, error=f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired:
        return CommandResult(None, error=f"{' '.join(argv)}: no answer within {timeout_s:g} s")
    except OSError as e:
        return CommandResult(None, error=f"{argv[0]}: {e}")
    return CommandResult(p.returncode, p.stdout, p.stderr)


@dataclass(frozen=True)
class ChildOutput:
    """What a probe child said (its records, in order) and how it ended."""

    records: list[dict[str, Any]] = field(default_factory=list)
    returncode: int | None = 0  # None when it was killed for taking too long
    timed_out: bool = False
    timeout_s: float = 0.0
    stderr: str = ""  # the last part of it

    @property
    def died(self) -> str | None:
        """How the child ended abnormally ("killed by SIGSEGV", "timed out after 20 s"), or None."""
        if self.timed_out:
            return f"no answer within {self.timeout_s:g} s (killed)"
        if self.returncode is not None and self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = f"signal {-self.returncode}"
            return f"killed by {name}"
        return None

    def last(self, event: str) -> dict[str, Any] | None:
        return next((rec for rec in reversed(self.records) if rec.get("event") == event), None)


PythonRunner = Callable[[str, Sequence[str], float], ChildOutput]

# Runs the probe module with the doctor's own copy of the project importable, without putting
# the project in front of the interpreter's own paths when it is already reachable.
_BOOT = ("import runpy, sys; root = sys.argv.pop(1); module = sys.argv[1]; "
         "sys.path.insert(0, root) if root not in sys.path else None; "
         "sys.argv = sys.argv[1:]; runpy.run_module(module, run_name='__main__', alter_sys=True)")


def parse_records(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        if line.startswith(MARK):
            try:
                rec = json.loads(line[len(MARK):])
            except ValueError:
                continue
            if isinstance(rec, dict):
                records.append(rec)
    return records


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def run_python_child(module: str, args: Sequence[str], timeout_s: float) -> ChildOutput:
    """Run ``python -m module args`` (this interpreter, this environment); never raises."""
    argv = [sys.executable, "-c", _BOOT, PROJECT_ROOT, module, *args]
    try:
        p = subprocess.run(argv, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:  # run() has killed and reaped the child
        return ChildOutput(parse_records(_text(e.stdout)), None, True, timeout_s, _text(e.stderr)[-2000:])
    except OSError as e:
        return ChildOutput([], 127, False, timeout_s, f"cannot start {sys.executable}: {e}")
    return ChildOutput(parse_records(_text(p.stdout)), p.returncode, False, timeout_s, _text(p.stderr)[-2000:])


def emit(record: dict[str, Any]) -> None:
    """For probe children: one record on stdout, flushed at once (the next step may kill us)."""
    sys.stdout.write(MARK + json.dumps(record, default=str) + "\n")
    sys.stdout.flush()
