"""The Python stack: this interpreter, and numpy / OpenCV / PyAV / picamera2, each with its version
and where it came from, and whether they import *together*.

All four are imported in one child process first (the way the watcher imports them); only when
something goes wrong there is each failing module imported again on its own, to tell a broken
module from two modules that cannot live in one process. The classic failure on a Pi: a venv
made with ``--system-site-packages`` that pip-installed numpy 2 shadows the system numpy that apt's
picamera2 and simplejpeg were built against, and ``from picamera2 import Picamera2`` raises
``ValueError: numpy.dtype size changed`` (picamera2 issues #1088, #1211, #1170).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watcher.doctor.probes import ChildOutput, PythonRunner, run_python_child
from watcher.doctor.result import CheckResult, fail, na, ok, warn
from watcher.pi_stack import MIN_PICAMERA2, format_version, is_numpy_binary_mismatch, picamera2_too_old

IMPORT_TIMEOUT_S = 60.0  # importing cv2 + picamera2 on a cold Pi Zero 2 / Pi 3 SD card takes seconds

# (check name, module, apt package on Raspberry Pi OS, PyPI distribution)
MODULES: list[tuple[str, str, str, str]] = [
    ("numpy", "numpy", "python3-numpy", "numpy"),
    ("opencv", "cv2", "python3-opencv", "opencv-python-headless"),
    ("pyav", "av", "python3-av", "av"),
    ("picamera2", "picamera2", "python3-picamera2", "picamera2"),
]


@dataclass(frozen=True)
class PythonInfo:
    version: str
    executable: str
    prefix: str
    in_venv: bool
    system_site_packages: bool | None  # None outside a venv

    @property
    def pip(self) -> str:
        return str(Path(self.prefix) / "bin" / "pip") if self.in_venv else f"{self.executable} -m pip"


def this_python() -> PythonInfo:
    in_venv = sys.prefix != sys.base_prefix
    system_site = None
    if in_venv:
        system_site = False
        cfg = Path(sys.prefix) / "pyvenv.cfg"
        try:
            for line in cfg.read_text().splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "include-system-site-packages":
                    system_site = value.strip().lower() == "true"
        except OSError:
            system_site = None
    return PythonInfo(sys.version.split()[0], sys.executable, sys.prefix, in_venv, system_site)


@dataclass(frozen=True)
class ImportOutcome:
    module: str
    ok: bool
    version: str | None = None
    file: str | None = None
    error_type: str | None = None
    error: str | None = None
    missing: str | None = None  # the name ModuleNotFoundError gave
    died: str | None = None  # the interpreter died while importing this module
    copies: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def not_installed(self) -> bool:
        return self.missing == self.module

    @property
    def problem(self) -> str:
        if self.died:
            return f"importing {self.module}: the interpreter was {self.died}"
        return f"{self.error_type}: {self.error}"


def outcomes_from(child: ChildOutput, modules: Sequence[str]) -> dict[str, ImportOutcome]:
    """Results per module; the module being imported when the child died gets ``died``;
    modules after it get nothing (they were never tried)."""
    out: dict[str, ImportOutcome] = {}
    started: str | None = None
    for rec in child.records:
        if rec.get("event") == "start":
            started = rec.get("module")
        elif rec.get("event") == "result":
            m = rec.get("module")
            if not isinstance(m, str):  # the child always names it; a record without one says nothing
                continue
            extra = {"h264_encoder": rec["h264_encoder"]} if "h264_encoder" in rec else {}
            out[m] = ImportOutcome(m, bool(rec.get("ok")), rec.get("version"), rec.get("file"), rec.get("error_type"),
                                   rec.get("error"), rec.get("missing"), None, rec.get("copies") or [], extra)
            started = None
    if started is not None and started in modules:
        died = child.died or f"exited with status {child.returncode} without a word"
        out[started] = ImportOutcome(started, False, died=died, error=child.stderr.strip()[-300:] or None)
    elif not out and child.died is None and child.returncode:
        for m in modules:  # the probe itself could not run
            out[m] = ImportOutcome(m, False, error_type="probe", error=child.stderr.strip()[-300:] or "no output")
    return out


def probe_imports(modules: Sequence[str], runner: PythonRunner = run_python_child,
                  timeout_s: float = IMPORT_TIMEOUT_S) -> tuple[dict[str, ImportOutcome], dict[str, ImportOutcome]]:
    """(together, alone): every module imported in one process, then each failing one on its own."""
    together = outcomes_from(runner("watcher.doctor.import_probe", list(modules), timeout_s), modules)
    alone = {m: o for m, o in together.items() if o.ok or o.not_installed}
    for m in modules:
        if m not in alone:
            alone.update(outcomes_from(runner("watcher.doctor.import_probe", [m], timeout_s), [m]))
    return together, alone


def _origin(path: str | None, py: PythonInfo) -> str:
    if not path:
        return "?"
    where = os.path.dirname(path) if os.path.basename(path) == "__init__.py" else path
    if py.in_venv and where.startswith(py.prefix.rstrip("/") + "/"):
        kind = "venv"
    elif "/dist-packages" in where and where.startswith("/usr/"):
        kind = "system, apt"
    else:
        kind = "site"
    return f"{where} ({kind})"


def _shadowed(o: ImportOutcome) -> list[dict[str, Any]]:
    return o.copies[1:] if len(o.copies) > 1 else []


def _describe_copies(copies: list[dict[str, Any]]) -> str:
    return ", ".join((f"{c['version']} at " if c.get("version") else "") + c["path"] for c in copies)


def binary_mismatch(o: ImportOutcome) -> bool:
    return is_numpy_binary_mismatch(f"{o.error_type} {o.error}")


def _numpy_fix(py: PythonInfo, numpy: ImportOutcome | None) -> str:
    who = "the numpy it finds"
    if numpy is not None and numpy.copies:
        first = numpy.copies[0]
        who = f"numpy {first['version']} at {first['path']}" if first.get("version") else f"numpy at {first['path']}"
        if len(numpy.copies) > 1:
            who += f", which shadows {_describe_copies(numpy.copies[1:])}"
    return (f"binary mismatch with {who}: a numpy (or OpenCV/PyAV) from PyPI in the venv hides the system numpy "
            "that apt's picamera2, simplejpeg and python3-opencv were built against. Fix: "
            f"`{py.pip} uninstall numpy opencv-python-headless av` (the venv then uses apt's python3-numpy, "
            "python3-opencv, python3-av), or rerun `sudo deploy/pi/install.sh`, which recreates the venv with "
            "--system-site-packages and without PyPI numpy/OpenCV/PyAV")


def _install_fix(apt: str, dist: str, py: PythonInfo) -> str:
    if py.in_venv and py.system_site_packages is False:
        return (f"this venv ({py.prefix}) does not see the system's packages: on a Pi, recreate it with "
                f"`python3 -m venv --system-site-packages` and `sudo apt install {apt}` (rerun deploy/pi/install.sh); "
                f"elsewhere `{py.pip} install {dist}`")
    return f"`sudo apt install {apt}` (Raspberry Pi OS) or `{py.pip} install {dist}`"


def _failure(name: str, apt: str, dist: str, o: ImportOutcome, py: PythonInfo, numpy: ImportOutcome | None,
             needed: bool) -> CheckResult:
    details = {"module": o.module, "error_type": o.error_type, "error": o.error, "died": o.died, "copies": o.copies}
    make = fail if needed else warn
    if o.not_installed:
        if not needed:
            return na(name, "not installed (needed only for source picamera2)", **details)
        return fail(name, f"{o.module} is not installed for {py.executable}", _install_fix(apt, dist, py), **details)
    if numpy is not None and not numpy.ok and o.module != "numpy" and not numpy.not_installed:
        return make(name, f"does not import: {o.problem}", "numpy does not import: fix the numpy line first",
                    **details)
    if binary_mismatch(o):
        return make(name, f"does not import: {o.problem}", _numpy_fix(py, numpy), **details)
    if o.missing:
        hint = (f"{o.module} needs `{o.missing}`: `sudo apt install python3-libcamera python3-kms++`"
                if o.module == "picamera2" else f"{o.module} needs the module `{o.missing}`: reinstall {dist}")
        if py.in_venv and py.system_site_packages is False:
            hint += "; this venv does not see the system's packages (recreate it with --system-site-packages)"
        return make(name, f"does not import: {o.problem}", hint, **details)
    if o.died:
        return make(name, f"does not import: {o.problem}",
                    f"run `{py.executable} -c 'import {o.module}'` to see it; two copies of a library may clash"
                    + (f" (copies: {_describe_copies(o.copies)})" if o.copies else ""), **details)
    return make(name, f"does not import: {o.problem}",
                f"run `{py.executable} -c 'import {o.module}'` for the traceback; "
                f"reinstall {apt} (apt) or {dist} (pip)",
                **details)


def check_python(py: PythonInfo) -> CheckResult:
    where = f"{py.executable}"
    if py.in_venv:
        site = {True: "yes", False: "no", None: "?"}[py.system_site_packages]
        where += f" (venv {py.prefix}, system site-packages: {site})"
    if tuple(int(x) for x in py.version.split(".")[:2]) < (3, 11):
        return fail("python", f"Python {py.version} at {where}: the watcher needs 3.11 or later",
                    "use Raspberry Pi OS Bookworm (Python 3.11) or later", version=py.version)
    return ok("python", f"{py.version} at {where}", version=py.version, executable=py.executable, prefix=py.prefix,
              venv=py.in_venv, system_site_packages=py.system_site_packages)


def check_stack(source_spec: str, *, runner: PythonRunner = run_python_child, py: PythonInfo | None = None,
                timeout_s: float = IMPORT_TIMEOUT_S) -> list[CheckResult]:
    """python, numpy, opencv, pyav, picamera2 and imports-together, in that order."""
    py = py or this_python()
    modules = [m for _, m, _, _ in MODULES]
    together, alone = probe_imports(modules, runner, timeout_s)
    results = [check_python(py)]
    numpy = alone.get("numpy") or together.get("numpy")
    for name, module, apt, dist in MODULES:
        needed = module != "picamera2" or source_spec == "picamera2"
        o = alone.get(module)
        if o is None:
            results.append(fail(name, f"{module}: no answer from the import probe", None))
        elif o.ok:
            msg = f"{o.version or 'version ?'} from {_origin(o.file, py)}"
            if _shadowed(o):
                msg += f"; shadows {_describe_copies(_shadowed(o))}"
            if o.extra.get("h264_encoder"):
                msg += f"; H264Encoder is {o.extra['h264_encoder']}"
            if module == "picamera2" and picamera2_too_old(o.version):
                results.append((fail if needed else warn)(
                    name, f"{msg}: too old, the watcher needs {format_version(MIN_PICAMERA2)} or newer",
                    "`sudo apt update && sudo apt install python3-picamera2`", version=o.version, file=o.file))
                continue
            results.append(ok(name, msg, version=o.version, file=o.file, copies=o.copies, **o.extra))
        else:
            results.append(_failure(name, apt, dist, o, py, numpy, needed))
    results.append(_together(modules, together, alone))
    return results


def _together(modules: Sequence[str], together: dict[str, ImportOutcome],
              alone: dict[str, ImportOutcome]) -> CheckResult:
    installed = [m for m in modules if not (alone.get(m) and alone[m].not_installed)]
    alone_ok = [m for m in installed if alone.get(m) and alone[m].ok]
    clash = [m for m in alone_ok if m in together and not together[m].ok]
    if clash:
        first = clash[0]
        before = modules[: modules.index(first)]
        return fail("imports", f"{first} imports alone but not after {', '.join(before)}: {together[first].problem}",
                    "two of them load clashing copies of a shared library (FFmpeg, libstdc++) or of numpy: take all "
                    "four from one place (apt's packages on a Pi; see the lines above)", clash=clash)
    tried = [m for m in alone_ok if m in together]
    notes = [f"{m} not installed" for m in modules if m not in installed]
    notes += [f"{m} fails on its own" for m in installed if m not in alone_ok]
    notes += [f"{m} not reached" for m in alone_ok if m not in together]
    suffix = f" ({'; '.join(notes)})" if notes else ""
    if len(tried) < 2:
        return na("imports", f"nothing to import together{suffix}")
    return ok("imports", f"{', '.join(tried)} import together in one process{suffix}", together=tried)
