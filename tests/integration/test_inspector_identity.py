"""Identity: each watcher's clips are kept apart whatever their camera names, and a stored clip is
never replaced by different bytes (the same bytes again are a no-op). Real sshd, real processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.catalog import Catalog
from inspector.library import ClipConflict, Library
from shared.manifest import sha256_file
from tests.inspector_env import big_clip, tree_files
from tests.inspector_procs import pull, write_config_with
from tests.proc import ROOT

IDS = ["cam1_20261122T060000Z_0001", "cam1_20261122T060100Z_0001", "cam1_20261122T060200Z_0002"]


def rows(library: Path) -> dict[tuple[str, str], tuple[str, int | None, str | None]]:
    cat = Catalog(library / "catalog.sqlite3")
    try:
        return {(r.watcher, r.clip_id): (r.state, r.size, r.sha256) for r in cat.rows()}
    finally:
        cat.close()


def test_two_watchers_with_one_camera_name_and_the_same_ids_are_stored_apart(tmp_path: Path, sshd) -> None:
    made = {}
    tables = []
    for i, name in enumerate(("pi1", "pi2")):
        remote = tmp_path / name / "recorded_clips"
        remote.mkdir(parents=True)
        made[name] = {cid: big_clip(remote, cid, 200_000 + 1000 * i, seed=10 * i + k) for k, cid in enumerate(IDS)}
        tables.append(sshd.watcher_toml(name, remote))
    assert all(made["pi1"][c].sha256 != made["pi2"][c].sha256 for c in IDS)
    library = tmp_path / "library"
    cfg = write_config_with(tmp_path / "i.toml", library, tables)
    r = pull(cfg)
    assert r.returncode == 0, r.stderr[-3000:]
    lib = Library(library)
    got = rows(library)
    for name in ("pi1", "pi2"):
        for cid, m in made[name].items():
            final = lib.final(name, cid)
            assert final.parent == library / "clips" / name / "cam1" / "2026-11-22"
            assert sha256_file(final) == (m.size, m.sha256)
            assert json.loads(final.with_suffix(".json").read_bytes())["sha256"] == m.sha256
            assert got[(name, cid)] == ("acked", m.size, m.sha256)
        assert not list((tmp_path / name / "recorded_clips").iterdir())
    assert len(got) == 2 * len(IDS)
    assert "conflict" not in r.stderr and not tree_files(library / "quarantine")


def test_a_resent_id_with_other_bytes_is_quarantined_and_the_stored_clip_kept(tmp_path: Path, sshd) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    cid = IDS[0]
    first = big_clip(remote, cid, 300_000, seed=1)
    original = (remote / f"{cid}.mp4").read_bytes()
    library = tmp_path / "library"
    cfg = write_config_with(tmp_path / "i.toml", library, [sshd.watcher_toml("pi1", remote, after_transfer="delete")])
    r = pull(cfg)
    assert r.returncode == 0 and "stored 1" in r.stdout, r.stderr[-3000:]
    final = Library(library).final("pi1", cid)
    assert sha256_file(final) == (first.size, first.sha256) and not list(remote.iterdir())

    # the Pi sends the same id again with other bytes (a reset counter, a clock that stepped back)
    second = big_clip(remote, cid, 300_000, seed=2)
    resent = tree_files(remote)
    r = pull(cfg)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "stored 0" in r.stdout and "quarantined 1" in r.stdout, r.stdout
    assert sha256_file(final) == (first.size, first.sha256), "the stored clip is never replaced"
    assert final.read_bytes() == original
    assert json.loads(final.with_suffix(".json").read_bytes())["sha256"] == first.sha256
    assert rows(library)[("pi1", cid)] == ("acked", first.size, first.sha256), "the catalog keeps the stored sha"
    assert tree_files(remote) == resent, "the watcher's copy is left alone"
    q = library / "quarantine" / "pi1"
    kept = q / f"{cid}.conflict-{second.sha256[:16]}.mp4"
    assert sha256_file(kept) == (second.size, second.sha256)
    reason = kept.with_name(kept.name.replace(".mp4", ".reason.txt")).read_text()
    assert str(final) in reason and first.sha256 in reason and second.sha256 in reason
    assert any("quarantined" in line and "conflicts with the stored clip" in line for line in r.log)

    # next pass: recognized, not downloaded again, still left alone
    r = pull(cfg)
    assert r.returncode == 0 and "quarantined 0" in r.stdout and " 0 bytes" in r.stdout, r.stdout
    assert tree_files(remote) == resent and final.read_bytes() == original
    assert len(list(q.glob("*.mp4"))) == 1

    # the same bytes as the stored clip again: a no-op that clears the watcher's copy
    shutil.rmtree(remote)
    remote.mkdir()
    again = big_clip(remote, cid, 300_000, seed=1)
    assert again.sha256 == first.sha256
    r = pull(cfg)
    assert r.returncode == 0 and "stored 0" in r.stdout and "acknowledged 1" in r.stdout, r.stdout
    assert " 0 bytes" in r.stdout and not list(remote.iterdir())
    assert final.read_bytes() == original and rows(library)[("pi1", cid)][2] == first.sha256


def test_a_stored_but_uncataloged_clip_keeps_its_own_sha_when_other_bytes_arrive(tmp_path: Path, sshd) -> None:
    """A crash between placing a clip and updating the catalog leaves a 'downloading' row; if the
    watcher then offers other bytes under that id, the row must end up with the stored file's sha."""
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    cid = IDS[1]
    first = big_clip(remote, cid, 250_000, seed=3)
    library = tmp_path / "library"
    cfg = write_config_with(tmp_path / "i.toml", library, [sshd.watcher_toml("pi1", remote)])
    assert pull(cfg).returncode == 0
    cat = Catalog(library / "catalog.sqlite3")  # as if the catalog update had not happened
    cat.db.execute("UPDATE clips SET state='downloading', local_path=NULL WHERE clip_id=?", (cid,))
    cat.close()
    second = big_clip(remote, cid, 250_000, seed=4)
    r = pull(cfg)
    assert r.returncode == 0 and "quarantined 1" in r.stdout, r.stderr[-3000:]
    final = Library(library).final("pi1", cid)
    assert sha256_file(final) == (first.size, first.sha256)
    state, size, sha = rows(library)[("pi1", cid)]
    assert state == "stored" and (size, sha) == (first.size, first.sha256)
    assert (remote / f"{cid}.mp4").exists() and sha256_file(remote / f"{cid}.mp4")[1] == second.sha256


