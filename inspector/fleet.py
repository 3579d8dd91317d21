"""Pulling from the whole fleet: one thread, one SSH connection and one SFTP client per watcher,
so a dead, slow or silent Pi never blocks the others.

Each pass that reached a watcher also reads its status.json (:mod:`inspector.fleet_health`).

Supervision: a worker survives whatever one pass raises. The failure is logged (with its
traceback the first time, when it is not one of the expected remote or disk errors), recorded in
the catalog (``status`` shows it) and, in ``run``, retried with a backoff that doubles up to
``max_backoff_s``: no watcher is ever lost. ``pull`` reports every watcher, failed or not.

Stopping: the caller's thread waits for the workers or for ``stop``. On stop, workers get
``GRACE_S`` to finish the step in hand (they stop between clips); then every open connection is
cut (:class:`~inspector.links.OpenLinks`), so workers blocked on a silent Pi fail at once, and
they are joined for at most ``JOIN_S`` more; a worker still busy after that (a local disk that
hangs) is left behind as a daemon thread and named in the log.

Threads: each watcher thread owns its store (SSH connection), its Catalog connection and its
Puller; they share only the library directory (disjoint paths per watcher and clip), the stop
event and the OpenLinks set. The caller's thread starts, waits, cuts and joins.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inspector.catalog import Catalog
from inspector.config import InspectorConfig, InspectorSettings, WatcherEntry
from inspector.deadlines import RateFloor
from inspector.fleet_health import record_status
from inspector.library import Library
from inspector.links import OpenLinks
from inspector.puller import LocalStorageError, Progress, Puller
from inspector.pullstats import PullStats
from inspector.remote import LocalStore, RemoteError, RemoteStore
from inspector.ssh_pipe import SshMissing, ssh_client
from shared.errors import AppError

if TYPE_CHECKING:
    from inspector.events import InspectorEvents

logger = logging.getLogger(__name__)

GRACE_S = 1.5  # after a stop, how long workers may finish the step in hand before their connections are cut
JOIN_S = 4.0  # then how long the caller waits for workers whose connections were cut
_WAKE_S = 0.2  # how often the waiting thread looks whether every worker has finished
_EXPECTED = (RemoteError, LocalStorageError)  # failures with a clear message of their own: no traceback


def open_store(entry: WatcherEntry, settings: InspectorSettings | None = None, *,
               links: OpenLinks | None = None) -> RemoteStore:
    if entry.transport == "local":
        return LocalStore(entry.remote_dir)
    from inspector.sftp import SftpStore  # the ssh transport only when SFTP is used

    settings = settings or InspectorSettings()
    floor = RateFloor(settings.min_transfer_kbytes_s * 1000, settings.transfer_grace_s)
    return SftpStore(entry, floor=floor, links=links)


@dataclass
class WatcherResult:
    name: str
    stats: list[PullStats]
    error: str | None = None
    interrupted: bool = False  # the pass was stopped (SIGTERM) before it finished


def describe(e: BaseException) -> str:
    """One line for the log, the catalog and the summary."""
    text = str(e) or "(no message)"
    return text if isinstance(e, _EXPECTED) else f"{type(e).__name__}: {text}"


def _record_error(catalog: Catalog | None, library: Library, name: str, message: str) -> None:
    """Put the failure where ``status`` shows it; if the catalog is the trouble, say so and go on."""
    try:
        if catalog is not None:
            catalog.watcher_error(name, message)
            return
        c = Catalog(library.catalog_path)
        try:
            c.watcher_error(name, message)
        finally:
            c.close()
    except Exception as e:
        logger.error("[%s] cannot record the failure in the catalog: %s", name, describe(e))


def _close_quietly(thing: RemoteStore | Catalog | None, name: str) -> None:
    if thing is None:
        return
    try:
        thing.close()
    except Exception as e:
        logger.warning("[%s] closing %s failed: %s", name, type(thing).__name__, describe(e))


def _pull_watcher_once(entry: WatcherEntry, cfg: InspectorConfig, library: Library, stop: threading.Event,
                       progress: Progress | None, links: OpenLinks, events: InspectorEvents | None) -> WatcherResult:
    catalog: Catalog | None = None
    store: RemoteStore | None = None
    try:
        catalog = Catalog(library.catalog_path)
        store = open_store(entry, cfg.settings, links=links)
        logger.info("[%s] connected", entry.name)
        stats = Puller(entry, library, catalog, store, progress=progress, stop=stop,
                       in_flight=cfg.settings.clips_in_flight).pull_once()
        if stop.is_set():
            return WatcherResult(entry.name, [stats], interrupted=True)
        record_status(catalog, entry.name, store)
        catalog.watcher_ok(entry.name)
        if events is not None:
            events.watcher_pass(entry.name, stats, None, catalog)
        return WatcherResult(entry.name, [stats])
    except Exception as e:
        if stop.is_set():
            logger.info("[%s] interrupted: %s", entry.name, describe(e))
            return WatcherResult(entry.name, [], interrupted=True)
        message = describe(e)
        if isinstance(e, _EXPECTED):
            logger.error("[%s] %s", entry.name, message)
        else:
            logger.exception("[%s] pass failed: %s", entry.name, message)
        _record_error(catalog, library, entry.name, message)
        if events is not None:
            events.watcher_pass(entry.name, None, message)
        return WatcherResult(entry.name, [], message)
    finally:
        _close_quietly(store, entry.name)
        _close_quietly(catalog, entry.name)


def _wait_then_cut(threads: list[threading.Thread], stop: threading.Event, links: OpenLinks) -> None:
    """Wait until every worker has finished, or ``stop``. On stop, give the workers GRACE_S to
    finish the step in hand (an acknowledgement in flight), then cut every connection and join
    them for at most JOIN_S more. Called by the thread that started them."""
    while any(t.is_alive() for t in threads):
        if stop.wait(_WAKE_S):
            _join_all(threads, GRACE_S)
            if any(t.is_alive() for t in threads):
                n = links.cut_all()
                logger.info("stopping: closed %d open connection(s); waiting up to %.0f s for the workers",
                            n, JOIN_S)
            break
    _join_all(threads, JOIN_S)
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        logger.warning("still busy after the stop, left behind: %s", ", ".join(stuck))


def _join_all(threads: list[threading.Thread], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))


class ClientMissing(AppError):
    """A tool the configuration needs is not installed (the OpenSSH client for SFTP watchers)."""

    exit_code = 69  # EX_UNAVAILABLE


def _prepare(cfg: InspectorConfig) -> Library:
    if any(w.transport == "sftp" for w in cfg.watchers):
        try:
            ssh_client()
        except SshMissing as e:
            raise ClientMissing(str(e)) from e
    library = Library.for_config(cfg)  # one per process: its watcher threads share the disk reservation
    library.create()
    Catalog(library.catalog_path).close()  # create the schema once, before the threads race to
    return library


def pull_all(cfg: InspectorConfig, *, progress: Progress | None = None,
             stop: threading.Event | None = None, events: InspectorEvents | None = None) -> list[WatcherResult]:
    """Pull from every watcher once, in parallel; return one result per watcher, whatever happened
    to its pass (an error, or ``interrupted`` after ``stop``)."""
    stop = stop or threading.Event()
    library = _prepare(cfg)
    links = OpenLinks()
    results: dict[str, WatcherResult] = {}

    def work(entry: WatcherEntry) -> None:
        results[entry.name] = _pull_watcher_once(entry, cfg, library, stop, progress, links, events)

    threads = [threading.Thread(target=work, args=(w,), name=f"pull-{w.name}", daemon=True) for w in cfg.watchers]
    for t in threads:
        t.start()
    _wait_then_cut(threads, stop, links)
    return [results.get(w.name) or WatcherResult(w.name, [], interrupted=True) for w in cfg.watchers]


class _Backoff:
    """Waits between failed attempts: 1 s, doubling, at most ``cap``; reset by a success."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.failures = 0

    def next_wait(self) -> float:
        self.failures += 1
        return min(self.cap, 2.0 ** (self.failures - 1))

    def reset(self) -> int:
        failures, self.failures = self.failures, 0
        return failures


