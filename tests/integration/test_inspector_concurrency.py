"""Concurrency: two real inspector processes on one library, pulling from one watcher over a slow
link at the same time, store every clip exactly once, uncorrupted, and acknowledge it once."""

from __future__ import annotations

import re
from pathlib import Path

from inspector.catalog import Catalog
from shared.manifest import sha256_file
from tests.inspector_env import big_clip, tree_files
from tests.inspector_procs import Pull, via_port, write_config_with
from tests.netproxy import LinkProxy

CLIP_BYTES = 10 * 1024 * 1024  # 2.5 windows of 4 MiB: progress lines come mid-clip
CLIPS = 5


def test_two_concurrent_pulls_store_each_clip_once(tmp_path: Path, sshd) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    made = {m.id: m for m in (big_clip(remote, f"cam1_20261122T07{i:02d}00Z_0001", CLIP_BYTES, seed=i)
                              for i in range(CLIPS))}
    first_id = min(made)
    library = tmp_path / "library"
    with LinkProxy(("127.0.0.1", sshd.port), delay_s=0.005, bytes_per_s=12e6) as link:
        # the first process over the slow link, the second straight to sshd: the same library and watcher
        cfg_a = write_config_with(tmp_path / "a.toml", library,
                                  [via_port(sshd, sshd.watcher_toml("pi1", remote, io_timeout_s=120), link.port)])
        cfg_b = write_config_with(tmp_path / "b.toml", library, [sshd.watcher_toml("pi1", remote, io_timeout_s=30)])
        a = Pull.start(cfg_a, "--log-level", "DEBUG")
        # the first process is inside its first download (a .part locked and partly written): its link stalls
        # there while the second runs from start to end, so the second meets the clips the first is downloading
        # however fast either process is (a race otherwise: under load the first finished before the second
        # had listed the clips)
        a.wait_for(lambda line: f"{first_id}: " in line and re.search(r": \d+/\d+ bytes$", line) is not None)
        link.freeze()
        b = Pull.start(cfg_b, "--log-level", "DEBUG")
        b.finish()
        link.thaw()
        a.finish()
    logs = {"a": a, "b": b}
    for name, p in logs.items():
        assert p.returncode == 0, (name, p.stderr[-3000:])
    stored_lines = [line for p in logs.values() for line in p.log if " stored cam1_" in line]
    stored_ids = sorted(re.search(r"stored (\S+)", line)[1] for line in stored_lines)  # type: ignore[index]
    assert stored_ids == sorted(made), "every clip stored exactly once, by one process or the other"
    assert sum(int(re.search(r"stored (\d+)", p.stdout)[1]) for p in logs.values()) == CLIPS  # type: ignore[index]
    # the two really overlapped: the second met a clip the first was downloading
    assert any("being downloaded by another inspector process" in line for line in b.log), b.stderr[-3000:]
    assert all(len(p.log) and not any("Traceback" in x for x in p.log) for p in logs.values())

    for cid, m in made.items():
        found = list(library.glob(f"clips/**/{cid}.mp4"))
        assert len(found) == 1 and sha256_file(found[0]) == (m.size, m.sha256), cid
    cat = Catalog(library / "catalog.sqlite3")
    rows = cat.rows()
    cat.close()
    want = sorted((c, "acked", m.sha256) for c, m in made.items())
    assert sorted((r.clip_id, r.state, r.sha256) for r in rows) == want, "one catalog row each"
    assert not list(remote.iterdir())
    archived = tree_files(tmp_path / "pi" / "transferred")
    assert archived == {f"{c}.{e}" for c in made for e in ("mp4", "json")}, "acknowledged (archived) once each"
    assert not list((library / "incoming" / "pi1").iterdir()), "no download left behind"
    assert not tree_files(library / "quarantine")
