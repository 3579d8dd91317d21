"""A damaged or lost catalog is a clear error for every command, and ``catalog rebuild`` restores it
from the library's files: real pulled clips (the real watcher's, pulled by the real puller), real
SQLite damaged the ways disks do it, real ``python -m inspector`` processes.

The library: pi1's clips pulled and analyzed; pi2's clips (the same ids: another Pi left at the same
camera name) pulled and acknowledged, not analyzed, and a third quarantined by the puller for a
sha256 mismatch. So the rebuild has all three labels to get right: analyzed, stored, quarantined.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.catalog import Catalog
from inspector.catalog_guard import hold_exclusive
from inspector.config import load_config
from inspector.fleet import pull_all
from shared.manifest import parse_manifest
from tests.inspector_env import copy_clips, write_config
from tests.integration.test_analysis import analyzed_session, copy_library, local_watcher, synthetic_session
from tests.proc import ROOT, WatcherProcess


def inspector(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inspector", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONUNBUFFERED="1"))


def rows(library: Path) -> dict[tuple[str, str], tuple]:
    db = sqlite3.connect(library / "catalog.sqlite3")
    try:
        return {(w, c): tuple(rest) for w, c, *rest in db.execute(
            "SELECT watcher, clip_id, state, size, sha256, started_at, ended_at, analyzer_version, duration_s, "
            "people_peak, motion_peak, motion_s, reason FROM clips")}
    finally:
        db.close()


@pytest.fixture(scope="module")
def pulled(tmp_path_factory) -> tuple[Path, Path]:
    """(library, config): pi1's clips analyzed; pi2's (the same ids) acked, plus one quarantined;
    every catalog connection closed."""
    tmp = tmp_path_factory.mktemp("rebuild")
    library = copy_library(analyzed_session(tmp_path_factory), tmp / "library")
    _, _, recorded = synthetic_session(tmp_path_factory)
    pi1, pi2 = tmp / "pi1" / "recorded_clips", tmp / "pi2" / "recorded_clips"
    pi1.mkdir(parents=True)  # pi1's clips are in the library already: its Pi has nothing new
    copy_clips(recorded, pi2)  # pi2 has the same clip ids: another Pi left at the same camera name
    src = sorted(pi2.glob("*.mp4"))[0]
    m = parse_manifest(src.with_suffix(".json").read_bytes())
    bad_id = m.id[:-4] + "0099"
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes: the puller quarantines it
    (pi2 / f"{bad_id}.mp4").write_bytes(bytes(data))
    (pi2 / f"{bad_id}.json").write_bytes(m.model_copy(update={"id": bad_id, "file": f"{bad_id}.mp4"}).to_json())
    cfg = write_config(tmp / "inspector.toml", library, [local_watcher("pi1", pi1), local_watcher("pi2", pi2)])
    results = pull_all(load_config(str(cfg)))
    assert [r.error for r in results] == [None, None]
    assert len(results[1].stats[0].quarantined) == 1 and results[1].stats[0].stored
    return library, cfg


def expected_after_rebuild(before: dict) -> dict:
    """What a rebuild must restore: the same rows, 'acked' coming back as 'stored'."""
    return {k: (("stored",) if v[0] == "acked" else v[:1]) + v[1:] for k, v in before.items()}


def page_size(path: Path) -> int:
    raw = int.from_bytes(path.read_bytes()[16:18], "big")
    return 65536 if raw == 1 else raw


DAMAGE = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2]),
    "zeroed": lambda p: p.write_bytes(bytes(p.stat().st_size)),
    "garbage": lambda p: p.write_bytes(os.urandom(p.stat().st_size)),
    "malformed-page": lambda p: _overwrite(p, page_size(p), b"\xff" * 64),  # page 2's b-tree header
    "zero-bytes": lambda p: p.write_bytes(b""),
    "missing": lambda p: p.unlink(),
}


def _overwrite(p: Path, offset: int, data: bytes) -> None:
    with open(p, "r+b") as f:
        f.seek(offset)
        f.write(data)


def damaged_copy(pulled: tuple[Path, Path], tmp: Path, how: str) -> tuple[Path, Path, bytes | None]:
    """A copy of the library (and a config naming it) with its catalog damaged ``how``; the damaged bytes."""
    library = copy_library(pulled[0], tmp / "library")
    cfg = tmp / "inspector.toml"
    cfg.write_text(pulled[1].read_text().replace(str(pulled[0]), str(library)))
    cat = library / "catalog.sqlite3"
    assert not Path(f"{cat}-wal").exists(), "the catalog was closed cleanly (checkpointed)"
    DAMAGE[how](cat)
    return library, cfg, cat.read_bytes() if cat.exists() else None


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_a_damaged_or_lost_catalog_is_a_clear_error_not_a_traceback(pulled, tmp_path: Path, how: str) -> None:
    library, cfg, _ = damaged_copy(pulled, tmp_path, how)
    commands = [["status"]] if how not in ("truncated", "missing") else [
        ["status"], ["pull", "--no-analyze"], ["run", "--no-analyze"], ["cleanup", "--dry-run"],
        ["analyze"], ["report"]]
    for command in commands:
        r = inspector(*command, "--config", str(cfg))
        out = r.stdout + r.stderr
        assert r.returncode == 65, (command, r.returncode, out[-2000:])
        assert "Traceback" not in out, out
        what = "is missing" if how == "missing" else "is empty (0 bytes)" if how == "zero-bytes" else "is damaged"
        assert f"{library / 'catalog.sqlite3'} {what}" in out and "catalog rebuild --config" in out, out
    assert sorted(p.name for p in library.glob("catalog.sqlite3*")) == (
        [] if how == "missing" else ["catalog.sqlite3"]), "refused without touching it"


def test_a_brand_new_library_starts_fresh(tmp_path: Path) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    library = tmp_path / "library"
    cfg = write_config(tmp_path / "i.toml", library, [local_watcher("pi1", remote)])
    assert inspector("status", "--config", str(cfg)).returncode == 0
    r = inspector("pull", "--no-analyze", "--config", str(cfg))
    assert r.returncode == 0 and (library / "catalog.sqlite3").stat().st_size > 0, r.stderr[-2000:]
    (library / "catalog.sqlite3").write_bytes(b"")  # 0 bytes beside a library with no clips: still fresh
    assert inspector("status", "--config", str(cfg)).returncode == 0


@pytest.mark.parametrize("how", ["truncated", "zeroed", "garbage"])
def test_rebuild_restores_every_clip_with_its_state_then_status_and_report_show_them(pulled, tmp_path: Path,
                                                                                    how: str) -> None:
    before = rows(pulled[0])
    assert {v[0] for v in before.values()} == {"analyzed", "acked", "quarantined"}
    library, cfg, damaged = damaged_copy(pulled, tmp_path, how)
    r = inspector("catalog", "rebuild", "--config", str(cfg))
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert "catalog rebuilt: analyzed=" in r.stdout and "Traceback" not in r.stderr
    assert rows(library) == expected_after_rebuild(before)
    aside = sorted(library.glob("catalog.sqlite3.aside-*"))
    assert [p.read_bytes() for p in aside] == [damaged], "the damaged catalog is kept aside, as it was"
    assert not list(library.glob(".catalog.rebuild-*")) and not Path(f"{library}/catalog.sqlite3-wal").exists()

    status = inspector("status", "--json", "--config", str(cfg))
    assert status.returncode == 0, status.stderr[-2000:]
    per = {w: d["states"] for w, d in json.loads(status.stdout)["watchers"].items()}
    n = sum(1 for k in before if k[0] == "pi1")
    assert per == {"pi1": {"analyzed": n}, "pi2": {"stored": n, "quarantined": 1}}

    report = inspector("report", "--config", str(cfg))
    assert report.returncode == 0, report.stderr[-2000:]
    index = (library / "report" / "index.html").read_text()
    shown = re.findall(r'data-clip="([^"]+)" data-watcher="([^"]+)"', index)
    assert sorted((w, c) for c, w in shown) == sorted(k for k, v in before.items() if v[0] == "analyzed")
    assert f"{n} waiting for analysis" in index and "1 quarantined" in index
    quarantined = next(k for k, v in before.items() if v[0] == "quarantined")
    assert before[quarantined][-1] in index, "the quarantine reason comes back from its .reason.txt"

    again = inspector("pull", "--no-analyze", "--config", str(cfg))  # the quarantined clip is not fetched again
    assert again.returncode == 0 and "pi2: stored 0" in again.stdout, again.stdout + again.stderr[-2000:]
    assert rows(library) == before, "the Pis list none of the stored clips: all acknowledged again"


def test_rebuild_quarantines_clips_that_do_not_match_their_manifest(pulled, tmp_path: Path) -> None:
    library, cfg, _ = damaged_copy(pulled, tmp_path, "garbage")
    clips = sorted(library.glob("clips/pi2/*/*/*.mp4"))
    flipped, orphan = clips[0], clips[1]
    data = bytearray(flipped.read_bytes())
    data[100] ^= 0x01  # bit rot: same size, other bytes
    flipped.write_bytes(bytes(data))
    orphan.with_suffix(".json").unlink()
    stray = library / "clips" / "pi2" / "notes.txt"
    stray.write_text("not ours")
    r = inspector("catalog", "rebuild", "--config", str(cfg))
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"quarantined pi2/{flipped.stem}: sha256" in r.stdout
    assert f"quarantined pi2/{orphan.stem}: its manifest is missing" in r.stdout
    assert "left alone: clips/pi2/notes.txt" in r.stdout and stray.exists()
    after = rows(library)
    for clip in (flipped, orphan):
        assert after[("pi2", clip.stem)][0] == "quarantined" and not clip.exists()
        q = library / "quarantine" / "pi2"
        assert (q / clip.name).exists() and "catalog rebuild:" in (q / f"{clip.stem}.reason.txt").read_text()
    assert (library / "quarantine" / "pi2" / f"{flipped.stem}.json").exists(), "its manifest went with it"
    check = inspector("catalog", "check", "--verify", "--config", str(cfg))
    assert check.returncode == 0 and "all in agreement" in check.stdout, check.stdout + check.stderr[-2000:]


def test_catalog_check_reports_damage_and_disagreement(pulled, tmp_path: Path) -> None:
    library, cfg, _ = damaged_copy(pulled, tmp_path, "malformed-page")
    r = inspector("catalog", "check", "--config", str(cfg))
    assert r.returncode == 65 and "is damaged" in r.stdout and "catalog rebuild" in r.stdout, r.stdout + r.stderr
    assert inspector("catalog", "rebuild", "--config", str(cfg)).returncode == 0
    assert inspector("catalog", "check", "--config", str(cfg)).returncode == 0
    gone = sorted(library.glob("clips/pi1/*/*/*.mp4"))[0]
    gone.unlink()
    r = inspector("catalog", "check", "--config", str(cfg))
    assert r.returncode == 1 and f"pi1/{gone.stem}: the catalog says analyzed but its file is missing" in r.stdout


def test_rebuild_refuses_while_an_inspector_runs_and_commands_wait_out_a_rebuild(pulled, tmp_path: Path) -> None:
    library, cfg, _ = damaged_copy(pulled, tmp_path, "zeroed")
    assert inspector("catalog", "rebuild", "--config", str(cfg)).returncode == 0
    run = WatcherProcess("run", "--no-analyze", "--config", str(cfg), module="inspector")
    try:
        run.wait_for("[pi2] connected")  # its pulling threads have the catalog open
        r = inspector("catalog", "rebuild", "--wait", "0.5", "--config", str(cfg))
        assert r.returncode == 75, r.stdout + r.stderr
        assert f"pid {run.proc.pid} (" in r.stderr and "inspector run" in r.stderr, r.stderr
        assert not list(library.glob("catalog.sqlite3.aside-*"))[1:], "nothing moved aside by the refused one"
    finally:
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=30) == 0
    with hold_exclusive(library):  # as a rebuild holds it: others refuse at once, and say why
        r = inspector("status", "--config", str(cfg))
        assert r.returncode == 75 and "being rebuilt" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert inspector("catalog", "rebuild", "--config", str(cfg)).returncode == 0
    cat = Catalog(library / "catalog.sqlite3")
    try:
        assert cat.summary()["states"].keys() == {"analyzed", "stored", "quarantined"}
    finally:
        cat.close()
