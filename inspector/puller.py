"""Pull every finished clip from one watcher: verified, resumable, exactly once.

A pass lists the watcher's recorded_clips/ as a stream and keeps only candidate clips
(:mod:`inspector.listing`: bounded memory, one summary line for the junk), then takes at most
``max_clips_per_pass`` of them, oldest ids first. For each ``<id>.json``: read the manifest
(size-capped, schema-checked), check the ``.mp4`` is a regular file of the manifest's size and
that the library can take it (:mod:`inspector.space`), take the clip's lock
(:mod:`inspector.partlock`) and, holding it: download to ``incoming/<watcher>/<id>.mp4.part``
(resuming by offset), check the clip did not change meanwhile, verify size and sha256, fsync,
place it in the library without replacing anything, mark it ``stored`` in the catalog, and only
then archive or delete it on the watcher (the clip first, then the manifest; see
:meth:`Puller._ack`).

Anything off is skipped with a reason and counted; a sha256 mismatch is retried once, then
quarantined and the remote left alone. A clip locked by another inspector process is skipped
for this pass (it is that process's). An id this watcher already delivered, sent again with the
same size and sha256, is acknowledged (a no-op); with different bytes, the new download is kept
in quarantine beside a reason naming the stored clip, and the stored clip, its catalog row and
the watcher's copy are left alone (see :meth:`Puller._conflict`).

Clips in flight: with ``in_flight`` > 1 (and a store that takes concurrent clips, see
:attr:`~inspector.remote.RemoteStore.max_clips_in_flight`) a pass runs that many workers over the one
store, each taking the next candidate in id order and doing everything above for it, so one clip's
round trips (open, read, close, archive) overlap another's transfer. Each clip is still handled by one
worker under its lock, start to end: the guarantees above hold per clip. A RemoteError or
LocalStorageError in any worker stops the others taking new clips and ends the pass with that error
once the clips in hand are done (or have failed).

Threads: a Puller and its store belong to one watcher thread and its workers. Each worker has its
own catalog connection (SQLite connections are per thread) and its own PullStats, added up at the end;
they share ``library.space`` (its own lock) and the watcher's log memory (:mod:`inspector.pullstats`).
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from inspector.catalog import DONE_STATES, Catalog, ClipRow
from inspector.config import WatcherEntry
from inspector.library import ClipConflict, Library
from inspector.listing import Candidate, Listing, scan
from inspector.partlock import PartLock
from inspector.pullstats import PullStats, reported_for
from inspector.remote import ClipAbandoned, RemoteEntry, RemoteError, RemoteStore
from inspector.space import Reservation
from shared.manifest import MAX_MANIFEST_BYTES, InvalidManifest, Manifest, parse_manifest, sha256_file

logger = logging.getLogger(__name__)

WINDOW = 4 * 1024 * 1024
MAX_SHA_ATTEMPTS = 2
MAX_CLIPS_PER_PASS = 1000  # clips handled per pass; the rest next pass
MAX_NAMES_PER_LISTING = 5_000_000
LISTING_DEADLINE_S = 300.0


class LocalStorageError(OSError):
    """The library cannot take the clip (disk full, permissions): nothing is removed remotely."""


Progress = Callable[[str, str, int, int], None]  # (watcher, clip id, bytes done, total)


class Puller:
    def __init__(self, entry: WatcherEntry, library: Library, catalog: Catalog, store: RemoteStore, *,
                 window: int = WINDOW, progress: Progress | None = None,
                 stop: threading.Event | None = None, max_clips_per_pass: int = MAX_CLIPS_PER_PASS,
                 in_flight: int = 1) -> None:
        self.entry = entry
        self.name = entry.name
        self.library = library
        self._catalog = catalog  # the watcher thread's; each worker opens its own (see `catalog`)
        self._local = threading.local()
        self.store = store
        self.in_flight = max(1, in_flight)
        self.window = window
        self.progress = progress
        self.stop = stop or threading.Event()
        self.max_clips_per_pass = max_clips_per_pass
        self._reported = reported_for(entry.name)

    @property
    def catalog(self) -> Catalog:
        """This thread's catalog connection: a worker's own, else the one the Puller was given."""
        mine: Catalog | None = getattr(self._local, "catalog", None)
        return mine or self._catalog

    def _skip(self, stats: PullStats, name: str, reason: str, *, level: int = logging.WARNING) -> None:
        stats.skip(name, reason)
        if self._reported.pairs.add((name, reason)):  # one line per problem, not one per poll
            logger.log(level, "[%s] skipping %r: %s", self.name, name, reason)

    def pull_once(self) -> PullStats:
        """One pass over the watcher's directory. RemoteError and LocalStorageError propagate."""
        stats = PullStats(self.name)
        unacked = self.catalog.unacked(self.name)  # read before the listing: see _ack_vanished
        listing = scan(self.store.list(), max_ids=4 * self.max_clips_per_pass, max_names=MAX_NAMES_PER_LISTING,
                       deadline_s=LISTING_DEADLINE_S, watch=unacked)
        self._report_listing(listing, stats)
        if listing.stopped is None:
            self._ack_vanished(unacked - listing.seen, stats)
        todo = listing.candidates[:self.max_clips_per_pass]
        stats.deferred = len(listing.candidates) - len(todo)
        if stats.deferred or listing.names_left_out:
            logger.info("[%s] %d clips this pass; %d more (and %d names past the listing cap) next pass",
                        self.name, len(todo), stats.deferred, listing.names_left_out)
        workers = min(self.in_flight, self.store.max_clips_in_flight, len(todo))
        if workers <= 1:
            for cand in todo:
                if self.stop.is_set():
                    break
                self._pull_one(cand, stats)
        else:
            self._pull_in_flight(iter(todo), workers, stats)
        self.catalog.add_skipped(self.name, stats.skipped_count)
        return stats

    def _pull_in_flight(self, todo: Iterator[Candidate], workers: int, stats: PullStats) -> None:
        """``workers`` threads take the candidates in order, one clip each at a time (module doc)."""
        take = threading.Lock()
        failed = threading.Event()
        errors: list[BaseException] = []
        done: list[PullStats] = []  # each worker's, also when it failed: what it stored still counts

        def work() -> None:
            mine = PullStats(self.name)
            done.append(mine)
            try:
                self._local.catalog = Catalog(self.library.catalog_path)
                try:
                    while not (self.stop.is_set() or failed.is_set()):
                        with take:
                            cand = next(todo, None)
                        if cand is None:
                            break
                        self._pull_one(cand, mine)
                finally:
                    self._local.catalog.close()
                    self._local.catalog = None
            except BaseException as e:
                errors.append(e)
                failed.set()

        with ThreadPoolExecutor(workers, thread_name_prefix=f"pull-{self.name}") as pool:
            for _ in range(workers):
                pool.submit(work)
        for mine in done:
            stats.add(mine)
        if errors:
            raise errors[0]

    def _ack_vanished(self, gone: set[str], stats: PullStats) -> None:
        """Clips stored here, not yet recorded as archived, and absent from a whole listing of the
        watcher's directory: the watcher is done with them. Either their archive or delete was done and
        its reply lost (the link dropped, the inspector was killed) before the catalog recorded it, or
        the watcher's own retention removed them. Recorded now, or such a row stays 'stored' forever.
        The ids were read before the listing began: a clip another process stores meanwhile is not
        among them, and one stored before was already verified here, so acknowledging it is right.
        """
        if not gone:
            return
        ids = sorted(gone)
        self.catalog.mark_all_acked(self.name, ids)
        stats.acked.extend(ids)
        logger.info("[%s] %d stored clip(s) no longer on the watcher (archived or deleted before the reply "
                    "was lost): recorded as acknowledged (%s%s)", self.name, len(ids), ", ".join(ids[:3]),
                    ", ..." if len(ids) > 3 else "")

    def _report_listing(self, listing: Listing, stats: PullStats) -> None:
        """Skipped names become one summary line per pass: a warning when the picture changed since
        the last pass, debug when it is the same junk again."""
        for reason, names in listing.examples.items():
            for name in names:
                stats.skip(name, reason)
        stats.skipped_count += sum(listing.skipped.values()) - sum(len(x) for x in listing.examples.values())
        if listing.stopped:
            logger.warning("[%s] %s", self.name, listing.stopped)
        if listing.skipped:
            signature = tuple(sorted(listing.skipped.items()))
            level = logging.WARNING if signature != self._reported.last_summary else logging.DEBUG
            self._reported.last_summary = signature
            logger.log(level, "[%s] %s", self.name, listing.summary())

    def _pull_one(self, cand: Candidate, stats: PullStats) -> None:
        clip_id = cand.clip_id
        mp4_name, json_name = f"{clip_id}.mp4", f"{clip_id}.json"
        row = self.catalog.get(self.name, clip_id)
        if row is not None and row.state == "quarantined":
            return None
        me = cand.manifest
        assert me is not None
        if me.kind != "file":
            return self._skip(stats, json_name, f"manifest is a {me.kind}, not a regular file")
        if me.size > MAX_MANIFEST_BYTES:
            return self._skip(stats, json_name, f"manifest is {me.size} bytes (cap {MAX_MANIFEST_BYTES})")
        try:
            raw = self._read_manifest(json_name)
            manifest = parse_manifest(raw, expected_id=clip_id)
        except _Gone:  # another inspector process took it since the listing
            return self._skip(stats, json_name, "gone since the listing", level=logging.INFO)
        except (InvalidManifest, _Refused) as e:
            return self._skip(stats, json_name, f"bad manifest: {e}")
        if row is not None and row.state in DONE_STATES and _same(row, manifest):
            # delivered before: the same bytes again (or a manifest an interrupted ack left): a no-op
            return self._ack_done(clip_id, stats)
        if row is not None and row.state in DONE_STATES:
            known = self.library.conflict_reason(self.name, clip_id, manifest.sha256)
            if known is not None:  # other bytes under a delivered id, already kept: nothing to fetch
                return self._skip(stats, mp4_name, f"already quarantined: {known}")
        problem = self._check_clip_entry(cand.clip, manifest)
        if problem:
            return self._skip(stats, *problem)
        refused = self.library.space.check_size(manifest.size)
        if refused:
            return self._refuse(stats, clip_id, refused)
        try:
            lock = PartLock.try_acquire(self.library.part(self.name, clip_id))
        except OSError as e:
            raise _local_error(e, clip_id) from e
        if lock is None:
            return self._skip(stats, mp4_name, "being downloaded by another inspector process; next pass",
                              level=logging.INFO)
        try:
            self._pull_locked(lock, manifest, raw, stats)
        except (RemoteError, LocalStorageError):
            raise
        except OSError as e:
            raise _local_error(e, clip_id) from e
        finally:
            lock.release()

    def _check_clip_entry(self, ce: RemoteEntry | None, m: Manifest) -> tuple[str, str] | None:
        if ce is None:
            return f"{m.id}.json", "manifest without its clip"
        if ce.kind != "file":
            return ce.name, f"clip is a {ce.kind}, not a regular file"
        if ce.size != m.size:
            return ce.name, f"size {ce.size} differs from the manifest's {m.size}"
        return None

    def _pull_locked(self, lock: PartLock, m: Manifest, raw: bytes, stats: PullStats) -> None:
        """Everything from here on holds the clip's lock: no other inspector touches this clip."""
        clip_id = m.id
        row = self.catalog.get(self.name, clip_id)  # again: another process may have finished it meanwhile
        if row is not None and row.state in DONE_STATES:
            if _same(row, m):
                self._ack_done(clip_id, stats)
                return lock.discard()
            return self._conflict(lock, m, raw, Path(row.local_path or self.library.final(self.name, clip_id)),
                                  (row.size or 0, row.sha256 or ""), stats)
        if row is not None and row.state == "quarantined":
            return lock.discard()
        final = self.library.final(self.name, clip_id)
        if final.exists():
            # stored before a crash that came before the catalog update
            on_disk = _file_sha(final)
            self._adopt(final, on_disk, m, raw)
            if on_disk != (m.size, m.sha256):
                return self._conflict(lock, m, raw, final, on_disk, stats)
            self._stored(clip_id, final, m.size, stats)
            return lock.discard()
        self.catalog.begin_download(self.name, clip_id, m.camera, m.size, m.sha256, m.started_at, m.ended_at)
        while True:
            got = self._fetch(lock, m, stats)
            if got is None:
                return None
            if got == (m.size, m.sha256):
                break
            reason = f"sha256 mismatch: manifest {m.sha256}, got {got[1]} ({got[0]} bytes)"
            attempts = self.catalog.count_attempt(self.name, clip_id, reason)
            if attempts >= MAX_SHA_ATTEMPTS:
                where = self.library.quarantine(self.name, clip_id, lock.path, raw, reason)
                self.catalog.mark_quarantined(self.name, clip_id, reason, str(where))
                logger.error("[%s] quarantined %s: %s", self.name, clip_id, reason)
                stats.quarantined.append(clip_id)
                return lock.discard()
            logger.warning("[%s] %s: %s; downloading it again", self.name, clip_id, reason)
            lock.truncate(0)
        try:
            final = self.library.store(self.name, lock.path, clip_id, raw, got)
        except ClipConflict as c:  # only if something outside the inspector's locks placed it
            self._adopt(c.stored, (c.stored_size, c.stored_sha256), m, raw)
            return self._conflict(lock, m, raw, c.stored, (c.stored_size, c.stored_sha256), stats, got=got)
        except OSError as e:
            raise _local_error(e, clip_id) from e
        self._stored(clip_id, final, m.size, stats)
        lock.discard()  # only now: until the catalog and the watcher know, the .part stays ours

    def _stored(self, clip_id: str, final: Path, size: int, stats: PullStats) -> None:
        self.catalog.mark_stored(self.name, clip_id, str(final))
        stats.stored.append(clip_id)
        logger.info("[%s] stored %s (%d bytes)", self.name, clip_id, size)
        self._ack(clip_id)
        stats.acked.append(clip_id)

    def _ack_done(self, clip_id: str, stats: PullStats) -> None:
        self._ack(clip_id)
        stats.acked.append(clip_id)

    def _adopt(self, final: Path, got: tuple[int, str], m: Manifest, raw: bytes) -> None:
        """Record a clip found stored but not cataloged, with the stored file's own size and sha256
        (not the watcher's new manifest's), and give it a manifest if it lacks one."""
        stored_raw = raw
        try:
            stored_raw = final.with_suffix(".json").read_bytes()
            stored = parse_manifest(stored_raw, expected_id=m.id)
        except (OSError, InvalidManifest):
            stored = m
        if (stored.size, stored.sha256) != got:
            stored_raw = raw if got == (m.size, m.sha256) else b""
        self.catalog.begin_download(self.name, m.id, stored.camera, got[0], got[1], stored.started_at, stored.ended_at)
        if stored_raw:
            self.library.ensure_manifest(final, stored_raw)
        self.catalog.mark_stored(self.name, m.id, str(final))

    def _conflict(self, lock: PartLock, m: Manifest, raw: bytes, stored: Path, stored_got: tuple[int, str],
                  stats: PullStats, *, got: tuple[int, str] | None = None) -> None:
        """The watcher sent an id it already delivered, with other bytes. Download them (once) into
        quarantine under a name of their own, with a reason naming the stored clip; leave the stored
        clip, its catalog row and the watcher's copy alone. Later passes see the quarantined copy and
        skip it without downloading."""
        clip_id = m.id
        known = self.library.conflict_reason(self.name, clip_id, m.sha256)
        if known is not None:
            lock.discard()
            return self._skip(stats, f"{clip_id}.mp4", f"already quarantined: {known}")
        if got is None:
            lock.truncate(0)  # whatever the .part holds, it is not a prefix of these bytes we can trust
            got = self._fetch(lock, m, stats)
            if got is None:
                return None
        reason = (f"conflicts with the stored clip {stored} ({stored_got[0]} bytes, sha256 {stored_got[1]}): "
                  f"watcher {self.name} sent {clip_id} again with {got[0]} bytes, sha256 {got[1]}"
                  + ("" if got == (m.size, m.sha256) else f" (its manifest says sha256 {m.sha256})")
                  + "; kept here, the stored clip and the watcher's copy left alone")
        where = self.library.quarantine(self.name, clip_id, lock.path, raw, reason, conflict_sha256=m.sha256)
        lock.discard()
        logger.error("[%s] quarantined %s as %s: %s", self.name, clip_id, where.name, reason)
        stats.quarantined.append(clip_id)
        stats.conflicts.append(clip_id)
        stats.skip(f"{clip_id}.mp4", reason)

    def _refuse(self, stats: PullStats, clip_id: str, reason: str) -> None:
        """Too big for the library now: skipped and reported (status shows it), asked again next pass."""
        stats.refused.append(clip_id)
        self._skip(stats, f"{clip_id}.mp4", reason)
        self.catalog.watcher_error(self.name, f"{clip_id} refused: {reason}")

    def _fetch(self, lock: PartLock, m: Manifest, stats: PullStats) -> tuple[int, str] | None:
        """Reserve the space, then download into the locked .part. None (the .part gone) if the
        library has no room or the clip changed during the transfer: both are tried next pass."""
        offset = lock.size()
        if offset > m.size:
            lock.truncate(0)
            offset = 0
        res = self.library.space.reserve(m.size, m.size - offset)
        if isinstance(res, str):
            if offset == 0:
                lock.discard()
            self._refuse(stats, m.id, res)
            return None
        with res:
            try:
                got = self._download(lock, m, offset, stats, res)
            except ClipAbandoned as e:  # too slow: what arrived stays in the .part to resume; the next clip goes on
                self._skip(stats, f"{m.id}.mp4", f"abandoned, will resume: {e}")
                return None
        if got is None:
            lock.discard()
            self._skip(stats, f"{m.id}.mp4", "changed during transfer; will retry next time")
        return got

    def _read_manifest(self, name: str) -> bytes:
        try:
            r = self.store.open(name)
        except RemoteError as e:
            if isinstance(e.__cause__, FileNotFoundError):
                raise _Gone(name) from e
            raise
        try:
            size, _, kind = r.fstat()
            if kind != "file" or size > MAX_MANIFEST_BYTES:
                raise _Refused(f"{kind} of {size} bytes")
            return b"".join(r.read_windows(0, size, MAX_MANIFEST_BYTES))
        finally:
            r.close()

    def _download(self, lock: PartLock, m: Manifest, offset: int, stats: PullStats,
                  res: Reservation) -> tuple[int, str] | None:
        """Download (or resume from ``offset``) into the locked .part, hashing as it goes (a resumed
        file's bytes are hashed first). Returns (size, sha256), or None if the remote changed meanwhile."""
        clip_id = m.id
        r = self.store.open(f"{clip_id}.mp4")
        try:
            size0, mtime0, kind = r.fstat()
            if kind != "file" or size0 != m.size:
                return None
            if offset:
                logger.info("[%s] resuming %s at %d of %d bytes", self.name, clip_id, offset, m.size)
            try:
                lock.truncate(offset)
                digest = lock.hash_prefix(offset)
                done = offset
                for data in r.read_windows(offset, m.size - offset, self.window):
                    lock.write_at(done, data)
                    digest.update(data)
                    done += len(data)
                    res.wrote(len(data))
                    stats.bytes_transferred += len(data)
                    logger.debug("[%s] %s: %d/%d bytes", self.name, clip_id, done, m.size)
                    if self.progress:
                        self.progress(self.name, clip_id, done, m.size)
                lock.fsync()
            except OSError as e:
                if isinstance(e, RemoteError):
                    raise
                raise _local_error(e, clip_id) from e
            size1, mtime1, _ = r.fstat()
            if (size1, mtime1) != (size0, mtime0):
                return None
        finally:
            r.close()
        return done, digest.hexdigest()

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


class _Gone(Exception):
    pass


def _same(row: ClipRow, m: Manifest) -> bool:
    return (row.size, row.sha256) == (m.size, m.sha256)


def _local_error(e: OSError, clip_id: str) -> LocalStorageError:
    what = "local disk full" if e.errno in (errno.ENOSPC, errno.EDQUOT) else "cannot write to the library"
    return LocalStorageError(e.errno or 0, f"{what} while storing {clip_id}: {e.strerror or e}")


_file_sha = sha256_file
