"""The labelled clips ``tune`` replays: from the library (its catalog), or from an exported folder.

An exported folder (``python -m inspector export-labelled DIR``) travels between machines, so it is read
as untrusted: ``labels.json`` is parsed totally (bounded JSON, a pydantic model; a bad document is a
:class:`BadLabelledSet` with the reason), every path is built from a checked watcher name and clip id (a
document cannot name a file outside the folder), and each clip is checked against its manifest (a regular
file, not a link; its size, then its sha256) before it is replayed, and decoded at most at the manifest's
frame size::

    DIR/labels.json                      {"schema": 1, "clips": [{"watcher", "clip_id", "label", "note"}]}
    DIR/<watcher>/<clip_id>.mp4          the clip
    DIR/<watcher>/<clip_id>.json         its manifest
    DIR/<watcher>/<clip_id>.thumb.jpg    its thumbnail, when the library had one
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from inspector.analysis.result import BadAnalysis, read_analysis
from inspector.catalog import Catalog
from inspector.labels import LabelWord, Note
from inspector.library import Library
from shared.atomic import atomic_write_bytes, fsync_dir, fsync_file
from shared.bounded_json import RejectedJSON, load_json
from shared.manifest import ClipIdText, InvalidManifest, Manifest, read_manifest, sha256_file
from shared.naming import check_camera_name, parse_clip_id
from shared.validation import CameraName, Items, Problem, Strict, validate

logger = logging.getLogger(__name__)

LABELS_FILE = "labels.json"
SCHEMA = 1
MAX_LABELS_BYTES = 4 * 1024 * 1024
MAX_CLIPS = 10_000


class BadLabelledSet(Exception):
    """A labelled folder that cannot be used; the message says why."""


@dataclass(frozen=True)
class TuneClip:
    watcher: str
    clip_id: str
    camera: str
    label: str  # "real" or "false-alarm"
    note: str
    video: Path
    manifest: Manifest | None  # None: unreadable (then the clip is not replayed)
    thumb: Path | None
    problem: str | None = None  # why the clip cannot be replayed

    @property
    def key(self) -> str:
        return f"{self.watcher}/{self.clip_id}"


class _Entry(Strict):
    watcher: CameraName
    clip_id: ClipIdText
    label: LabelWord
    note: Note = ""


class _LabelsDoc(Strict):
    schema_version: Literal[1] = Field(alias="schema")
    clips: Items[_Entry] = Field(max_length=MAX_CLIPS)


def _manifest(path: Path, clip_id: str) -> tuple[Manifest | None, str | None]:
    try:
        return read_manifest(path, expected_id=clip_id), None
    except OSError as e:
        return None, f"its manifest cannot be read: {e.strerror or e}"
    except (InvalidManifest, ValueError) as e:
        return None, f"its manifest is invalid: {e}"


def _thumb(clip: Path) -> Path | None:
    try:
        name = read_analysis(Path(f"{clip.with_suffix('')}.analysis.json")).stills.thumb
    except BadAnalysis:
        return None
    path = clip.parent / name if name else None
    return path if path is not None and path.is_file() else None


def from_library(root: Path, camera: str | None, watcher: str | None) -> list[TuneClip]:
    """The library's labelled clips of ``camera`` (and ``watcher``), oldest first, where the library's layout
    puts them (so a library moved elsewhere still works)."""
    lib = Library(root)
    cat = Catalog(lib.catalog_path)
    try:
        rows = cat.labelled(camera=camera, watcher=watcher)
    finally:
        cat.close()
    out = []
    for r in rows:
        watcher_name, clip_id, camera_name, label, note = r.watcher, r.clip_id, r.camera, r.label, r.note
        video = lib.final(watcher_name, clip_id)
        manifest, problem = _manifest(video.with_suffix(".json"), clip_id)
        if problem is None and not video.is_file():
            problem = "the clip file is missing"
        out.append(TuneClip(watcher_name, clip_id, camera_name, label, note, video, manifest, _thumb(video), problem))
    return out


def from_folder(folder: Path) -> list[TuneClip]:
    """An exported folder's clips; BadLabelledSet if its labels.json is unusable. A clip whose file or
    manifest is missing, invalid or does not match is kept with its ``problem`` (said, not replayed)."""
    try:
        with open(folder / LABELS_FILE, "rb") as f:
            raw = f.read(MAX_LABELS_BYTES + 1)
    except OSError as e:
        raise BadLabelledSet(f"{folder / LABELS_FILE}: {e.strerror or e}") from None
    try:
        doc = validate(_LabelsDoc, load_json(raw, max_bytes=MAX_LABELS_BYTES))
    except (RejectedJSON, Problem) as err:
        raise BadLabelledSet(f"{folder / LABELS_FILE}: {err}") from None
    seen = set()
    for i, entry in enumerate(doc.clips):
        if (entry.watcher, entry.clip_id) in seen:
            raise BadLabelledSet(f"{folder / LABELS_FILE}: clips[{i}]: {entry.watcher}/{entry.clip_id} is listed twice")
        seen.add((entry.watcher, entry.clip_id))
    out = []
    for entry in doc.clips:
        video = folder / entry.watcher / f"{entry.clip_id}.mp4"
        manifest, problem = _manifest(video.with_suffix(".json"), entry.clip_id)
        if manifest is not None:
            problem = _check_clip(video, manifest)
        thumb = video.with_name(f"{entry.clip_id}.thumb.jpg")
        camera = manifest.camera if manifest else parse_clip_id(entry.clip_id).camera
        out.append(TuneClip(entry.watcher, entry.clip_id, camera, entry.label, entry.note, video, manifest,
                            thumb if thumb.is_file() else None, problem))
    return out


def _check_clip(video: Path, manifest: Manifest) -> str | None:
    """Why an exported clip cannot be replayed (not a regular file, not its manifest's bytes), or None."""
    try:
        st = video.lstat()
        if not stat.S_ISREG(st.st_mode):
            return "the clip is not a regular file"
        if st.st_size != manifest.size or sha256_file(video) != (manifest.size, manifest.sha256):
            return "the clip does not match its manifest (size or sha256)"
    except OSError as err:
        return f"the clip cannot be read: {err.strerror or err}"
    return None


def _place(src: Path, dst: Path) -> None:
    """``dst`` holds a copy of ``src``'s bytes, durably (a copy, not a link: editing an exported file must
    never change the library's)."""
    if dst.exists():
        return
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.unlink(missing_ok=True)
    shutil.copyfile(src, tmp)
    fsync_file(tmp)
    os.replace(tmp, dst)


def export(clips: list[TuneClip], folder: Path) -> int:
    """Write ``clips`` (each with its manifest and thumbnail) and ``labels.json`` into ``folder``; labels.json
    last, so a folder is complete when it has one. An earlier export there is updated. How many clips."""
    if folder.exists() and not folder.is_dir():
        raise BadLabelledSet(f"{folder} is not a folder")
    if folder.exists() and any(folder.iterdir()) and not (folder / LABELS_FILE).is_file():
        raise BadLabelledSet(f"{folder} is not empty and holds no {LABELS_FILE}: not an earlier export")
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for c in clips:
        problem = c.problem or check_camera_name(c.watcher)
        if problem:
            logger.warning("%s: not exported: %s", c.key, problem)
            continue
        d = folder / c.watcher
        d.mkdir(exist_ok=True)
        _place(c.video, d / f"{c.clip_id}.mp4")
        _place(c.video.with_suffix(".json"), d / f"{c.clip_id}.json")
        if c.thumb is not None:
            _place(c.thumb, d / f"{c.clip_id}.thumb.jpg")
        fsync_dir(d)
        entries.append({"watcher": c.watcher, "clip_id": c.clip_id, "label": c.label, "note": c.note})
    atomic_write_bytes(folder / LABELS_FILE, (json.dumps({"schema": SCHEMA, "clips": entries}, indent=1)
                                             + "\n").encode())
    return len(entries)
