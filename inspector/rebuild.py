"""Restoring the catalog from the library's files (``catalog rebuild``) and comparing the two
(``catalog check``).

The library's files are the truth the catalog summarizes: every stored clip is
``clips/<watcher>/<camera>/<day>/<id>.mp4`` with its manifest ``<id>.json`` beside it (and
``<id>.analysis.json`` once analyzed, ``<id>.label.json`` once a user labelled it, ``<id>.explain.mp4``
once the watcher's replay explained it); every quarantined one is ``quarantine/<watcher>/<id>.*``
with its ``<id>.reason.txt``. A rebuild walks them (symlinks never followed), trusts a clip only
if its manifest parses and its size and sha256 match it, and writes:

- ``analyzed`` when a valid analysis of this very clip (same id and sha256) by the current
  analyzer version is beside it, with the summary columns from it;
- ``stored`` otherwise (the next pull acknowledges it again on the Pi if it is still there, which is
  idempotent; the next analysis pass analyzes it);
- ``quarantined`` with the reason for what is in quarantine/, and for a clip that does not verify:
  its files are moved to ``quarantine/<watcher>/`` with a ``.reason.txt`` (never deleted, never
  trusted). A file whose name or folder is not ours is reported and left alone.

A verified clip's label is restored from its label file (:mod:`inspector.labels`); a label file that
does not parse is reported (``bad_labels``) and left alone, and its clip is restored without a label.

The rebuild holds the library exclusively (:func:`~inspector.catalog_guard.hold_exclusive`: no
other inspector process has the catalog open, none opens it meanwhile), builds the new catalog in a
temp file beside the old one, checks it, moves the old one (with its ``-wal``/``-shm``) aside as
``catalog.sqlite3.aside-<time>`` (kept, not deleted) and renames the new one into place. A crash
at any point leaves either the old catalog or none (an error pointing here) and the next rebuild
removes the temp file; it never leaves a half-built catalog under the real name.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from inspector.analysis.analyzer import ANALYZER_VERSION
from inspector.analysis.result import BadAnalysis, read_analysis
from inspector.catalog import DONE_STATES, Catalog, RestoredRow
from inspector.catalog_guard import CatalogError, catalog_problem, hold_exclusive, library_lease, verify_catalog
from inspector.labels import InvalidLabel, Label, label_path, read_label
from inspector.library import Library
from shared.atomic import atomic_write_bytes, move_durably, replace_durably
from shared.manifest import MAX_MANIFEST_BYTES, InvalidManifest, Manifest, parse_manifest, sha256_file
from shared.naming import InvalidClipId, check_camera_name, parse_clip_id

logger = logging.getLogger(__name__)

MAX_REASON_BYTES = 4096
TEMP_PREFIX = ".catalog.rebuild-"


@dataclass(frozen=True)
class BadClip:
    """A clip file in clips/ that cannot be trusted, and why."""
    watcher: str
    clip_id: str
    path: Path
    reason: str


@dataclass
class LibraryScan:
    rows: list[RestoredRow] = field(default_factory=list)  # verified clips, then quarantined ones
    bad: list[BadClip] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)  # files and folders that are not ours: left alone
    # (watcher, clip id) -> what is wrong with its label file (which is left alone, not restored)
    bad_labels: dict[tuple[str, str], str] = field(default_factory=dict)
    bytes_hashed: int = 0


@dataclass
class RebuildReport:
    states: dict[str, int]
    quarantined_now: list[BadClip]
    left_untrusted: list[BadClip]  # did not verify, but quarantine already holds that id: left in place, no row
    strays: list[str]
    aside: Path | None  # where the replaced catalog went
    bytes_hashed: int
    seconds: float
    labels: int = 0  # labels restored from their files
    bad_labels: list[str] = field(default_factory=list)  # label files that do not parse: reported, left alone


def _dirs(d: Path) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(d) as it:
            entries = sorted(it, key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    yield from entries


def _subdirs(d: Path, rel: str, scan: LibraryScan) -> Iterator[os.DirEntry[str]]:
    for e in _dirs(d):
        if e.is_dir(follow_symlinks=False):
            yield e
        else:
            scan.strays.append(f"{rel}/{e.name}: not a folder of the library's layout")


def _read_capped(path: Path, cap: int) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(cap + 1)
    except OSError:
        return None


def scan_library(lib: Library, *, verify: bool = True) -> LibraryScan:
    """What the library's files say, clip by clip. ``verify=False`` compares sizes only (no sha256)."""
    scan = LibraryScan()
    seen: set[tuple[str, str]] = set()
    for w in _dirs(lib.clips_root):
        if not w.is_dir(follow_symlinks=False) or check_camera_name(w.name):
            scan.strays.append(f"clips/{w.name}: not a watcher's folder")
            continue
        for cam in _subdirs(Path(w.path), f"clips/{w.name}", scan):
            for day in _subdirs(Path(cam.path), f"clips/{w.name}/{cam.name}", scan):
                for f in _dirs(Path(day.path)):
                    rel = f"clips/{w.name}/{cam.name}/{day.name}/{f.name}"
                    if not f.name.endswith(".mp4") or _is_sidecar_video(f.name):
                        continue  # manifests, analyses, stills, labels and explain replays are read with their clip
                    if not f.is_file(follow_symlinks=False):
                        scan.strays.append(f"{rel}: not a regular file")
                        continue
                    row = _stored_clip(lib, w.name, Path(f.path), rel, scan, verify)
                    if row is not None:
                        scan.rows.append(row)
                        seen.add((row.watcher, row.clip_id))
    for row in _quarantined(lib, scan):
        if (row.watcher, row.clip_id) not in seen:  # a verified stored copy wins
            scan.rows.append(row)
    return scan


