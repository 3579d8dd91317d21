"""The cleanup command: live temp files are untouchable, orphans salvaged, retention, dry-run."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.naming import make_clip_id
from tests.clips import verify_recorded
from tests.proc import ROOT, WatcherProcess


def cleanup_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher.cleanup", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "maintenance.lock"}


def test_live_writer_is_left_alone_then_salvaged_after_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "d"
    w = WatcherProcess("--data-dir", str(data), "--realtime")  # a real writer in another process
    line = w.wait_for("recording")
    clip_id = line.rsplit(" ", 1)[1]
    part = data / "temp_clips" / f"{clip_id}.mp4.part"
    os.utime(part, (0, 0))  # as old as can be: age must not matter, only the lock
    r = cleanup_cli("--data-dir", str(data), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["skipped_live"] == [clip_id] and summary["salvaged"] == [] and part.exists()
    w.proc.send_signal(signal.SIGKILL)
    w.finish()
    r = cleanup_cli("--data-dir", str(data), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["salvaged"] == [clip_id]
    [m] = verify_recorded(data / "recorded_clips")
    assert m.id == clip_id and m.salvaged and not part.exists()


def make_clip(folder: Path, camera: str, started: datetime, seq: int, src: Path) -> str:
    clip_id = make_clip_id(camera, started, seq)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, folder / f"{clip_id}.mp4")
    (folder / f"{clip_id}.json").write_text("{}")
    return clip_id


def test_retention_and_dry_run(tmp_path: Path, watcher_clips: Path) -> None:
    data = tmp_path / "d"
    sample = next(watcher_clips.glob("*.mp4"))
    size = sample.stat().st_size + 2
    now = datetime.now(UTC)
    old_archived = make_clip(data / "transferred", "cam1", now - timedelta(days=30), 1, sample)
    new_archived = make_clip(data / "transferred", "cam1", now - timedelta(hours=1), 2, sample)
    oldest_pending = make_clip(data / "recorded_clips", "cam1", now - timedelta(days=2), 3, sample)
    newer_pending = make_clip(data / "recorded_clips", "cam1", now - timedelta(hours=2), 4, sample)
    (data / "temp_clips").mkdir()
    (data / "temp_clips" / "cam1_20261122T000000Z_0009.mp4.part").write_bytes(b"garbage")
    cap_mb = (2 * size) / (1024 * 1024)  # room for two clips
    cfg = tmp_path / "w.toml"
    cfg.write_text(f"[retention]\nkeep_transferred_days = 7\nmin_free_mb = 0\nmax_usage_mb = {cap_mb}\n")
    before = snapshot(data)
    r = cleanup_cli("--config", str(cfg), "--data-dir", str(data), "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["dry_run"] and plan["removed"] == [old_archived, new_archived]
    assert plan["removed_temp"] == ["cam1_20261122T000000Z_0009"] or plan["salvaged"]
    assert snapshot(data) == before, "--dry-run changed something"

    r = cleanup_cli("--config", str(cfg), "--data-dir", str(data), "--json")
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout)
    assert done["removed"] == [old_archived, new_archived] and done["freed_bytes"] == 2 * size
    assert done["removed_temp"] == ["cam1_20261122T000000Z_0009"] and done["kept"] == 2
    assert {p.stem for p in (data / "recorded_clips").glob("*.mp4")} == {oldest_pending, newer_pending}

    # a smaller cap: only un-transferred clips are left, delete_oldest takes the oldest, loudly
    cfg.write_text(f"[retention]\nmin_free_mb = 0\nmax_usage_mb = {size / (1024 * 1024)}\n")
    r = cleanup_cli("--config", str(cfg), "--data-dir", str(data), "--json")
    assert json.loads(r.stdout)["lost_untransferred"] == [oldest_pending]
    assert "NO inspector has copied" in r.stderr and oldest_pending in r.stderr
    # stop_recording never removes un-transferred clips; it reports the shortfall (exit 1)
    cfg.write_text("[retention]\nmin_free_mb = 0\nmax_usage_mb = 0.001\non_full = 'stop_recording'\n")
    r = cleanup_cli("--config", str(cfg), "--data-dir", str(data), "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["removed"] == []
    assert (data / "recorded_clips" / f"{newer_pending}.mp4").exists()


def test_bad_config_and_missing_dir(tmp_path: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text("[retention]\non_full = 'panic'\n")
    r = cleanup_cli("--config", str(cfg), "--data-dir", str(tmp_path))
    assert r.returncode == 78 and "retention.on_full" in r.stderr
    r = cleanup_cli("--data-dir", str(tmp_path / "nope"))
    assert r.returncode == 66 and "does not exist" in r.stderr
