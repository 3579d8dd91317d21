"""SIGKILL the watcher at random moments while it records: recorded_clips/ only ever holds complete,
verified clips, the next start salvages what the dead writer left in temp_clips/, and no clip or
clip id is ever published twice."""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

from shared.naming import parse_clip_id
from tests.clips import verify_recorded
from tests.proc import WatcherProcess

KILLS = 21


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(
        '[watcher]\ncamera = "crash"\nstatus_interval_s = 0.2\n'
        "[trigger]\npre_roll_s = 1.0\npost_roll_s = 1.0\nmax_clip_s = 2.0\n"
        "[encoder]\ngop_s = 0.5\n"
    )
    return cfg


def _kill_at_random_moment(w: WatcherProcess, rng: random.Random, temp: Path) -> str:
    """Wait for a randomly chosen point in the recording cycle, then SIGKILL. Returns what it waited for."""
    w.wait_for("recording", count=rng.randint(1, 3))
    mode = rng.choice(["open", "grown", "published", "lines"])
    if mode == "grown":  # the temp file has grown past a random size
        target = rng.randint(20_000, 400_000)
        while not any(p.stat().st_size >= target for p in temp.glob("*.part") if p.exists()):
            if w.next_line(timeout=0.01) is None and w.proc.poll() is not None:
                break
    elif mode == "published":  # just after a publish: the next clip is opening or idle
        w.wait_for("published")
    elif mode == "lines":  # somewhere in the following log traffic
        for _ in range(rng.randint(1, 4)):
            if w.next_line(timeout=0.05) is None:
                break
    w.proc.send_signal(signal.SIGKILL)
    w.finish()
    return mode


def test_sigkill_never_leaves_a_partial_clip_and_orphans_are_salvaged(tmp_path: Path) -> None:
    rng = random.Random(20261122)
    data = tmp_path / "data"
    temp, recorded = data / "temp_clips", data / "recorded_clips"
    cfg = _config(tmp_path)
    orphans_seen: set[str] = set()
    modes = []
    logs: list[str] = []
    for _ in range(KILLS):
        w = WatcherProcess("--config", str(cfg), "--data-dir", str(data), "--duration", "100000")
        if orphans_seen:
            # the start-up salvage runs before the source opens; wait for it to be done
            w.wait_for("source synthetic")
        modes.append(_kill_at_random_moment(w, rng, temp))
        logs += w.log
        verify_recorded(recorded)  # complete, verified clips only, after every kill
        orphans_seen |= {p.name.removesuffix(".mp4.part") for p in temp.glob("*.mp4.part")}
    assert len(orphans_seen) >= KILLS // 2, f"too few kills landed mid-recording: {modes}"

    # a final clean run salvages the last orphan and exits 0 after --duration
    w = WatcherProcess("--config", str(cfg), "--data-dir", str(data), "--duration", "6")
    assert w.finish() == 0, w.log[-20:]
    logs += w.log
    assert not list(temp.glob("*.part")) and not list(temp.glob("*.tmp"))
    manifests = {m.id: m for m in verify_recorded(recorded)}
    salvaged = {i for i, m in manifests.items() if m.salvaged}
    # every orphan was published as salvaged, or (if nothing in it decoded) removed and said so
    for clip_id in orphans_seen:
        if clip_id not in manifests:
            assert any("removing" in line and clip_id in line for line in logs), f"orphan {clip_id} vanished silently"
    assert salvaged, "no orphan was salvaged"
    for clip_id in salvaged:
        assert any(clip_id in line and ("salvaged" in line or "missing manifest" in line) for line in logs)
    # never a clip twice (a publish resumed or redone after a kill is committed once), never an id twice
    # (every run replays the same synthetic scene, so bytes repeat across runs; a run's start time does not)
    recordings = [(m.sha256, m.started_at) for m in manifests.values()]
    assert len(set(recordings)) == len(recordings), "a clip was published twice"
    seqs = [parse_clip_id(i).seq for i in manifests]
    assert len(set(seqs)) == len(seqs)
    status = json.loads((data / "status.json").read_text())
    assert status["state"] == "stopped"
