"""Real test footage: OpenCV's ``vtest.avi`` (768x576, 10 fps, people walking), from Debian's
``opencv-doc`` package.

It is fetched once into ``tests/.footage/`` (``apt-get download`` + ``dpkg -x``; needs the apt
lists, which ``make test`` refreshes: tests/sysdeps.sh). ``WATCHER_TEST_FOOTAGE`` may point at a directory that
already holds the files. A missing file is an error, never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

FOOTAGE_DIR = Path(__file__).resolve().parent / ".footage"
_MEMBER = "usr/share/doc/opencv-doc/examples/data"


class FootageUnavailable(RuntimeError):
    pass


def footage_path(name: str = "vtest.avi") -> Path:
    """Return the path of a real footage file, fetching it on first use."""
    env = os.environ.get("WATCHER_TEST_FOOTAGE")
    if env and (Path(env) / name).is_file():
        return Path(env) / name
    target = FOOTAGE_DIR / name
    if target.is_file():
        return target
    fetch()
    if not target.is_file():
        raise FootageUnavailable(f"{name} is not in the opencv-doc package")
    return target


def fetch() -> None:
    """Download opencv-doc with apt and keep its example videos in FOOTAGE_DIR."""
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise FootageUnavailable("apt-get/dpkg not found: set WATCHER_TEST_FOOTAGE to a folder with vtest.avi")
    FOOTAGE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="footage-") as tmp:
        r = subprocess.run(["apt-get", "download", "opencv-doc"], cwd=tmp, capture_output=True, text=True, timeout=600)
        debs = list(Path(tmp).glob("opencv-doc_*.deb"))
        if r.returncode != 0 or not debs:
            raise FootageUnavailable(
                "apt-get download opencv-doc failed (run 'apt-get update' first?): "
                + (r.stderr or r.stdout).strip()[-500:]
            )
        out = Path(tmp) / "x"
        subprocess.run(["dpkg", "-x", str(debs[0]), str(out)], check=True, timeout=600)
        for f in (out / _MEMBER).glob("*.avi"):
            shutil.copy2(f, FOOTAGE_DIR / f.name)


if __name__ == "__main__":
    print(footage_path())
