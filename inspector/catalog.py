"""The catalog: one SQLite (WAL) row per (watcher, clip id) with the clip's state.

States: ``downloading`` -> ``stored`` (verified local copy, manifest beside it) -> ``acked``
(archived or deleted on the watcher) -> ``analyzed`` (results beside the clip, summary columns
here, ``analyzer_version`` says by which analyzer); or ``quarantined`` with a reason.
The ``labels`` table holds users' labels of clips (real / false alarm, a note; see
:mod:`inspector.labels`), a copy of the label files beside the clips.

Each thread opens its own :class:`Catalog` (sqlite3 connections are per thread); WAL lets
readers run while one writer commits, and ``busy_timeout`` serializes writers.

Opening a Catalog holds the library (shared) until it is closed, and a process's first open checks
the file (``PRAGMA quick_check``; a lost catalog beside stored clips is an error, not a fresh start):
see :mod:`inspector.catalog_guard`. ``python -m inspector catalog rebuild`` restores it from the
library's files (:mod:`inspector.rebuild`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from inspector.catalog_guard import acquire_lease, release_lease, verify_catalog
from inspector.labels import Label

SCHEMA = """
CREATE TABLE IF NOT EXISTS clips (
    watcher     TEXT NOT NULL,
    clip_id     TEXT NOT NULL,
    camera      TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('downloading','stored','acked','analyzed','quarantined')),
    size        INTEGER,
    sha256      TEXT,
    started_at  TEXT,
    ended_at    TEXT,
    local_path  TEXT,
    reason      TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    first_seen  REAL NOT NULL,
    updated     REAL NOT NULL,
    stored_at   REAL,
    acked_at    REAL,
    PRIMARY KEY (watcher, clip_id)
);
CREATE INDEX IF NOT EXISTS clips_state ON clips(state);
CREATE TABLE IF NOT EXISTS watchers (
    watcher        TEXT PRIMARY KEY,
    last_ok        REAL,
    last_error     TEXT,
    last_error_at  REAL,
    skipped        INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS watcher_health (
    watcher     TEXT PRIMARY KEY,
    fetched_at  REAL NOT NULL,
    doc         TEXT,
    error       TEXT
);
CREATE TABLE IF NOT EXISTS labels (
    watcher      TEXT NOT NULL,
    clip_id      TEXT NOT NULL,
    label        TEXT NOT NULL,  -- one of inspector.labels.LABELS (checked there: the words may grow)
    note         TEXT NOT NULL DEFAULT '',
    labelled_at  TEXT NOT NULL,
    PRIMARY KEY (watcher, clip_id)
);
"""

DONE_STATES = ("stored", "acked", "analyzed")

# Columns added after the first release: (name, SQL type). Added in place by Catalog._migrate.
ANALYSIS_COLUMNS = (
    ("analyzer_version", "INTEGER"),
    ("analyzed_at", "REAL"),
    ("duration_s", "REAL"),
    ("people_peak", "INTEGER"),
    ("motion_peak", "REAL"),
    ("motion_s", "REAL"),
    ("analysis_path", "TEXT"),
)


@dataclass(frozen=True)
class ClipRow:
    watcher: str
    clip_id: str
    camera: str
    state: str
    size: int | None
    sha256: str | None
    local_path: str | None
    reason: str | None
    attempts: int


@dataclass(frozen=True)
class AnalyzedRow:
    watcher: str
    clip_id: str
    camera: str
    started_at: str | None
    ended_at: str | None
    local_path: str | None
    analyzer_version: int | None
    duration_s: float | None
    people_peak: int | None
    motion_peak: float | None
    motion_s: float | None
    analysis_path: str | None


@dataclass(frozen=True)
class RestoredRow:
    """One row as ``catalog rebuild`` restores it from the library's files."""
    watcher: str
    clip_id: str
    camera: str
    state: str  # 'stored', 'analyzed' or 'quarantined'
    size: int | None
    sha256: str | None
    started_at: str | None
    ended_at: str | None
    local_path: str | None
    reason: str | None = None
    stored_at: float | None = None
    analyzer_version: int | None = None
    analyzed_at: float | None = None
    duration_s: float | None = None
    people_peak: int | None = None
    motion_peak: float | None = None
    motion_s: float | None = None
    analysis_path: str | None = None
    label: Label | None = None  # from the label file beside the clip


@dataclass(frozen=True)
class LabelledClip:
    """A labelled clip that is in the library (stored, acked or analyzed): what ``inspector tune`` replays."""
    watcher: str
    clip_id: str
    camera: str
    state: str
    local_path: str | None
    started_at: str | None
    label: str
    note: str
    labelled_at: str
    analysis_path: str | None


class Catalog:
    def __init__(self, path: Path, *, hold_library: bool = True) -> None:
        """Open (or create) the catalog. ``hold_library=False`` only for ``catalog rebuild``, which
        writes a new catalog in a temp file while it holds the library exclusively itself."""
        self.path = path
        self._library = path.parent if hold_library else None
        if self._library is not None:
            acquire_lease(self._library)
        try:
            if hold_library:
                verify_catalog(path)
            self.db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.executescript(SCHEMA)
            self._migrate()
        except BaseException:
            if hasattr(self, "db"):
                self.db.close()
            self._release()
            raise

    def _release(self) -> None:
        if self._library is not None:
            release_lease(self._library)
            self._library = None

    def _migrate(self) -> None:
        """Add missing analysis columns. Inside one write transaction, so two connections
        migrating at once do not both try to add a column."""
        have = {r[1] for r in self.db.execute("PRAGMA table_info(clips)")}
        if all(name in have for name, _ in ANALYSIS_COLUMNS):
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            have = {r[1] for r in self.db.execute("PRAGMA table_info(clips)")}
            for name, sql_type in ANALYSIS_COLUMNS:
                if name not in have:
                    self.db.execute(f"ALTER TABLE clips ADD COLUMN {name} {sql_type}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()
        self._release()

    def restore(self, rows: list[RestoredRow]) -> None:
        """Insert rebuilt rows in one transaction (a fresh catalog; ``catalog rebuild`` only)."""
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "INSERT INTO clips (watcher, clip_id, camera, state, size, sha256, started_at, ended_at, local_path, "
                "reason, attempts, first_seen, updated, stored_at, analyzer_version, analyzed_at, duration_s, "
                "people_peak, motion_peak, motion_s, analysis_path) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.watcher, r.clip_id, r.camera, r.state, r.size, r.sha256, r.started_at, r.ended_at, r.local_path,
                  r.reason, now, now, r.stored_at, r.analyzer_version, r.analyzed_at, r.duration_s, r.people_peak,
                  r.motion_peak, r.motion_s, r.analysis_path) for r in rows])
            self.db.executemany(
                "INSERT INTO labels (watcher, clip_id, label, note, labelled_at) VALUES (?, ?, ?, ?, ?)",
                [(r.watcher, r.clip_id, r.label.label, r.label.note, r.label.labelled_at) for r in rows
                 if r.label is not None])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def get(self, watcher: str, clip_id: str) -> ClipRow | None:
        r = self.db.execute(
            "SELECT watcher, clip_id, camera, state, size, sha256, local_path, reason, attempts FROM clips "
            "WHERE watcher=? AND clip_id=?", (watcher, clip_id)).fetchone()
        return ClipRow(*r) if r else None

    def begin_download(self, watcher: str, clip_id: str, camera: str, size: int, sha256: str,
                       started_at: str, ended_at: str) -> ClipRow:
        now = time.time()
        self.db.execute(
            "INSERT INTO clips (watcher, clip_id, camera, state, size, sha256, started_at, ended_at, attempts, "
            "first_seen, updated) VALUES (?, ?, ?, 'downloading', ?, ?, ?, ?, 0, ?, ?) "
            "ON CONFLICT (watcher, clip_id) DO UPDATE SET updated=excluded.updated, "
            "size=CASE WHEN state='downloading' THEN excluded.size ELSE size END, "
            "sha256=CASE WHEN state='downloading' THEN excluded.sha256 ELSE sha256 END",
            (watcher, clip_id, camera, size, sha256, started_at, ended_at, now, now))
        row = self.get(watcher, clip_id)
        assert row is not None
        return row

    def count_attempt(self, watcher: str, clip_id: str, reason: str) -> int:
        self.db.execute("UPDATE clips SET attempts=attempts+1, reason=?, updated=? WHERE watcher=? AND clip_id=?",
                        (reason, time.time(), watcher, clip_id))
        row = self.get(watcher, clip_id)
        return row.attempts if row else 0

    def mark_stored(self, watcher: str, clip_id: str, local_path: str) -> None:
        """A verified copy is in place. Download tries are forgotten: ``attempts`` counts analysis tries from here."""
        now = time.time()
        self.db.execute("UPDATE clips SET state='stored', local_path=?, reason=NULL, attempts=0, stored_at=?, "
                        "updated=? WHERE watcher=? AND clip_id=?", (local_path, now, now, watcher, clip_id))

    def mark_acked(self, watcher: str, clip_id: str) -> None:
        self.mark_all_acked(watcher, [clip_id])

    def mark_all_acked(self, watcher: str, clip_ids: Iterable[str]) -> None:
        """The watcher is done with these clips (archived or deleted there), in one transaction."""
        now = time.time()
        ids = [(now, now, watcher, c) for c in clip_ids]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("UPDATE clips SET state='acked', acked_at=?, updated=? WHERE watcher=? "
                                "AND clip_id=? AND state='stored'", ids)
            # analysis may have finished between 'stored' and the ack: keep 'analyzed', record the ack
            self.db.executemany("UPDATE clips SET acked_at=?, updated=? WHERE watcher=? AND clip_id=? "
                                "AND state='analyzed' AND acked_at IS NULL", ids)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def unacked(self, watcher: str) -> set[str]:
        """Ids of this watcher's clips stored here whose archive or delete on the watcher is not recorded."""
        return {r[0] for r in self.db.execute(
            "SELECT clip_id FROM clips WHERE watcher=? AND (state='stored' OR (state='analyzed' AND acked_at IS NULL))",
            (watcher,))}

    def clips_to_analyze(self, version: int, reanalyze: bool = False) -> list[ClipRow]:
        """Clips stored or acked and not yet analyzed; with ``reanalyze``, also clips analyzed by
        an analyzer older than ``version``. Oldest first."""
        q = ("SELECT watcher, clip_id, camera, state, size, sha256, local_path, reason, attempts FROM clips "
             "WHERE state IN ('stored','acked')")
        if reanalyze:
            q += " OR (state='analyzed' AND COALESCE(analyzer_version, 0) < ?)"
        q += " ORDER BY started_at, watcher, clip_id"
        return [ClipRow(*r) for r in self.db.execute(q, (version,) if reanalyze else ())]

    def mark_analyzed(self, watcher: str, clip_id: str, version: int, *, duration_s: float, people_peak: int,
                      motion_peak: float, motion_s: float, analysis_path: str) -> bool:
        """Record a finished analysis; only a clip that is stored, acked or analyzed can be.
        Returns whether the row was updated."""
        now = time.time()
        cur = self.db.execute(
            "UPDATE clips SET state='analyzed', analyzer_version=?, analyzed_at=?, duration_s=?, people_peak=?, "
            "motion_peak=?, motion_s=?, analysis_path=?, reason=NULL, updated=? "
            "WHERE watcher=? AND clip_id=? AND state IN ('stored','acked','analyzed')",
            (version, now, duration_s, people_peak, motion_peak, motion_s, analysis_path, now, watcher, clip_id))
        return cur.rowcount == 1

    def analyzed(self) -> list[AnalyzedRow]:
        """Every analyzed clip, newest first."""
        return [AnalyzedRow(*r) for r in self.db.execute(
            "SELECT watcher, clip_id, camera, started_at, ended_at, local_path, analyzer_version, duration_s, "
            "people_peak, motion_peak, motion_s, analysis_path FROM clips WHERE state='analyzed' "
            "ORDER BY started_at DESC, clip_id DESC")]

    def count_state(self, state: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM clips WHERE state=?", (state,)).fetchone()[0])

    def quarantined(self) -> list[ClipRow]:
        return [ClipRow(*r) for r in self.db.execute(
            "SELECT watcher, clip_id, camera, state, size, sha256, local_path, reason, attempts FROM clips "
            "WHERE state='quarantined' ORDER BY clip_id DESC")]

    def mark_quarantined(self, watcher: str, clip_id: str, reason: str, local_path: str | None) -> None:
        self.db.execute("UPDATE clips SET state='quarantined', reason=?, local_path=?, updated=? "
                        "WHERE watcher=? AND clip_id=?", (reason, local_path, time.time(), watcher, clip_id))

    def watcher_ok(self, watcher: str) -> None:
        self.db.execute("INSERT INTO watchers (watcher, last_ok) VALUES (?, ?) "
                        "ON CONFLICT (watcher) DO UPDATE SET last_ok=excluded.last_ok", (watcher, time.time()))

    def watcher_error(self, watcher: str, error: str) -> None:
        self.db.execute("INSERT INTO watchers (watcher, last_error, last_error_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (watcher) DO UPDATE SET last_error=excluded.last_error, "
                        "last_error_at=excluded.last_error_at", (watcher, error, time.time()))

    def record_health(self, watcher: str, doc: str | None, error: str | None) -> None:
        """The watcher's status.json as last read (its JSON, checked), or why it could not be."""
        self.db.execute("INSERT INTO watcher_health (watcher, fetched_at, doc, error) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (watcher) DO UPDATE SET fetched_at=excluded.fetched_at, doc=excluded.doc, "
                        "error=excluded.error", (watcher, time.time(), doc, error))

    def health(self) -> dict[str, tuple[float, str | None, str | None]]:
        """watcher -> (fetched at, status.json's JSON or None, the error or None)."""
        return {w: (t, d, e) for w, t, d, e in self.db.execute(
            "SELECT watcher, fetched_at, doc, error FROM watcher_health")}

    def add_skipped(self, watcher: str, n: int) -> None:
        if n:
            self.db.execute("INSERT INTO watchers (watcher, skipped) VALUES (?, ?) "
                            "ON CONFLICT (watcher) DO UPDATE SET skipped=skipped+excluded.skipped", (watcher, n))

    def summary(self) -> dict[str, object]:
        states = dict(self.db.execute("SELECT state, COUNT(*) FROM clips GROUP BY state").fetchall())
        per: dict[str, dict[str, object]] = {}
        for w, s, n in self.db.execute("SELECT watcher, state, COUNT(*) FROM clips GROUP BY watcher, state"):
            per.setdefault(w, {"states": {}})["states"][s] = n  # type: ignore[index]
        for w, last_ok, err, err_at, skipped in self.db.execute(
                "SELECT watcher, last_ok, last_error, last_error_at, skipped FROM watchers"):
            d = per.setdefault(w, {"states": {}})
            d.update(last_ok=last_ok, last_error=err, last_error_at=err_at, skipped=skipped)
        return {"states": states, "watchers": per}

    def set_label(self, watcher: str, clip_id: str, label: Label | None) -> None:
        """Record the clip's label (its file is written first, see :mod:`inspector.labels`); None clears it."""
        if label is None:
            self.db.execute("DELETE FROM labels WHERE watcher=? AND clip_id=?", (watcher, clip_id))
            return
        self.db.execute("INSERT INTO labels (watcher, clip_id, label, note, labelled_at) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (watcher, clip_id) DO UPDATE SET label=excluded.label, note=excluded.note, "
                        "labelled_at=excluded.labelled_at", (watcher, clip_id, label.label, label.note,
                                                             label.labelled_at))

    def labels(self) -> dict[tuple[str, str], Label]:
        """Every label recorded, by (watcher, clip id), whatever the clip's state."""
        return {(w, c): Label(lab, note, at) for w, c, lab, note, at in self.db.execute(
            "SELECT watcher, clip_id, label, note, labelled_at FROM labels")}

    def labelled(self, camera: str | None = None, watcher: str | None = None) -> list[LabelledClip]:
        """The labelled clips in the library (stored, acked or analyzed), oldest first; only ``camera``'s
        and ``watcher``'s when given."""
        q = ("SELECT c.watcher, c.clip_id, c.camera, c.state, c.local_path, c.started_at, l.label, l.note, "
             "l.labelled_at, c.analysis_path FROM labels l JOIN clips c USING (watcher, clip_id) "
             "WHERE c.state IN ('stored','acked','analyzed')")
        args: list[str] = []
        if camera is not None:
            q += " AND c.camera=?"
            args.append(camera)
        if watcher is not None:
            q += " AND c.watcher=?"
            args.append(watcher)
        return [LabelledClip(*r) for r in self.db.execute(q + " ORDER BY c.started_at, c.watcher, c.clip_id", args)]

    def with_id(self, clip_id: str) -> list[ClipRow]:
        """Every watcher's clip of this id (two watchers may hold the same id), by watcher."""
        return [ClipRow(*r) for r in self.db.execute(
            "SELECT watcher, clip_id, camera, state, size, sha256, local_path, reason, attempts FROM clips "
            "WHERE clip_id=? ORDER BY watcher", (clip_id,))]

    def forget(self, watcher: str, clip_id: str) -> None:
        """Remove the clip's row and its label's, in one transaction (library retention, once its files are gone)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM labels WHERE watcher=? AND clip_id=?", (watcher, clip_id))
            self.db.execute("DELETE FROM clips WHERE watcher=? AND clip_id=?", (watcher, clip_id))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def rows(self, watcher: str | None = None) -> list[ClipRow]:
        q = "SELECT watcher, clip_id, camera, state, size, sha256, local_path, reason, attempts FROM clips"
        args: tuple[str, ...] = ()
        if watcher:
            q += " WHERE watcher=?"
            args = (watcher,)
        return [ClipRow(*r) for r in self.db.execute(q + " ORDER BY watcher, clip_id", args)]