def run_forever(cfg: InspectorConfig, stop: threading.Event, *, progress: Progress | None = None,
                on_pass: Callable[[str, PullStats], None] | None = None,
                events: InspectorEvents | None = None) -> None:
    """Poll every watcher every ``poll_interval_s`` until ``stop``. A failed pass (whatever it
    raised) is logged, recorded and retried with capped backoff on a fresh connection."""
    library = _prepare(cfg)
    links = OpenLinks()

    def loop(entry: WatcherEntry) -> None:
        catalog: Catalog | None = None
        store: RemoteStore | None = None
        backoff = _Backoff(cfg.settings.max_backoff_s)
        last_failure: str | None = None
        try:
            while not stop.is_set():
                try:
                    if catalog is None:
                        catalog = Catalog(library.catalog_path)
                    if store is None:
                        store = open_store(entry, cfg.settings, links=links)
                        logger.info("[%s] connected", entry.name)
                    stats = Puller(entry, library, catalog, store, progress=progress, stop=stop,
                       in_flight=cfg.settings.clips_in_flight).pull_once()
                    record_status(catalog, entry.name, store)
                    catalog.watcher_ok(entry.name)
                    if failures := backoff.reset():
                        logger.info("[%s] recovered after %d failed attempt(s)", entry.name, failures)
                    last_failure = None
                    if events is not None:
                        events.watcher_pass(entry.name, stats, None, catalog)
                    if on_pass:
                        on_pass(entry.name, stats)
                    wait = cfg.settings.poll_interval_s
                except Exception as e:
                    if stop.is_set():
                        logger.info("[%s] interrupted: %s", entry.name, describe(e))
                        break
                    message = describe(e)
                    wait = backoff.next_wait()
                    line = "[%s] pass failed (attempt %d): %s; retrying in %.1f s"
                    args = (entry.name, backoff.failures, message, wait)
                    if isinstance(e, _EXPECTED) or message == last_failure:
                        logger.error(line, *args)
                    else:  # the traceback once per new kind of failure, not once per retry
                        logger.exception(line, *args)
                    last_failure = message
                    _record_error(catalog, library, entry.name, message)
                    if events is not None:
                        events.watcher_pass(entry.name, None, message)
                    _close_quietly(store, entry.name)  # the next attempt starts from a fresh connection
                    _close_quietly(catalog, entry.name)
                    store = catalog = None
                stop.wait(wait)
        finally:
            _close_quietly(store, entry.name)
            _close_quietly(catalog, entry.name)

    threads = [threading.Thread(target=loop, args=(w,), name=f"watch-{w.name}", daemon=True) for w in cfg.watchers]
    for t in threads:
        t.start()
    _wait_then_cut(threads, stop, links)
