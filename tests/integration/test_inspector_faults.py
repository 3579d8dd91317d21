"""Inspector under faults: hostile remotes, a dying sshd, a killed inspector, a full disk."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from inspector.catalog import Catalog
from inspector.config import load_config
from inspector.fleet import open_store, pull_all
from inspector.library import Library
from inspector.puller import Puller
from inspector.remote import RemoteError
from shared.manifest import MAX_MANIFEST_BYTES, sha256_file
from tests.inspector_env import big_clip, can_mount_or_must, copy_clips, tree_files, write_config
from tests.inspector_procs import Pull, pull, via_port, write_config_with
from tests.netproxy import LinkProxy
from tests.proc import ROOT

BIG = 48 * 1024 * 1024


def test_hostile_remote(tmp_path: Path, sshd, watcher_clips: Path) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    copy_clips(watcher_clips, remote)
    good = {p.stem for p in remote.glob("*.json")}
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret")
    r = remote
    # names that do not parse
    (r / "..json").write_text("{}")
    (r / "evil.json").write_text("{}")
    (r / "cam1_20261122T000000Z_0001.json.tmp").write_text("{}")
    # symlinks to outside files, as manifest and as clip
    os.symlink(outside, r / "cam1_20261122T000001Z_0001.json")
    big_clip(r, "cam1_20261122T000002Z_0001", 1000)
    (r / "cam1_20261122T000002Z_0001.mp4").unlink()
    os.symlink(outside, r / "cam1_20261122T000002Z_0001.mp4")
    # oversize manifest
    (r / "cam1_20261122T000003Z_0001.json").write_bytes(b" " * (MAX_MANIFEST_BYTES + 10))
    (r / "cam1_20261122T000003Z_0001.mp4").write_bytes(b"x")
    # malformed manifest
    (r / "cam1_20261122T000004Z_0001.json").write_text('{"schema": 1, "id": "../../etc"}')
    (r / "cam1_20261122T000004Z_0001.mp4").write_bytes(b"x")
    # wrong sha256
    bad = big_clip(r, "cam1_20261122T000005Z_0001", 5000, seed=5)
    (r / "cam1_20261122T000005Z_0001.mp4").write_bytes(os.urandom(5000))
    # clip without manifest, manifest without clip, size mismatch, directory as clip
    (r / "cam1_20261122T000006Z_0001.mp4").write_bytes(b"unfinished")
    big_clip(r, "cam1_20261122T000007Z_0001", 100)
    (r / "cam1_20261122T000007Z_0001.mp4").unlink()
    big_clip(r, "cam1_20261122T000008Z_0001", 100)
    (r / "cam1_20261122T000008Z_0001.mp4").write_bytes(b"short")
    big_clip(r, "cam1_20261122T000009Z_0001", 100)
    (r / "cam1_20261122T000009Z_0001.mp4").unlink()
    (r / "cam1_20261122T000009Z_0001.mp4").mkdir()
    hostile_before = tree_files(r) - {f"{i}.{e}" for i in good for e in ("mp4", "json")}

    library = tmp_path / "library"
    cfg = load_config(str(write_config(tmp_path / "i.toml", library, [sshd.watcher_toml("pi1", remote)])))
    [res] = pull_all(cfg)
    assert res.error is None
    stats = res.stats[0]
    assert set(stats.stored) == good
    assert stats.quarantined == [bad.id]
    skipped = stats.skipped
    for name, why in [("..json", "parse"), ("evil.json", "parse"), ("cam1_20261122T000000Z_0001.json.tmp", "name"),
                      ("cam1_20261122T000001Z_0001.json", "link"), ("cam1_20261122T000002Z_0001.mp4", "link"),
                      ("cam1_20261122T000003Z_0001.json", "cap"), ("cam1_20261122T000004Z_0001.json", "bad manifest"),
                      ("cam1_20261122T000007Z_0001.json", "without its clip"),
                      ("cam1_20261122T000008Z_0001.mp4", "differs"), ("cam1_20261122T000009Z_0001.mp4", "dir")]:
        assert why in skipped.get(name, ""), (name, skipped)
    # the remote keeps every hostile file as it was (the quarantined clip included); good clips archived
    assert tree_files(r) == hostile_before
    assert outside.read_text() == "top secret"
    # nothing outside the library; the quarantined clip is kept locally with its reason
    q = library / "quarantine" / "pi1"
    assert (q / f"{bad.id}.mp4").exists() and "sha256 mismatch" in (q / f"{bad.id}.reason.txt").read_text()
    assert all(str(p.resolve()).startswith(str(library)) for p in library.rglob("*"))
    cat = Catalog(library / "catalog.sqlite3")
    row = cat.get("pi1", bad.id)
    assert row is not None and row.state == "quarantined" and row.attempts == 2 and "sha256" in (row.reason or "")
    cat.close()
    # a second pass does not retry the quarantined clip nor log the same skips again
    [again] = pull_all(cfg)
    assert again.stats[0].quarantined == [] and again.stats[0].stored == []


def test_sshd_killed_mid_transfer_resumes_from_offset(tmp_path: Path, sshd) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    m = big_clip(remote, "cam1_20261122T010000Z_0001", BIG)
    library = tmp_path / "library"
    cfg = load_config(str(write_config(tmp_path / "i.toml", library,
                                       [sshd.watcher_toml("pi1", remote, io_timeout_s=5)])))
    entry = cfg.watchers[0]
    lib = Library(library)
    lib.create()
    catalog = Catalog(lib.catalog_path)
    killed_at: list[int] = []

    def kill_once(_w: str, _c: str, done: int, total: int) -> None:
        if not killed_at and done >= total // 3:
            killed_at.append(done)
            sshd.kill()

    store = open_store(entry)
    with pytest.raises(RemoteError):
        Puller(entry, lib, catalog, store, window=2 * 1024 * 1024, progress=kill_once).pull_once()
    store.close()
    part = lib.part("pi1", m.id)
    offset = part.stat().st_size
    assert killed_at and offset >= killed_at[0] and offset < BIG
    assert (remote / f"{m.id}.mp4").exists(), "nothing removed remotely before a verified copy exists"

    sshd.restart_same_port()
    store = open_store(entry)
    stats = Puller(entry, lib, catalog, store).pull_once()
    store.close()
    assert stats.stored == [m.id]
    assert stats.bytes_transferred == BIG - offset, "resumed from the offset, not from zero"
    assert sha256_file(lib.final("pi1", m.id)) == (m.size, m.sha256)
    assert [r.state for r in catalog.rows()] == ["acked"]
    catalog.close()


def test_inspector_sigkilled_mid_transfer_then_completes(tmp_path: Path, sshd, watcher_clips: Path) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    copy_clips(watcher_clips, remote)
    big = big_clip(remote, "cam1_20261122T020000Z_0001", BIG)
    ids = {p.stem for p in remote.glob("*.json")}
    library = tmp_path / "library"
    cfg = write_config(tmp_path / "i.toml", library, [sshd.watcher_toml("pi1", remote)])
    cmd = [sys.executable, "-m", "inspector", "pull", "--no-analyze", "--config", str(cfg), "--log-level", "DEBUG"]
    p = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert p.stderr is not None
    for line in p.stderr:  # wait until the big clip is partly downloaded
        if f"{big.id}: " in line and "/" in line.rsplit(":", 1)[1]:
            done = int(line.rsplit(":", 1)[1].split("/")[0])
            if done >= BIG // 4:
                p.send_signal(signal.SIGKILL)
                break
    p.wait(timeout=60)
    p.stderr.close()
    assert (remote / f"{big.id}.mp4").exists()
    r = subprocess.run(cmd[:-2], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resuming" in r.stderr
    cat = Catalog(library / "catalog.sqlite3")
    rows = cat.rows()
    cat.close()
    assert sorted(x.clip_id for x in rows) == sorted(ids) and {x.state for x in rows} == {"acked"}
    stored = sorted(p.stem for p in library.rglob("*.mp4") if "incoming" not in p.parts)
    assert stored == sorted(ids), "exactly one copy of each clip"
    assert not list(remote.iterdir())


@pytest.mark.skipif(not can_mount_or_must(), reason="mounting a tmpfs needs root (never skipped in CI)")
def test_local_disk_full_deletes_nothing_and_next_run_completes(tmp_path: Path, sshd) -> None:
    """The clip fits when its download starts (the space check passes), then something else fills
    the disk mid-transfer: the pull fails with "local disk full", deletes nothing, and the next
    run resumes and completes. The link is frozen while the disk is filled, so the order is sure."""
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    m = big_clip(remote, "cam1_20261122T030000Z_0001", 12 * 1024 * 1024)
    library = tmp_path / "library"
    library.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(library)], check=True)
    try:
        with LinkProxy(("127.0.0.1", sshd.port), bytes_per_s=8e6) as link:
            table = via_port(sshd, sshd.watcher_toml("pi1", remote, after_transfer="delete"), link.port)
            cfg = write_config_with(tmp_path / "i.toml", library, [table], reserve_free_mb=0)
            p = Pull.start(cfg, "--log-level", "DEBUG")
            p.wait_for(lambda line: f"{m.id}: " in line and "/" in line)  # the first window is on disk
            link.freeze()
            filler = library / "filler"
            with open(filler, "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * (1 << 20))
                        f.flush()
                except OSError as e:
                    assert e.errno == errno.ENOSPC
            link.thaw()
            r = p.finish()
            assert r.returncode == 1 and "local disk full" in r.stderr, r.stderr[-2000:]
            assert (remote / f"{m.id}.mp4").exists() and (remote / f"{m.id}.json").exists()
            filler.unlink()
            r = pull(cfg)
            assert r.returncode == 0, r.stderr[-2000:]
            assert "resuming" in r.stderr
        assert sha256_file(Library(library).final("pi1", m.id)) == (m.size, m.sha256)
        assert not list(remote.iterdir())
    finally:
        subprocess.run(["umount", "-l", str(library)], check=False)


def test_run_mode_picks_up_a_new_clip_within_the_poll_interval(tmp_path: Path, sshd) -> None:
    import time

    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    library = tmp_path / "library"
    cfg = write_config(tmp_path / "i.toml", library, [sshd.watcher_toml("pi1", remote)], poll_interval_s=0.5)
    p = subprocess.Popen([sys.executable, "-m", "inspector", "run", "--no-analyze", "--config", str(cfg)], cwd=ROOT,
                         stderr=subprocess.PIPE, text=True)
    try:
        assert p.stderr is not None
        for line in p.stderr:
            if "connected" in line:
                break
        # publish like the watcher: clip first, then the manifest (the commit marker)
        staging = tmp_path / "staging"
        staging.mkdir()
        m = big_clip(staging, "cam1_20261122T040000Z_0001", 100_000)
        os.replace(staging / f"{m.id}.mp4", remote / f"{m.id}.mp4")
        os.replace(staging / f"{m.id}.json", remote / f"{m.id}.json")
        published = time.monotonic()
        deadline = published + 0.5 + 1.0
        seen = None
        while time.monotonic() < deadline + 5:  # measure, then judge against poll + 1 s
            if (library / "catalog.sqlite3").exists():
                cat = Catalog(library / "catalog.sqlite3")
                row = cat.get("pi1", m.id)
                cat.close()
                if row is not None and row.state in ("stored", "acked"):
                    seen = time.monotonic()
                    break
            threading.Event().wait(0.02)
        assert seen is not None and seen <= deadline, f"took {None if seen is None else seen - published:.2f} s"
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
    s = json.loads(subprocess.run([sys.executable, "-m", "inspector", "status", "--config", str(cfg), "--json"],
                                  cwd=ROOT, capture_output=True, text=True).stdout)
    assert s["states"] == {"acked": 1}


def test_clip_that_changes_during_transfer_is_skipped_then_taken_when_stable(tmp_path: Path, sshd) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    m = big_clip(remote, "cam1_20261122T050000Z_0001", 8 * 1024 * 1024)
    library = tmp_path / "library"
    cfg = load_config(str(write_config(tmp_path / "i.toml", library, [sshd.watcher_toml("pi1", remote)])))
    entry = cfg.watchers[0]
    lib = Library(library)
    lib.create()
    catalog = Catalog(lib.catalog_path)
    original = (remote / f"{m.id}.mp4").read_bytes()

    def rewrite_once(_w: str, _c: str, done: int, total: int) -> None:
        if done < total and not hasattr(rewrite_once, "done"):
            rewrite_once.done = True  # type: ignore[attr-defined]
            with open(remote / f"{m.id}.mp4", "r+b") as f:  # same size, new mtime
                f.write(b"\xff" * 16)
            os.utime(remote / f"{m.id}.mp4", (1, 1))

    store = open_store(entry)
    stats = Puller(entry, lib, catalog, store, window=1024 * 1024, progress=rewrite_once).pull_once()
    assert "changed during transfer" in stats.skipped[f"{m.id}.mp4"] and not stats.stored
    assert (remote / f"{m.id}.mp4").exists()
    (remote / f"{m.id}.mp4").write_bytes(original)
    stats = Puller(entry, lib, catalog, store).pull_once()
    store.close()
    catalog.close()
    assert stats.stored == [m.id]
