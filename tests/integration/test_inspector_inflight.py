"""Clips in flight: a watcher's backlog pulled by several workers over one store, with every guarantee
of the one-at-a-time pull (verified before stored, stored before acknowledged, exactly once, resumable).

The last test is end to end: the real inspector process, a real sshd, a slow link cut in the middle.
The others use the real LocalStore (a real directory, real files) wrapped so that clip readers wait until
two clips are open at once: the proof that clips really were in flight together, without timing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from inspector.catalog import DONE_STATES, Catalog
from inspector.config import WatcherEntry
from inspector.library import Library
from inspector.puller import Puller
from inspector.remote import LocalStore, RemoteEntry, RemoteError, RemoteReader
from shared.manifest import Manifest
from tests.inspector_env import big_clip
from tests.inspector_net import inspector, inspector_run, settings_toml, via_link
from tests.netproxy import LinkProxy

WAIT_S = 30.0  # a deadline for the proof of concurrency, never a pause


class _Reader:
    def __init__(self, inner: RemoteReader, store: _InFlight) -> None:
        self._inner = inner
        self._store = store

    def fstat(self) -> tuple[int, float, str]:
        return self._inner.fstat()

    def read_windows(self, offset: int, length: int, window: int) -> Iterator[bytes | memoryview]:
        if not self._store.together.wait(WAIT_S):
            raise AssertionError(f"no second clip was opened within {WAIT_S} s: clips are not in flight together")
        yield from self._inner.read_windows(offset, length, window)

    def close(self) -> None:
        self._inner.close()
        with self._store.lock:
            self._store.open_now -= 1


class _InFlight:
    """LocalStore whose clip readers start reading only once two clips are open at once."""

    max_clips_in_flight = 64

    def __init__(self, inner: LocalStore, *, fail_on: str | None = None, lose_reply_on: str | None = None) -> None:
        self.inner = inner
        self.fail_on = fail_on
        self.lose_reply_on = lose_reply_on
        self.lock = threading.Lock()
        self.together = threading.Event()
        self.open_now = 0
        self.peak = 0

    def list(self) -> Iterator[RemoteEntry]:
        return self.inner.list()

    def open(self, name: str) -> RemoteReader:
        if name == self.fail_on:
            raise RemoteError(f"cannot open {name}: the connection dropped")
        reader = self.inner.open(name)
        if not name.endswith(".mp4"):
            return reader
        with self.lock:
            self.open_now += 1
            self.peak = max(self.peak, self.open_now)
            if self.open_now >= 2:
                self.together.set()
        return _Reader(reader, self)

    def archive(self, name: str) -> None:
        self.inner.archive(name)
        if name == self.lose_reply_on:  # done on the Pi; the link drops before its reply arrives
            raise RemoteError(f"archive {name}: the connection dropped")

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def close(self) -> None:
        self.inner.close()

    def abort(self) -> None:
        self.inner.abort()


def _id(i: int) -> str:
    return f"cam1_20261201T{i // 3600:02d}{i // 60 % 60:02d}{i % 60:02d}Z_{i + 1:04d}"


def _backlog(remote: Path, n: int, size: int = 64 * 1024) -> list[Manifest]:
    remote.mkdir(parents=True)
    return [big_clip(remote, _id(i), size + i, seed=i) for i in range(n)]


def _setup(tmp_path: Path) -> tuple[WatcherEntry, Library, Catalog, Path]:
    remote = tmp_path / "pi" / "recorded_clips"
    entry = WatcherEntry(name="pi1", transport="local", remote_dir=str(remote))
    lib = Library(tmp_path / "library")
    lib.create()
    return entry, lib, Catalog(lib.catalog_path), remote


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_backlog_in_flight_is_stored_verified_and_archived_once(tmp_path: Path) -> None:
    entry, lib, catalog, remote = _setup(tmp_path)
    clips = _backlog(remote, 40)
    store = _InFlight(LocalStore(str(remote)))
    stats = Puller(entry, lib, catalog, store, in_flight=8).pull_once()

    assert store.peak >= 2
    assert sorted(stats.stored) == sorted(stats.acked) == [m.id for m in clips]
    for m in clips:
        final = lib.final("pi1", m.id)
        assert final.stat().st_size == m.size and _sha(final) == m.sha256
        row = catalog.get("pi1", m.id)
        assert row is not None and row.state == "acked"
    assert not list(remote.iterdir()), "everything archived on the watcher"
    assert len(list((remote.parent / "transferred").iterdir())) == 2 * len(clips)
    assert not list((lib.root / "incoming").rglob("*.part"))

    again = Puller(entry, lib, catalog, LocalStore(str(remote)), in_flight=8).pull_once()
    assert again.stored == [] and again.skipped_count == 0


def test_hostile_clips_among_many_in_flight_leave_the_good_ones_stored(tmp_path: Path) -> None:
    entry, lib, catalog, remote = _setup(tmp_path)
    clips = _backlog(remote, 24)
    lying, garbage, directory = clips[3].id, clips[10].id, clips[17].id
    data = bytearray((remote / f"{lying}.mp4").read_bytes())
    data[100] ^= 0xFF  # same size, other bytes: the sha256 does not match the manifest
    (remote / f"{lying}.mp4").write_bytes(bytes(data))
    (remote / f"{garbage}.json").write_bytes(b'{"schema": 1, "id": [' + b"[" * 5000)
    (remote / f"{directory}.mp4").unlink()
    (remote / f"{directory}.mp4").mkdir()

    stats = Puller(entry, lib, catalog, _InFlight(LocalStore(str(remote))), in_flight=6).pull_once()

    good = [m.id for m in clips if m.id not in (lying, garbage, directory)]
    assert sorted(stats.stored) == good
    for clip_id in good:
        assert _sha(lib.final("pi1", clip_id)) == next(m.sha256 for m in clips if m.id == clip_id)
    assert stats.quarantined == [lying]
    assert "sha256 mismatch" in (lib.root / "quarantine" / "pi1" / f"{lying}.reason.txt").read_text()
    assert "bad manifest" in stats.skipped[f"{garbage}.json"]
    assert "not a regular file" in stats.skipped[f"{directory}.mp4"]
    left = {p.name for p in remote.iterdir()}
    assert left == {f"{lying}.mp4", f"{lying}.json", f"{garbage}.mp4", f"{garbage}.json", f"{directory}.mp4",
                    f"{directory}.json"}, "only the good clips are archived"


def test_a_connection_failure_ends_the_pass_and_the_next_pass_takes_the_rest_once(tmp_path: Path) -> None:
    entry, lib, catalog, remote = _setup(tmp_path)
    clips = _backlog(remote, 30)
    broken = _InFlight(LocalStore(str(remote)), fail_on=f"{clips[12].id}.mp4")
    with pytest.raises(RemoteError, match="connection dropped"):
        Puller(entry, lib, catalog, broken, in_flight=4).pull_once()
    first = {m.id for m in clips if (row := catalog.get("pi1", m.id)) is not None and row.state == "acked"}
    assert len(first) < len(clips), "the failure stopped the pass"

    stats = Puller(entry, lib, catalog, LocalStore(str(remote)), in_flight=4).pull_once()
    assert not set(stats.stored) & first, "nothing stored twice"
    assert set(stats.stored) | first == {m.id for m in clips}
    for m in clips:
        assert _sha(lib.final("pi1", m.id)) == m.sha256
    assert not list(remote.iterdir())


def test_an_archive_whose_reply_was_lost_is_acknowledged_by_the_next_whole_listing(tmp_path: Path,
                                                                                   monkeypatch) -> None:
    entry, lib, catalog, remote = _setup(tmp_path)
    clips = _backlog(remote, 6)
    lost = clips[2].id
    (remote / "notes.txt").write_text("not a clip")  # the listing always has a name to stop at
    store = _InFlight(LocalStore(str(remote)), lose_reply_on=f"{lost}.json")
    with pytest.raises(RemoteError, match="connection dropped"):
        Puller(entry, lib, catalog, store, in_flight=3).pull_once()
    row = catalog.get("pi1", lost)
    assert row is not None and row.state == "stored", "stored, its acknowledgement not recorded"
    assert not (remote / f"{lost}.mp4").exists() and not (remote / f"{lost}.json").exists()

    monkeypatch.setattr("inspector.puller.MAX_NAMES_PER_LISTING", 1)  # a listing cut short proves nothing
    Puller(entry, lib, catalog, LocalStore(str(remote)), in_flight=3).pull_once()
    row = catalog.get("pi1", lost)
    assert row is not None and row.state == "stored"

    monkeypatch.undo()
    stats = Puller(entry, lib, catalog, LocalStore(str(remote)), in_flight=3).pull_once()
    assert lost in stats.acked and lost not in stats.stored
    assert {m.id: getattr(catalog.get("pi1", m.id), "state", None) for m in clips} == {m.id: "acked" for m in clips}
    assert [p.name for p in remote.iterdir()] == ["notes.txt"]
    assert _sha(lib.final("pi1", lost)) == clips[2].sha256


def test_a_backlog_through_a_link_cut_midway_arrives_exactly_once(tmp_path: Path, sshd) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    clips = _backlog(remote, 40, size=256 * 1024)
    library = tmp_path / "library"
    with LinkProxy(("127.0.0.1", sshd.port), delay_s=0.01, bytes_per_s=2_000_000) as link:
        slow = tmp_path / "link.toml"
        slow.write_text(settings_toml(library, [via_link(sshd.watcher_toml("pi", remote), link,
                                                         tmp_path / "known_hosts")]))
        pull = inspector("pull", "--no-analyze", "--no-progress", "--config", str(slow))
        pull.wait_for("[pi] stored", count=5, timeout=120)  # clips in flight, some done: cut the link now
        link.drop_all()
        assert pull.finish(timeout=120) == 1, pull.log[-20:]  # the watcher's pass failed, and says so
    catalog = Catalog(library / "catalog.sqlite3")
    try:
        # stored (verified, in the library), acknowledged on the Pi or not yet when the link went down
        first = {m.id for m in clips if (row := catalog.get("pi", m.id)) is not None and row.state in DONE_STATES}
    finally:
        catalog.close()
    assert 5 <= len(first) < len(clips), len(first)

    direct = tmp_path / "direct.toml"
    direct.write_text(settings_toml(library, [sshd.watcher_toml("pi", remote)]))
    r = inspector_run("pull", "--no-analyze", "--config", str(direct))
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"pi: stored {len(clips) - len(first)}," in r.stdout, r.stdout  # the rest, nothing twice
    lib = Library(library)
    catalog = Catalog(library / "catalog.sqlite3")
    try:
        for m in clips:
            row = catalog.get("pi", m.id)
            # also a clip the Pi archived just before the cut, its reply lost: the next whole listing settles it
            assert row is not None and row.state == "acked", m.id
            assert _sha(lib.final("pi", m.id)) == m.sha256
    finally:
        catalog.close()
    assert not list(remote.iterdir())
    assert len(list((remote.parent / "transferred").iterdir())) == 2 * len(clips)
    assert not list((library / "quarantine").rglob("*.mp4")), "no clip was mistaken for a conflict"
