"""``python -m inspector cleanup``: stale downloads, quarantine age, library retention."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

from inspector.catalog import Catalog
from inspector.config import load_config
from inspector.fleet import pull_all
from tests.inspector_env import copy_clips, write_config
from tests.proc import ROOT


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inspector", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_library_cleanup(tmp_path: Path, watcher_clips: Path) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    copy_clips(watcher_clips, remote)
    library = tmp_path / "library"
    table = f'[[watcher]]\nname = "pi"\ntransport = "local"\nremote_dir = "{remote}"\n'
    cfg = write_config(tmp_path / "i.toml", library, [table])
    [r] = pull_all(load_config(str(cfg)))
    stored = sorted(r.stats[0].stored)
    assert len(stored) >= 3
    # a stale download, a live one, a fresh one; and an old quarantined clip
    incoming = library / "incoming" / "pi"
    stale, live, fresh = (incoming / f"cam1_20200101T00000{i}Z_0001.mp4.part" for i in range(3))
    for p in (stale, live, fresh):
        p.write_bytes(b"x" * 1000)
    os.utime(stale, (0, 0))
    os.utime(live, (0, 0))
    q = library / "quarantine" / "pi"
    q.mkdir(parents=True)
    (q / "cam1_20200101T000000Z_0009.mp4").write_bytes(b"bad")
    os.utime(q / "cam1_20200101T000000Z_0009.mp4", (0, 0))
    for clip in library.glob("clips/pi/cam1/*/*.mp4"):  # pretend analysis files exist beside the clip
        clip.with_suffix(".analysis.json").write_text("{}")
    # retention: keep only the newest clip by a usage cap of one clip's size
    newest = max(library.glob("clips/pi/cam1/*/*.mp4"), key=lambda p: p.stem)
    cap_gb = (newest.stat().st_size + 5000) / 1024**3
    cfg.write_text(cfg.read_text() + f"\n[cleanup]\nmax_usage_gb = {cap_gb}\n")
    fd = os.open(live, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a download in progress in another inspector
    try:
        before = sorted(str(p) for p in library.rglob("*"))
        dry = cli("cleanup", "--config", str(cfg), "--dry-run", "--json")
        assert dry.returncode == 0, dry.stderr
        d = json.loads(dry.stdout)
        assert d["removed_parts"] == [stale.name] and d["removed_quarantine"] == ["cam1_20200101T000000Z_0009.mp4"]
        assert sorted(d["removed_clips"]) == sorted(set(stored) - {newest.stem})
        assert sorted(str(p) for p in library.rglob("*")) == before, "--dry-run changed something"
        done = cli("cleanup", "--config", str(cfg), "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["removed_clips"] == d["removed_clips"]
    finally:
        os.close(fd)
    assert not stale.exists() and live.exists() and fresh.exists()
    assert not (q / "cam1_20200101T000000Z_0009.mp4").exists()
    left = sorted(p.name for p in library.glob("clips/pi/cam1/*/*"))
    assert left == sorted([newest.name, newest.with_suffix(".json").name, newest.with_suffix(".analysis.json").name])
    cat = Catalog(library / "catalog.sqlite3")
    assert [r.clip_id for r in cat.rows()] == [newest.stem], "catalog row, clip, manifest and analysis go together"
    cat.close()
