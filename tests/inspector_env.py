"""Building blocks for inspector tests: a real sshd, real watcher clips, a config file."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.manifest import Manifest, utc_iso
from watcher.config import GeneralSettings, WatcherConfig
from watcher.pipeline import run_watcher
from watcher.sources.synthetic import SyntheticSource


def make_watcher_clips(data_dir: Path, *, camera: str = "cam1", seconds: float = 45.0) -> list[Manifest]:
    """Run the real watcher on the synthetic scene; return the published manifests."""
    cfg = WatcherConfig(watcher=GeneralSettings(data_dir=str(data_dir), camera=camera))
    return run_watcher(cfg, source=SyntheticSource(seed=11, duration_s=seconds, first_event_s=2.0,
                                                   event_period_s=14.0)).clips


def copy_clips(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        shutil.copy2(f, dst / f.name)


def big_clip(dst: Path, clip_id: str, size: int, seed: int = 0) -> Manifest:
    """A large 'clip' (random bytes; pulling never decodes) with a valid manifest, for transfer tests."""
    import numpy as np

    data = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    (dst / f"{clip_id}.mp4").write_bytes(data)
    now = datetime.now(UTC)
    m = Manifest(id=clip_id, camera=clip_id.split("_")[0], file=f"{clip_id}.mp4", size=size,
                 sha256=hashlib.sha256(data).hexdigest(), codec="h264", width=640, height=360, fps=15.0,
                 frames=100, started_at=utc_iso(now), ended_at=utc_iso(now + timedelta(seconds=6.6)), media_start_s=0.0,
                 media_end_s=6.6, motion_start_s=1.0, motion_end_s=2.0, peak_motion=0.1, salvaged=False, duration_s=6.7)
    (dst / f"{clip_id}.json").write_bytes(m.to_json())
    return m


def utc_iso_now() -> str:
    from datetime import datetime

    return utc_iso(datetime.now(UTC))


def write_config(path: Path, library: Path, watcher_tables: list[str], poll_interval_s: float = 30.0) -> Path:
    path.write_text(f'library = "{library}"\npoll_interval_s = {poll_interval_s}\n\n' + "\n".join(watcher_tables))
    return path


def tree_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def running_as_root() -> bool:
    return os.geteuid() == 0


def can_mount_or_must() -> bool:
    """tmpfs tests run as root; in CI (CI=true, which runs as root) they must never be skipped."""
    return running_as_root() or bool(os.environ.get("CI"))
