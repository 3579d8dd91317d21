"""Which numpy, OpenCV and PyAV this interpreter imports, and from where.

    python -m tests.stack            print them (and Python's version)
    python -m tests.stack --system   also fail unless all three are Debian's own packages
                                     (python3-numpy, python3-opencv, python3-av), as on a Pi

``make test-pi-stack`` runs the second form before the tests: the Pi's stack is only tested if a
PyPI wheel does not shadow a system package in the venv (the way picamera2 breaks on a Pi).
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from pathlib import Path

SYSTEM_SITE = Path("/usr/lib/python3/dist-packages")
MODULES = {"numpy": "python3-numpy", "cv2": "python3-opencv", "av": "python3-av"}


def versions() -> dict[str, dict[str, str]]:
    """{module: {"version": ..., "file": ...}} for numpy, cv2 and av, plus {"python": {...}}."""
    out = {"python": {"version": platform.python_version(), "file": sys.executable}}
    for name in MODULES:
        module = importlib.import_module(name)
        out[name] = {"version": str(module.__version__), "file": str(Path(module.__file__).resolve())}
    return out


def not_from_system(found: dict[str, dict[str, str]]) -> list[str]:
    return [name for name in MODULES if not Path(found[name]["file"]).is_relative_to(SYSTEM_SITE)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.stack", description=__doc__.splitlines()[0])
    p.add_argument("--system", action="store_true", help="fail unless numpy, cv2 and av are Debian's packages")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        found = versions()
    except ImportError as e:
        print(f"cannot import {e.name}: install {MODULES.get(e.name or '', e.name)}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(found))
    else:
        for name, v in found.items():
            print(f"{name:7} {v['version']:10} {v['file']}")
    wrong = not_from_system(found) if args.system else []
    for name in wrong:
        print(f"{name} comes from {found[name]['file']}, not from Debian's {MODULES[name]} in {SYSTEM_SITE}: "
              "install that with apt, and make the venv with --system-site-packages and nothing pip-installed "
              "over it (recreate it)", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
