"""Import picamera2, or say in one line why not and what fixes it.

On a Pi, picamera2 and simplejpeg are apt packages built against the system's numpy. The usual
ways that import fails, and what each looks like (picamera2 issues #1088, #1211, #1170):

* not installed (``ModuleNotFoundError``): not Raspberry Pi OS, or the venv was made without
  ``--system-site-packages``;
* a numpy from PyPI in the venv shadows the system's: ``ValueError: numpy.dtype size changed``
  from simplejpeg (picamera2 issues #1088, #1211, #1170) -- a ``ValueError``, not an ImportError;
* anything else a broken install raises (``AttributeError``, ``OSError`` from libcamera, ...).

Also checks that the release is new enough for the API we use: ``Picamera2.wait(job, timeout=)``
exists from 0.3.17 on; older releases are refused with their version and the minimum.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import sys
from dataclasses import dataclass
from typing import Any

from watcher.pi_stack import MIN_PICAMERA2, format_version, is_numpy_binary_mismatch, picamera2_too_old

REINSTALL = ("`sudo deploy/pi/install.sh` from the project's checkout (its venv uses --system-site-packages "
             "and takes numpy, OpenCV and PyAV from apt)")


class Picamera2Unavailable(Exception):
    """picamera2 cannot be used here; ``str()`` is one line with the cause and the fix."""


@dataclass(frozen=True)
class Picamera2Api:
    Picamera2: type
    H264Encoder: type
    Output: type
    version: str | None


def installed_version() -> str | None:
    """picamera2's version from its package metadata (apt and pip both install it), or None."""
    try:
        return importlib.metadata.version("picamera2")
    except importlib.metadata.PackageNotFoundError:
        return None


def _numpy_origin() -> str:
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return "numpy"
    return f"numpy {getattr(numpy, '__version__', '?')} from {getattr(numpy, '__file__', '?')}"


def explain_import_failure(exc: BaseException) -> str:
    """One line: what went wrong importing picamera2 and how to fix it."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "picamera2":
        return ("picamera2 is not installed: on Raspberry Pi OS run `sudo apt install python3-picamera2` "
                "and create the venv with --system-site-packages")
    if is_numpy_binary_mismatch(text):
        return (f"picamera2 cannot be imported because the venv's {_numpy_origin()} shadows the system numpy "
                f"that apt's picamera2 and simplejpeg were built against ({text}); remove it with "
                f"`pip uninstall numpy opencv-python-headless av` in the venv, or reinstall with {REINSTALL}")
    return (f"picamera2 cannot be imported ({text}); run `motion-watcher doctor` to see which part of the "
            f"Python stack is broken, or reinstall with {REINSTALL}")


def check_version(picamera2_cls: type, version: str | None) -> None:
    """Refuse a picamera2 older than ``MIN_PICAMERA2`` (by its metadata, else by its API)."""
    has_wait_timeout = "timeout" in inspect.signature(getattr(picamera2_cls, "wait", lambda job: None)).parameters
    if picamera2_too_old(version) or not has_wait_timeout:
        shown = version or "of unknown version (no Picamera2.wait(job, timeout=))"
        raise Picamera2Unavailable(
            f"picamera2 {shown} is too old: the watcher needs {format_version(MIN_PICAMERA2)} or newer "
            f"(Picamera2.wait with a timeout); upgrade with `sudo apt update && sudo apt install python3-picamera2`")


def import_picamera2() -> Picamera2Api:
    """picamera2's classes, or :class:`Picamera2Unavailable` with one line naming cause and fix."""
    try:
        module: Any = importlib.import_module("picamera2")
        encoders: Any = importlib.import_module("picamera2.encoders")
        outputs: Any = importlib.import_module("picamera2.outputs")
        api = Picamera2Api(module.Picamera2, encoders.H264Encoder, outputs.Output, installed_version())
    except Exception as exc:  # ValueError (numpy ABI), AttributeError, OSError, ...: all mean the same
        raise Picamera2Unavailable(explain_import_failure(exc)) from exc
    check_version(api.Picamera2, api.version)
    return api
