"""The local library's layout, and durable placement of verified clips.

    <library>/catalog.sqlite3
    <library>/incoming/<watcher>/<id>.mp4.part        downloads in progress (resumed by offset)
    <library>/quarantine/<watcher>/<id>.mp4 (+ .json, .reason.txt)
    <library>/clips/<watcher>/<camera>/<YYYY-MM-DD>/<id>.mp4 + <id>.json

Clips are kept apart per watcher: two Pis that share a camera name (or both left at a default)
never share a folder. Every path is built from a configured watcher name and a clip id that
parsed with the shared naming functions, so nothing can be written outside the library.
"""

from __future__ import annotations

import os
from pathlib import Path

from shared.atomic import atomic_write_bytes, fsync_dir, fsync_file
from shared.naming import check_camera_name, parse_clip_id



class Library:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.catalog_path = root / "catalog.sqlite3"
        self.clips_root = root / "clips"

    def create(self) -> None:
        for d in (self.root, self.root / "incoming", self.root / "quarantine", self.clips_root):
            d.mkdir(parents=True, exist_ok=True)

    def part(self, watcher: str, clip_id: str) -> Path:
        _check_watcher(watcher)
        parse_clip_id(clip_id)
        d = self.root / "incoming" / watcher
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{clip_id}.mp4.part"

    def final_dir(self, watcher: str, clip_id: str) -> Path:
        _check_watcher(watcher)
        cid = parse_clip_id(clip_id)
        return self.clips_root / watcher / cid.camera / cid.started.strftime("%Y-%m-%d")

    def final(self, watcher: str, clip_id: str) -> Path:
        return self.final_dir(watcher, clip_id) / f"{clip_id}.mp4"

    def store(self, watcher: str, part: Path, clip_id: str, manifest_raw: bytes) -> Path:
        """Durably move a verified download into place, then write its manifest beside it."""
        target = self.final(watcher, clip_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        fsync_file(part)
        os.replace(part, target)
        fsync_dir(target.parent)
        atomic_write_bytes(target.with_suffix(".json"), manifest_raw)
        return target

    def ensure_manifest(self, clip: Path, manifest_raw: bytes) -> None:
        if not clip.with_suffix(".json").exists():
            atomic_write_bytes(clip.with_suffix(".json"), manifest_raw)

    def quarantine(self, watcher: str, clip_id: str, part: Path | None, manifest_raw: bytes, reason: str) -> Path:
        _check_watcher(watcher)
        parse_clip_id(clip_id)
        d = self.root / "quarantine" / watcher
        d.mkdir(parents=True, exist_ok=True)
        if part is not None and part.exists():
            os.replace(part, d / f"{clip_id}.mp4")
        atomic_write_bytes(d / f"{clip_id}.json", manifest_raw)
        atomic_write_bytes(d / f"{clip_id}.reason.txt", (reason + "\n").encode())
        return d / f"{clip_id}.mp4"


def _check_watcher(watcher: str) -> None:
    """Watcher names are configured and checked at load; checked again here because they become paths."""
    problem = check_camera_name(watcher)
    if problem:
        raise ValueError(f"watcher name {watcher!r} {problem}")
