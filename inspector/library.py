"""The local library's layout, and durable placement of verified clips.

    <library>/catalog.sqlite3
    <library>/incoming/<watcher>/<id>.mp4.part        downloads in progress (resumed by offset)
    <library>/quarantine/<watcher>/<id>.mp4 (+ .json, .reason.txt)
    <library>/quarantine/<watcher>/<id>.conflict-<sha256[:16]>.mp4 (+ .json, .reason.txt)
    <library>/clips/<watcher>/<camera>/<YYYY-MM-DD>/<id>.mp4 + <id>.json

Clips are kept apart per watcher: two Pis that share a camera name (or both left at a default)
never share a folder. Every path is built from a configured watcher name and a clip id that
parsed with the shared naming functions, so nothing can be written outside the library.

A stored clip is never replaced: :meth:`Library.store` places a download with a link (or a
no-replace rename), never ``os.replace``. The same bytes again are a no-op; different bytes
under a stored clip's name raise :class:`ClipConflict`, and the caller keeps them in quarantine
under a name of their own (``conflict-<sha>``), so one watcher re-sending an id it already
delivered can neither overwrite the clip nor lose the new bytes.
"""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

from inspector.config import InspectorConfig, InspectorSettings
from inspector.space import MIB, SpaceGuard
from shared.atomic import atomic_write_bytes, fsync_dir, fsync_file, link_durably
from shared.manifest import sha256_file
from shared.naming import check_camera_name, parse_clip_id


class ClipConflict(Exception):
    """A different clip is already stored under this watcher and id."""

    def __init__(self, stored: Path, stored_size: int, stored_sha256: str) -> None:
        super().__init__(f"{stored} is already stored ({stored_size} bytes, sha256 {stored_sha256})")
        self.stored = stored
        self.stored_size = stored_size
        self.stored_sha256 = stored_sha256



class Library:
    def __init__(self, root: Path, *, space: SpaceGuard | None = None) -> None:
        self.root = root
        self.catalog_path = root / "catalog.sqlite3"
        self.clips_root = root / "clips"
        # one guard per Library object: every watcher thread given this object shares its reservations
        self.space = space or _space_guard(root, InspectorSettings())

    @classmethod
    def for_config(cls, cfg: InspectorConfig) -> Library:
        """The library with the configured disk limits (max_clip_mb, reserve_free_mb). Make one per
        process and give it to every watcher thread: they then share one space reservation."""
        return cls(cfg.library, space=_space_guard(cfg.library, cfg.settings))

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

    def store(self, watcher: str, part: Path, clip_id: str, manifest_raw: bytes, got: tuple[int, str]) -> Path:
        """Durably give a verified download (``got`` = its size and sha256) its place, never over
        another file, and write its manifest beside it. If the place is taken by the same bytes,
        the stored clip is kept (a no-op); by different bytes, :class:`ClipConflict` is raised.

        ``part`` keeps its name (a second link to the clip) until the caller, who holds its lock,
        has updated the catalog and acknowledged the clip and then removes it: a second inspector
        that opens the ``.part`` meanwhile finds it locked, not a fresh file it could lock."""
        target = self.final(watcher, clip_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        fsync_file(part)
        try:
            _place_noreplace(part, target)
        except FileExistsError:
            stored = sha256_file(target)
            if stored != got:
                raise ClipConflict(target, *stored) from None
            self.ensure_manifest(target, manifest_raw)
            return target
        fsync_dir(target.parent)
        atomic_write_bytes(target.with_suffix(".json"), manifest_raw)
        return target

    def ensure_manifest(self, clip: Path, manifest_raw: bytes) -> None:
        if not clip.with_suffix(".json").exists():
            atomic_write_bytes(clip.with_suffix(".json"), manifest_raw)

    def quarantine(self, watcher: str, clip_id: str, part: Path | None, manifest_raw: bytes, reason: str,
                   *, conflict_sha256: str | None = None) -> Path:
        """Keep a refused download with its manifest and reason. A conflict (different bytes under
        a stored clip's id) gets a name of its own, so it never takes the place of another."""
        stem = self._quarantine_stem(watcher, clip_id, conflict_sha256)
        stem.parent.mkdir(parents=True, exist_ok=True)
        clip = stem.with_name(stem.name + ".mp4")
        if part is not None and part.exists():
            link_durably(part, clip)  # part keeps its name until its lock holder is done (see store)
        atomic_write_bytes(stem.with_name(stem.name + ".json"), manifest_raw)
        atomic_write_bytes(stem.with_name(stem.name + ".reason.txt"), (reason + "\n").encode())
        return clip

    def conflict_reason(self, watcher: str, clip_id: str, sha256: str) -> str | None:
        """The recorded reason if this watcher's clip with this sha256 was already kept as a conflict."""
        stem = self._quarantine_stem(watcher, clip_id, sha256)
        try:
            return stem.with_name(stem.name + ".reason.txt").read_text().strip()
        except FileNotFoundError:
            return None

    def _quarantine_stem(self, watcher: str, clip_id: str, conflict_sha256: str | None) -> Path:
        _check_watcher(watcher)
        parse_clip_id(clip_id)
        name = clip_id if conflict_sha256 is None else f"{clip_id}.conflict-{conflict_sha256[:16]}"
        return self.root / "quarantine" / watcher / name


def _space_guard(root: Path, s: InspectorSettings) -> SpaceGuard:
    return SpaceGuard(root, max_clip_bytes=int(s.max_clip_mb * MIB), reserve_bytes=int(s.reserve_free_mb * MIB))


_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def _place_noreplace(src: Path, dst: Path) -> None:
    """Give ``src`` the name ``dst`` unless ``dst`` exists (FileExistsError). A hard link where the
    filesystem has them (``src`` keeps its name until the caller unlinks it), else Linux's
    renameat2(RENAME_NOREPLACE) (``src``'s name is then gone at once, and a second inspector may
    catalog the clip too: still stored once). Never ``os.replace``: it would replace a stored clip."""
    try:
        os.link(src, dst)
        return
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOTSUP, f"cannot place {dst.name} without replacing: no hard links, no renameat2")
    if renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(dst))


def _check_watcher(watcher: str) -> None:
    """Watcher names are configured and checked at load; checked again here because they become paths."""
    problem = check_camera_name(watcher)
    if problem:
        raise ValueError(f"watcher name {watcher!r} {problem}")
