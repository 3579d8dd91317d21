"""Pulling from the whole fleet: one thread, one SSH connection and one SFTP client per watcher,
so a dead or stalled Pi never blocks the others.

Threads: each watcher thread owns its store (SSH connection), its Catalog connection and its
Puller; they share only the library directory (disjoint paths per watcher and clip) and the
stop event. The caller's thread only starts, waits and joins.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from inspector.catalog import Catalog
from inspector.config import InspectorConfig, WatcherEntry
from inspector.library import Library
from inspector.puller import LocalStorageError, Progress, PullStats, Puller
from inspector.remote import LocalStore, RemoteError, RemoteStore

logger = logging.getLogger(__name__)


def open_store(entry: WatcherEntry) -> RemoteStore:
    if entry.transport == "local":
        return LocalStore(entry.remote_dir)
    from inspector.sftp import SftpStore  # paramiko only when SFTP is used

    return SftpStore(entry)


@dataclass
class WatcherResult:
    name: str
    stats: list[PullStats]
    error: str | None = None


def _pull_watcher_once(entry: WatcherEntry, library: Library, stop: threading.Event,
                       progress: Progress | None) -> WatcherResult:
    catalog = Catalog(library.catalog_path)
    try:
        try:
            store = open_store(entry)
        except RemoteError as e:
            catalog.watcher_error(entry.name, str(e))
            logger.error("[%s] %s", entry.name, e)
            return WatcherResult(entry.name, [], str(e))
        try:
            stats = Puller(entry, library, catalog, store, progress=progress, stop=stop).pull_once()
            catalog.watcher_ok(entry.name)
            return WatcherResult(entry.name, [stats])
        except (RemoteError, LocalStorageError) as e:
            catalog.watcher_error(entry.name, str(e))
            logger.error("[%s] %s", entry.name, e)
            return WatcherResult(entry.name, [], str(e))
        finally:
            store.close()
    finally:
        catalog.close()


def pull_all(cfg: InspectorConfig, *, progress: Progress | None = None,
             stop: threading.Event | None = None) -> list[WatcherResult]:
    """Pull from every watcher once, in parallel; return one result per watcher."""
    stop = stop or threading.Event()
    library = Library.for_config(cfg)  # one per process: its watcher threads share the disk reservation
    library.create()
    Catalog(library.catalog_path).close()  # create the schema once, before the threads race to
    results: dict[str, WatcherResult] = {}

    def work(entry: WatcherEntry) -> None:
        results[entry.name] = _pull_watcher_once(entry, library, stop, progress)

    threads = [threading.Thread(target=work, args=(w,), name=f"pull-{w.name}") for w in cfg.watchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [results[w.name] for w in cfg.watchers]


def run_forever(cfg: InspectorConfig, stop: threading.Event, *, progress: Progress | None = None,
                on_pass: Callable[[str, PullStats], None] | None = None) -> None:
    """Poll every watcher every ``poll_interval_s`` until ``stop``; reconnect with capped backoff."""
    library = Library.for_config(cfg)  # one per process: its watcher threads share the disk reservation
    library.create()
    Catalog(library.catalog_path).close()

    def loop(entry: WatcherEntry) -> None:
        catalog = Catalog(library.catalog_path)
        store: RemoteStore | None = None
        backoff = 1.0
        try:
            while not stop.is_set():
                try:
                    if store is None:
                        store = open_store(entry)
                        logger.info("[%s] connected", entry.name)
                    stats = Puller(entry, library, catalog, store, progress=progress, stop=stop).pull_once()
                    catalog.watcher_ok(entry.name)
                    if on_pass:
                        on_pass(entry.name, stats)
                    backoff = 1.0
                    wait = cfg.settings.poll_interval_s
                except (RemoteError, LocalStorageError) as e:
                    catalog.watcher_error(entry.name, str(e))
                    logger.error("[%s] %s; retrying in %.0f s", entry.name, e, backoff)
                    if store is not None:
                        store.close()
                        store = None
                    wait, backoff = backoff, min(backoff * 2, cfg.settings.max_backoff_s)
                stop.wait(wait)
        finally:
            if store is not None:
                store.close()
            catalog.close()

    threads = [threading.Thread(target=loop, args=(w,), name=f"watch-{w.name}") for w in cfg.watchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