def test_a_leftover_part_linked_to_a_stored_clip_is_never_written_through(tmp_path: Path, sshd) -> None:
    """An inspector killed between placing a clip and removing its .part leaves the .part as a
    second name of the stored clip. Reusing it for another download would truncate the stored
    clip; it must be dropped instead."""
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    cid = IDS[2]
    first = big_clip(remote, cid, 400_000, seed=5)
    library = tmp_path / "library"
    cfg = write_config_with(tmp_path / "i.toml", library, [sshd.watcher_toml("pi1", remote, after_transfer="delete")])
    assert pull(cfg).returncode == 0
    lib = Library(library)
    final, part = lib.final("pi1", cid), lib.part("pi1", cid)
    os.link(final, part)  # what the killed inspector left
    big_clip(remote, cid, 400_000, seed=6)  # other bytes under the same id: downloaded into a .part
    r = pull(cfg)
    assert r.returncode == 0 and "quarantined 1" in r.stdout, r.stderr[-3000:]
    assert sha256_file(final) == (first.size, first.sha256), "the stored clip was written through its .part"
    assert not part.exists()


def test_store_never_replaces_a_file(tmp_path: Path) -> None:
    lib = Library(tmp_path / "library")
    lib.create()
    cid = IDS[2]
    part = lib.part("pi1", cid)
    part.write_bytes(b"a" * 1000)
    final = lib.store("pi1", part, cid, b"{}", sha256_file(part))
    assert final.read_bytes() == b"a" * 1000 and os.path.samefile(part, final)  # the caller removes the .part
    part.unlink()
    part.write_bytes(b"a" * 1000)  # the same bytes again: a no-op
    assert lib.store("pi1", part, cid, b"{}", sha256_file(part)) == final and not os.path.samefile(part, final)
    part.unlink()
    part.write_bytes(b"b" * 1000)  # different bytes: refused, both kept
    with pytest.raises(ClipConflict) as e:
        lib.store("pi1", part, cid, b"{}", sha256_file(part))
    assert e.value.stored == final and final.read_bytes() == b"a" * 1000 and part.read_bytes() == b"b" * 1000
    assert os.stat(final).st_nlink == 1


def test_status_and_catalog_for_two_watchers_are_separate(tmp_path: Path, sshd) -> None:
    """`status` counts each watcher's clips on its own line, though both cameras are called cam1."""
    tables = []
    for i, name in enumerate(("pi1", "pi2")):
        remote = tmp_path / name / "recorded_clips"
        remote.mkdir(parents=True)
        big_clip(remote, IDS[0], 10_000, seed=i)
        tables.append(sshd.watcher_toml(name, remote))
    cfg = write_config_with(tmp_path / "i.toml", tmp_path / "library", tables)
    assert pull(cfg).returncode == 0
    s = json.loads(subprocess.run([sys.executable, "-m", "inspector", "status", "--config", str(cfg), "--json"],
                                  cwd=ROOT, capture_output=True, text=True, timeout=60).stdout)
    assert s["watchers"]["pi1"]["states"] == {"acked": 1} and s["watchers"]["pi2"]["states"] == {"acked": 1}
