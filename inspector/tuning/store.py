"""Keeping tune's last result per camera in the library, for the report's tune page.

    <library>/tune/<camera>.json            every watcher's clips of the camera
    <library>/tune/<camera>@<watcher>.json  with --watcher
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.atomic import atomic_write_bytes
from shared.naming import check_camera_name

TUNE_DIR = "tune"


def result_path(library: Path, watcher: str | None, camera: str) -> Path | None:
    """Where the result goes; None for names that cannot be a file name (a camera list, say)."""
    if check_camera_name(camera) or (watcher is not None and check_camera_name(watcher)):
        return None
    return library / TUNE_DIR / (f"{camera}@{watcher}.json" if watcher else f"{camera}.json")


def save_result(library: Path, watcher: str | None, camera: str, doc: dict[str, Any]) -> None:
    path = result_path(library, watcher, camera)
    if path is None:
        return
    path.parent.mkdir(exist_ok=True)
    atomic_write_bytes(path, (json.dumps(doc, indent=1) + "\n").encode())
