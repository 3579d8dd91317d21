"""Probe child: import each module named on the command line, in order, in this one process.

    python -m watcher.doctor.import_probe numpy cv2 av picamera2

For each module: a ``start`` record, then a ``result`` record (ok, version, file, or the
exception's type and message). Every exception is caught (numpy's binary-incompatibility error
is a ValueError, not an ImportError); a crash or a hang ends the process, and the parent reads
the last ``start`` record to see which import did it. Only the standard library is imported
here besides the module under test.
"""

from __future__ import annotations

import glob
import importlib
import importlib.metadata
import os
import sys
import traceback
from typing import Any

from watcher.doctor.probes import emit

# Distribution names under which each module is installed (PyPI wheels, Debian's egg-info).
DISTRIBUTIONS = {
    "numpy": ("numpy",),
    "cv2": ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless", "opencv-contrib-python",
            "opencv"),
    "av": ("av",),
    "picamera2": ("picamera2",),
}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


def copies(module: str) -> list[dict[str, Any]]:
    """Every copy of ``module`` along sys.path, in search order (the first one wins), with the
    version its distribution metadata names where there is any."""
    found = []
    wanted = {_norm(d) for d in DISTRIBUTIONS.get(module, (module,))}
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        package = os.path.join(entry, module)
        hits = [package] if os.path.isfile(os.path.join(package, "__init__.py")) else []
        hits += glob.glob(os.path.join(glob.escape(entry), f"{module}.*.so")) + glob.glob(
            os.path.join(glob.escape(entry), f"{module}.so"))
        if not hits:
            continue
        version = None
        try:
            for dist in importlib.metadata.distributions(path=[entry]):
                if _norm(dist.metadata["Name"] or "") in wanted:
                    version = dist.version
                    break
        except Exception:  # broken metadata must not hide the copy
            pass
        found.append({"path": hits[0], "version": version})
    return found


def _version(module: str, mod: Any) -> str | None:
    v = getattr(mod, "__version__", None)
    if isinstance(v, str):
        return v
    for dist in DISTRIBUTIONS.get(module, (module,)):
        try:
            return importlib.metadata.version(dist)
        except Exception:
            continue
    return None


def _import(module: str) -> dict[str, Any]:
    mod = importlib.import_module(module)
    info: dict[str, Any] = {"version": _version(module, mod), "file": getattr(mod, "__file__", None)}
    if module == "picamera2":  # what watcher.sources.picamera2_source imports
        from picamera2 import Picamera2  # noqa: F401
        from picamera2.encoders import H264Encoder
        from picamera2.outputs import Output  # noqa: F401

        # LibavH264Encoder on a Pi 5 (no hardware encoder), the V4L2 H264Encoder on a Pi 4.
        info["h264_encoder"] = H264Encoder.__name__
    return info


def probe(module: str) -> dict[str, Any]:
    rec: dict[str, Any] = {"event": "result", "module": module, "copies": copies(module)}
    emit({"event": "start", "module": module})
    try:
        rec.update(ok=True, **_import(module))
    except BaseException as e:  # noqa: BLE001 - ValueError, AttributeError, SystemExit ...: all reported
        tb = traceback.extract_tb(e.__traceback__)
        rec.update(ok=False, error_type=type(e).__name__, error=str(e).strip()[:1000],
                   missing=e.name if isinstance(e, ModuleNotFoundError) else None,
                   where=f"{tb[-1].filename}:{tb[-1].lineno}" if tb else None)
    emit(rec)
    return rec


def main(argv: list[str]) -> int:
    for module in argv:
        probe(module)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
