"""Cleanup racing the watcher's publish and the inspector's pull, in a loop: nothing is lost or half-removed."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from inspector.config import load_config
from inspector.fleet import pull_all, run_forever
from tests.clips import verify_recorded
from tests.inspector_env import write_config
from tests.proc import WatcherProcess
from watcher.datadir import DataDir
from watcher.maintenance import maintain
from watcher.retention import RetentionSettings


def test_cleanup_publish_and_pull_race(tmp_path: Path) -> None:
    data = tmp_path / "pi"
    cfg = tmp_path / "w.toml"
    cfg.write_text('[watcher]\ncamera = "race"\n[source]\nsynthetic_period_s = 5.0\n'
                   "[trigger]\npre_roll_s = 0.5\npost_roll_s = 0.5\nmax_clip_s = 2.0\n")
    library = tmp_path / "library"
    icfg = load_config(str(write_config(
        tmp_path / "i.toml", library,
        [f'[[watcher]]\nname = "pi"\ntransport = "local"\nremote_dir = "{data / "recorded_clips"}"\n'],
        poll_interval_s=0.1)))
    # archived clips go as soon as they appear (a tiny usage cap); un-transferred ones never (stop_recording)
    retention = RetentionSettings(min_free_mb=0, max_usage_mb=0.001, on_full="stop_recording")
    dirs = DataDir(data)
    dirs.create()

    stop = threading.Event()
    inspector = threading.Thread(target=run_forever, args=(icfg, stop), name="inspector")
    inspector.start()
    passes = 0
    removed: set[str] = set()
    w = WatcherProcess("--config", str(cfg), "--data-dir", str(data), "--duration", "90")
    try:
        while w.proc.poll() is None:  # cleanup in a loop while the watcher publishes and the inspector pulls
            report = maintain(dirs, retention)
            removed |= set(report.retention.removed)
            assert not report.retention.lost_untransferred
            passes += 1
        assert w.finish() == 0, w.log[-20:]
    finally:
        stop.set()
        inspector.join()
    published = {m.group(1) for line in w.log if (m := re.search(r"INFO watcher.clip_writer: published (\S+)", line))}
    assert len(published) >= 10 and passes >= 10, (len(published), passes, w.log[-5:])

    [result] = pull_all(icfg)  # whatever the last poll missed
    assert result.error is None
    maintain(dirs, retention)
    stored = {p.stem for p in library.glob("clips/*/race/*/*.mp4")}
    assert stored == published, f"lost: {published - stored}, unexpected: {stored - published}"
    for day in {p.parent for p in library.glob("clips/*/race/*/*.mp4")}:
        verify_recorded(day)  # every copy complete and verified
    assert removed <= published and removed, "cleanup removed archived clips during the race"
    assert not list(dirs.recorded.iterdir()) and not list(dirs.temp.iterdir())
    assert not list(dirs.transferred.iterdir()), "archived pairs all removed together"
