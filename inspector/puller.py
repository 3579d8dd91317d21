"""Pull every finished clip from one watcher: verified, resumable, exactly once.

For each ``<id>.json`` in the watcher's recorded_clips/ whose id parses: read the manifest
(size-capped, schema-checked), check the ``.mp4`` is a regular file of the manifest's size,
download it to ``incoming/<watcher>/<id>.mp4.part`` (resuming by offset), check it did not
change meanwhile, verify size and sha256, fsync, move it into the library with its manifest,
mark it ``stored`` in the catalog, and only then archive or delete it on the watcher
(the clip first, then the manifest; see :meth:`Puller._ack`).
Anything off is skipped with one log line and counted; a sha256 mismatch is retried once,
then quarantined and the remote left alone.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from inspector.catalog import DONE_STATES, Catalog
from inspector.config import WatcherEntry
from inspector.library import Library
from inspector.remote import ClipAbandoned, RemoteError, RemoteStore
from shared.manifest import MAX_MANIFEST_BYTES, InvalidManifest, Manifest, parse_manifest, sha256_file
from shared.naming import InvalidClipId, parse_clip_id

logger = logging.getLogger(__name__)

WINDOW = 4 * 1024 * 1024
MAX_SHA_ATTEMPTS = 2


class LocalStorageError(OSError):
    """The library cannot take the clip (disk full, permissions): nothing is removed remotely."""


@dataclass
class PullStats:
    watcher: str
    stored: list[str] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # name -> reason
    bytes_transferred: int = 0
    error: str | None = None


Progress = Callable[[str, str, int, int], None]  # (watcher, clip id, bytes done, total)


class Puller:
    def __init__(self, entry: WatcherEntry, library: Library, catalog: Catalog, store: RemoteStore, *,
                 window: int = WINDOW, progress: Progress | None = None,
                 stop: threading.Event | None = None) -> None:
        self.entry = entry
        self.name = entry.name
        self.library = library
        self.catalog = catalog
        self.store = store
        self.window = window
        self.progress = progress
        self.stop = stop or threading.Event()
        self._reported: set[tuple[str, str]] = set()

    def _skip(self, stats: PullStats, name: str, reason: str) -> None:
        stats.skipped[name] = reason
        if (name, reason) not in self._reported:  # one line per problem, not one per poll
            self._reported.add((name, reason))
            logger.warning("[%s] skipping %r: %s", self.name, name, reason)

    def pull_once(self) -> PullStats:
        """One pass over the watcher's directory. RemoteError and LocalStorageError propagate."""
        stats = PullStats(self.name)
        entries = {e.name: e for e in self.store.list()}
        clip_ids = []
        for name, e in sorted(entries.items()):
            stem, dot, ext = name.rpartition(".")
            if ext not in ("json", "mp4") or not dot:
                self._skip(stats, name, "not a clip or manifest name")
                continue
            try:
                parse_clip_id(stem)
            except InvalidClipId:
                self._skip(stats, name, "name does not parse as a clip id")
                continue
            if ext == "json":
                clip_ids.append(stem)
            # an .mp4 without its manifest is not finished (or is being salvaged): not ours to judge
        for clip_id in clip_ids:
            if self.stop.is_set():
                break
            self._pull_one(clip_id, entries, stats)
        self.catalog.add_skipped(self.name, len(stats.skipped))
        return stats

    def _pull_one(self, clip_id: str, entries: dict, stats: PullStats) -> None:
        mp4_name, json_name = f"{clip_id}.mp4", f"{clip_id}.json"
        row = self.catalog.get(self.name, clip_id)
        if row is not None and row.state in DONE_STATES:
            self._ack(clip_id)
            stats.acked.append(clip_id)
            return
        if row is not None and row.state == "quarantined":
            return
        me = entries[json_name]
        if me.kind != "file":
            return self._skip(stats, json_name, f"manifest is a {me.kind}, not a regular file")
        if me.size > MAX_MANIFEST_BYTES:
            return self._skip(stats, json_name, f"manifest is {me.size} bytes (cap {MAX_MANIFEST_BYTES})")
        try:
            raw = self._read_manifest(json_name)
            manifest = parse_manifest(raw, expected_id=clip_id)
        except (InvalidManifest, _Refused) as e:
            return self._skip(stats, json_name, f"bad manifest: {e}")
        ce = entries.get(mp4_name)
        if ce is None:
            return self._skip(stats, json_name, "manifest without its clip")
        if ce.kind != "file":
            return self._skip(stats, mp4_name, f"clip is a {ce.kind}, not a regular file")
        if ce.size != manifest.size:
            return self._skip(stats, mp4_name, f"size {ce.size} differs from the manifest's {manifest.size}")
        self.catalog.begin_download(self.name, clip_id, manifest.camera, manifest.size, manifest.sha256,
                                    manifest.started_at, manifest.ended_at)
        try:
            self.library.final_dir(self.name, clip_id)
        except ValueError as e:
            return self._skip(stats, mp4_name, str(e))
        final = self.library.final(self.name, clip_id)
        if final.exists() and _file_sha(final) == (manifest.size, manifest.sha256):
            # stored before a crash that came before the catalog update
            self.library.ensure_manifest(final, raw)
            self.catalog.mark_stored(self.name, clip_id, str(final))
        else:
            while True:
                try:
                    done = self._download(clip_id, manifest, stats)
                except ClipAbandoned as e:  # too slow: the .part stays for resuming, the next clip goes on
                    return self._skip(stats, mp4_name, f"abandoned, will resume: {e}")
                if done is None:
                    return self._skip(stats, mp4_name, "changed during transfer; will retry next time")
                part, got = done
                if got == (manifest.size, manifest.sha256):
                    break
                reason = f"sha256 mismatch: manifest {manifest.sha256}, got {got[1]} ({got[0]} bytes)"
                attempts = self.catalog.count_attempt(self.name, clip_id, reason)
                if attempts >= MAX_SHA_ATTEMPTS:
                    where = self.library.quarantine(self.name, clip_id, part, raw, reason)
                    self.catalog.mark_quarantined(self.name, clip_id, reason, str(where))
                    logger.error("[%s] quarantined %s: %s", self.name, clip_id, reason)
                    stats.quarantined.append(clip_id)
                    return
                logger.warning("[%s] %s: %s; downloading it again", self.name, clip_id, reason)
                part.unlink()
            try:
                final = self.library.store(self.name, part, clip_id, raw)
            except OSError as e:
                raise _local_error(e, clip_id) from e
            self.catalog.mark_stored(self.name, clip_id, str(final))
        stats.stored.append(clip_id)
        logger.info("[%s] stored %s (%d bytes)", self.name, clip_id, manifest.size)
        self._ack(clip_id)
        stats.acked.append(clip_id)

    def _read_manifest(self, name: str) -> bytes:
        r = self.store.open(name)
        try:
            size, _, kind = r.fstat()
            if kind != "file" or size > MAX_MANIFEST_BYTES:
                raise _Refused(f"{kind} of {size} bytes")
            return b"".join(r.read_windows(0, size, MAX_MANIFEST_BYTES))
        finally:
            r.close()

    def _download(self, clip_id: str, m: Manifest, stats: PullStats) -> tuple[Path, tuple[int, str]] | None:
        """Download (or resume) into the .part file, hashing as it goes (a resumed file's existing
        bytes are hashed first). Returns (part, (size, sha256)), or None if the remote changed meanwhile."""
        part = self.library.part(self.name, clip_id)
        offset = part.stat().st_size if part.exists() else 0
        if offset > m.size:
            offset = 0
        r = self.store.open(f"{clip_id}.mp4")
        try:
            size0, mtime0, kind = r.fstat()
            if kind != "file" or size0 != m.size:
                part.unlink(missing_ok=True)
                return None
            if offset:
                logger.info("[%s] resuming %s at %d of %d bytes", self.name, clip_id, offset, m.size)
            try:
                digest = hashlib.sha256()
                with open(part, "r+b" if offset else "w+b") as f:
                    try:  # held while downloading: cleanup never removes a live download
                        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        raise RemoteError(f"{part.name} is being downloaded by another inspector process") from None
                    f.truncate(offset)
                    while len(block := f.read(min(1 << 20, offset - f.tell()))):
                        digest.update(block)
                    f.seek(offset)
                    done = offset
                    for data in r.read_windows(offset, m.size - offset, self.window):
                        f.write(data)
                        digest.update(data)
                        done += len(data)
                        stats.bytes_transferred += len(data)
                        logger.debug("[%s] %s: %d/%d bytes", self.name, clip_id, done, m.size)
                        if self.progress:
                            self.progress(self.name, clip_id, done, m.size)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                if isinstance(e, RemoteError):
                    raise
                raise _local_error(e, clip_id) from e
            size1, mtime1, _ = r.fstat()
            if (size1, mtime1) != (size0, mtime0):
                part.unlink(missing_ok=True)
                return None
        finally:
            r.close()
        return part, (done, digest.hexdigest())

    def _ack(self, clip_id: str) -> None:
        """Archive or delete the clip on the watcher: the clip first, then its manifest, so the
        watcher never sees a clip without its manifest (which it would take for a crashed publish
        and give a new manifest). A manifest left alone by an interrupted pass is finished next time."""
        for name in (f"{clip_id}.mp4", f"{clip_id}.json"):
            if self.entry.after_transfer == "delete":
                self.store.delete(name)
            else:
                self.store.archive(name)
        self.catalog.mark_acked(self.name, clip_id)


class _Refused(Exception):
    pass


def _local_error(e: OSError, clip_id: str) -> LocalStorageError:
    what = "local disk full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else "cannot write to the library"
    return LocalStorageError(e.errno or 0, f"{what} while storing {clip_id}: {e.strerror or e}")


_file_sha = sha256_file