def _is_sidecar_video(name: str) -> bool:
    """``<id>.explain.mp4`` and the like: a video made from a clip, kept beside it; not a clip itself."""
    stem, _, rest = name.partition(".")
    if rest == "mp4":
        return False
    try:
        parse_clip_id(stem)
    except InvalidClipId:
        return False
    return True


def _stored_clip(lib: Library, watcher: str, path: Path, rel: str, scan: LibraryScan,
                 verify: bool) -> RestoredRow | None:
    clip_id = path.name[:-len(".mp4")]
    try:
        parse_clip_id(clip_id)
    except InvalidClipId as e:
        scan.strays.append(f"{rel}: {e}")
        return None

    def bad(reason: str) -> None:
        scan.bad.append(BadClip(watcher, clip_id, path, reason))

    if lib.final(watcher, clip_id) != path:
        bad(f"in the wrong folder for its id (belongs in {lib.final(watcher, clip_id).parent})")
        return None
    raw = _read_capped(path.with_suffix(".json"), MAX_MANIFEST_BYTES)
    if raw is None:
        bad("its manifest is missing or unreadable")
        return None
    try:
        m = parse_manifest(raw, expected_id=clip_id)
    except RecursionError:
        bad("its manifest does not parse: nested too deeply")
        return None
    except (InvalidManifest, ValueError) as e:
        bad(f"its manifest does not parse: {e}")
        return None
    st = path.stat()
    if st.st_size != m.size:
        bad(f"size {st.st_size} differs from the manifest's {m.size}")
        return None
    if verify:
        size, sha = sha256_file(path)
        scan.bytes_hashed += size
        if (size, sha) != (m.size, m.sha256):
            bad(f"sha256 {sha} differs from the manifest's {m.sha256}")
            return None
    row = RestoredRow(watcher=watcher, clip_id=clip_id, camera=m.camera, state="stored", size=m.size,
                      sha256=m.sha256, started_at=m.started_at, ended_at=m.ended_at, local_path=str(path),
                      stored_at=st.st_mtime, label=_label(watcher, clip_id, path, rel, scan))
    return _with_analysis(row, path, m)


def _label(watcher: str, clip_id: str, clip: Path, rel: str, scan: LibraryScan) -> Label | None:
    """The clip's label from its file, or None; a label file that does not parse is reported, never fatal."""
    try:
        return read_label(clip)
    except InvalidLabel as e:
        where = f"{rel[:-len(clip.name)]}{label_path(clip).name}"
        scan.bad_labels[(watcher, clip_id)] = f"{where}: not restored: {e}"
        logger.warning("rebuild: %s: not a label, left alone (the clip is restored without one): %s", where, e)
        return None


