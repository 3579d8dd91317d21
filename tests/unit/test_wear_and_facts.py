"""What the watcher reports about the card and the machine: its clip bytes (today, since install; kept
across restarts) and the kernel's facts (boot id, uptime, bytes written to the data disk since boot)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from watcher import system_facts
from watcher.wear import ClipBytes


def test_clip_bytes_count_today_and_since_install_across_restarts_and_days(tmp_path: Path) -> None:
    path = tmp_path / "wear.json"
    day1, day2 = datetime(2026, 12, 1, 23, 0, tzinfo=UTC), datetime(2026, 12, 2, 0, 30, tzinfo=UTC)
    w = ClipBytes(path)
    w.add(1000, day1)
    w.add(500, day1)
    again = ClipBytes(path)  # a restart reads the count back
    assert (again.day, again.today, again.total) == ("2026-12-01", 1500, 1500)
    again.add(200, day2)
    assert (again.today, again.total) == (200, 1700)


def test_a_damaged_count_starts_again(tmp_path: Path) -> None:
    path = tmp_path / "wear.json"
    path.write_text('{"day": "2026-12-01", "today": -5, "total": 3}')
    assert (ClipBytes(path).today, ClipBytes(path).total) == (0, 0)
    path.write_text("not json")
    assert ClipBytes(path).total == 0


def test_the_kernels_facts_here() -> None:
    assert system_facts.boot_id() and len(system_facts.boot_id() or "") == 36
    assert (system_facts.system_uptime_s() or 0) > 0
    root = Path("/")
    written = system_facts.device_written_bytes(root)
    # a real block device under / is listed in /proc/diskstats (an overlay or tmpfs root is not: None)
    assert written is None or written >= 0


def test_the_data_disks_line_in_diskstats(tmp_path: Path) -> None:
    dev = os.stat(tmp_path).st_dev
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "diskstats").write_text(
        "   1       0 ram0 0 0 0 0 0 0 0 0 0 0 0\n"
        f" {os.major(dev):3d} {os.minor(dev):7d} mmcblk0p2 1200 33 90000 450 800 120 4096 900 0 1500 1350\n")
    assert system_facts.device_written_bytes(tmp_path, proc) == 4096 * 512  # field 10: sectors written
    (proc / "diskstats").write_text("   1       0 ram0 0 0 0 0 0 0 0 0 0 0 0\n")
    assert system_facts.device_written_bytes(tmp_path, proc) is None