def _with_analysis(row: RestoredRow, clip: Path, m: Manifest) -> RestoredRow:
    apath = Path(f"{clip.with_suffix('')}.analysis.json")
    try:
        a = read_analysis(apath)
    except BadAnalysis as e:
        if apath.exists():
            logger.info("rebuild: %s/%s: analysis not used (%s): it will be analyzed again",
                        row.watcher, row.clip_id, e)
        return row
    if a.analyzer_version != ANALYZER_VERSION or a.sha256 != m.sha256 or a.clip_id not in (None, m.id):
        return row
    return replace(row, state="analyzed", analyzer_version=a.analyzer_version, analyzed_at=apath.stat().st_mtime,
                   duration_s=a.video.duration_s, people_peak=a.people.peak, motion_peak=a.motion.peak,
                   motion_s=a.motion.active_s, analysis_path=str(apath))


def _quarantined(lib: Library, scan: LibraryScan) -> Iterator[RestoredRow]:
    for w in _dirs(lib.root / "quarantine"):
        if not w.is_dir(follow_symlinks=False) or check_camera_name(w.name):
            scan.strays.append(f"quarantine/{w.name}: not a watcher's folder")
            continue
        ids = set()
        for f in _dirs(Path(w.path)):
            stem = f.name.split(".", 1)[0]
            try:
                parse_clip_id(stem)
            except InvalidClipId:
                scan.strays.append(f"quarantine/{w.name}/{f.name}: not named after a clip")
                continue
            ids.add(stem)
        qdir = Path(w.path)
        for clip_id in sorted(ids):
            yield _quarantined_row(qdir, w.name, clip_id)


def _quarantined_row(qdir: Path, watcher: str, clip_id: str) -> RestoredRow:
    raw_reason = _read_capped(qdir / f"{clip_id}.reason.txt", MAX_REASON_BYTES)
    reason = (raw_reason[:MAX_REASON_BYTES].decode("utf-8", "replace").strip() if raw_reason is not None
              else "") or "quarantined (no reason recorded)"
    m = None
    raw = _read_capped(qdir / f"{clip_id}.json", MAX_MANIFEST_BYTES)
    if raw:
        try:
            m = parse_manifest(raw, expected_id=clip_id)
        except (InvalidManifest, ValueError, RecursionError):
            m = None
    return RestoredRow(watcher=watcher, clip_id=clip_id, camera=parse_clip_id(clip_id).camera, state="quarantined",
                       size=m.size if m else None, sha256=m.sha256 if m else None,
                       started_at=m.started_at if m else None, ended_at=m.ended_at if m else None,
                       local_path=str(qdir / f"{clip_id}.mp4"), reason=reason)


def _quarantine(lib: Library, b: BadClip) -> RestoredRow | None:
    """Move a clip that does not verify (and its files: manifest, analysis, stills) to
    quarantine/<watcher>/ with the reason; None if quarantine already holds one of that id."""
    qdir = lib.root / "quarantine" / b.watcher
    qdir.mkdir(parents=True, exist_ok=True)
    if (qdir / f"{b.clip_id}.mp4").exists() or (qdir / f"{b.clip_id}.reason.txt").exists():
        logger.error("rebuild: %s is not trusted (%s) and left where it is: quarantine already holds %s",
                     b.path, b.reason, b.clip_id)
        return None
    move_durably(b.path, qdir / b.path.name)  # the clip first: it is what must never be trusted again
    for f in sorted(b.path.parent.glob(f"{b.clip_id}.*")):
        if f.is_file() and not f.is_symlink():
            move_durably(f, qdir / f.name)
    atomic_write_bytes(qdir / f"{b.clip_id}.reason.txt", f"catalog rebuild: {b.reason}\n".encode())
    logger.error("rebuild: quarantined %s/%s: %s", b.watcher, b.clip_id, b.reason)
    return _quarantined_row(qdir, b.watcher, b.clip_id)


def rebuild_catalog(library: Path, *, wait_s: float = 10.0) -> RebuildReport:
    """Rebuild ``<library>/catalog.sqlite3`` from the library's files (see the module docstring)."""
    t0 = time.monotonic()
    lib = Library(library)
    if not lib.root.is_dir():
        raise CatalogError(f"{lib.root} is not a directory: nothing to rebuild from")
    with hold_exclusive(lib.root, wait_s):
        for old in lib.root.glob(f"{TEMP_PREFIX}*"):  # left by an interrupted rebuild
            old.unlink()
        scan = scan_library(lib)
        quarantined_now, left = [], []
        rows = list(scan.rows)
        for b in scan.bad:
            row = _quarantine(lib, b)
            if row is None:
                left.append(b)
            else:
                quarantined_now.append(b)
                rows = [r for r in rows if (r.watcher, r.clip_id) != (b.watcher, b.clip_id)] + [row]
        tmp = lib.root / f"{TEMP_PREFIX}{os.getpid()}.sqlite3"
        cat = Catalog(tmp, hold_library=False)
        try:
            cat.restore(rows)
        finally:
            cat.close()
        problem = catalog_problem(tmp)
        if problem or Path(f"{tmp}-wal").exists():
            raise CatalogError(f"the rebuilt catalog {tmp} does not check out ({problem or 'WAL left over'})")
        aside = _move_aside(lib.catalog_path)
        replace_durably(tmp, lib.catalog_path)
    states: dict[str, int] = {}
    for r in rows:
        states[r.state] = states.get(r.state, 0) + 1
    report = RebuildReport(states, quarantined_now, left, scan.strays, aside, scan.bytes_hashed, time.monotonic() - t0,
                           labels=sum(1 for r in rows if r.label is not None),
                           bad_labels=list(scan.bad_labels.values()))
    logger.info("catalog rebuilt from %s: %s; %d quarantined now; old catalog %s", lib.root,
                ", ".join(f"{k}={v}" for k, v in sorted(states.items())) or "no clips", len(quarantined_now),
                f"kept as {aside.name}" if aside else "was missing")
    return report


def _move_aside(catalog: Path) -> Path | None:
    """Move the catalog and its -wal/-shm aside together (a WAL left beside the new catalog would be
    replayed into it). Returns the aside name of the catalog, or None if there was none."""
    aside = catalog.with_name(f"{catalog.name}.aside-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}")
    moved = None
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{catalog}{suffix}")
        if src.exists():
            move_durably(src, Path(f"{aside}{suffix}"))
            moved = aside if suffix == "" else moved
    return moved


@dataclass
class CheckReport:
    damaged: str | None  # the catalog's own problem (damaged, lost): nothing else was compared
    mismatches: list[str]
    clips_on_disk: int
    rows: int
    strays: list[str] = field(default_factory=list)  # not the library's files: noted, not a disagreement


def check_catalog(library: Path, *, verify: bool = False) -> CheckReport:
    """Is the catalog sound, and does it agree with the library's files? ``verify`` also hashes
    every clip (reads the whole library)."""
    lib = Library(library)
    try:
        verify_catalog(lib.catalog_path)
    except CatalogError as e:
        return CheckReport(str(e), [], 0, 0)
    with library_lease(lib.root):
        cat = Catalog(lib.catalog_path)
        try:
            rows = {(r.watcher, r.clip_id): r for r in cat.rows()}
            labels = cat.labels()
        finally:
            cat.close()
        scan = scan_library(lib, verify=verify)
    out = [f"{b.path.relative_to(lib.root)}: not trusted: {b.reason}" for b in scan.bad]
    out += [f"{line} (label the clip again)" for line in scan.bad_labels.values()]
    on_disk = {(r.watcher, r.clip_id): r for r in scan.rows}
    for key, found in on_disk.items():
        row = rows.get(key)
        want = ("quarantined",) if found.state == "quarantined" else DONE_STATES
        if row is None:
            out.append(f"{key[0]}/{key[1]}: {'in quarantine/' if found.state == 'quarantined' else 'stored'} "
                       "but not in the catalog")
        elif row.state not in want:
            out.append(f"{key[0]}/{key[1]}: the catalog says {row.state}, the files say {found.state}")
        elif found.state != "quarantined" and labels.get(key) != found.label and key not in scan.bad_labels:
            out.append(f"{key[0]}/{key[1]}: the catalog's label is {_says(labels.get(key))}, its label file's "
                       f"{_says(found.label)}")
    for key, row in rows.items():
        if row.state in DONE_STATES and key not in on_disk and not any(
                (b.watcher, b.clip_id) == key for b in scan.bad):
            out.append(f"{key[0]}/{key[1]}: the catalog says {row.state} but its file is missing")
    return CheckReport(None, out, sum(1 for r in scan.rows if r.state != "quarantined"), len(rows), scan.strays)


def _says(label: Label | None) -> str:
    return "none" if label is None else f"{label.label} ({label.labelled_at})"
