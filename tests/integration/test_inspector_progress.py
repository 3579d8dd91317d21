"""``inspector pull`` on a terminal: one progress line for the clips in flight, then the summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from inspector.catalog import Catalog
from tests.inspector_env import big_clip, write_config

ROOT = Path(__file__).resolve().parents[2]


def _local(name: str, remote: Path) -> str:
    return f'[[watcher]]\nname = "{name}"\ntransport = "local"\nremote_dir = "{remote}"\n'


def test_pull_on_a_terminal_draws_one_line_for_every_clip_in_flight(tmp_path: Path) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    n = 12
    for i in range(n):
        big_clip(remote, f"cam1_20261201T0000{i:02d}Z_{i + 1:04d}", 3 * 1024 * 1024 + i, seed=i)
    cfg = write_config(tmp_path / "i.toml", tmp_path / "library", [_local("pi1", remote)])
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "inspector", "pull", "--no-analyze", "--config", str(cfg)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=slave, text=True)
        os.close(slave)
        slave = -1
        shown = b""
        while True:  # the terminal's side, read until the process closes it
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer is gone
                break
            if not chunk:
                break
            shown += chunk
        out, _ = proc.communicate(timeout=120)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert proc.returncode == 0, out
    assert f"pi1: stored {n}," in out
    catalog = Catalog(tmp_path / "library" / "catalog.sqlite3")
    try:
        assert sorted(r.state for r in catalog.rows()) == ["acked"] * n
    finally:
        catalog.close()
    text = shown.decode().replace("\r\n", "\n")
    progress = re.compile(r"\[pi1\]( \d+ in flight \d+%)? · \d+ done · [\d.]+ MB *")
    record = re.compile(r"\d{4}-\d\d-\d\d [\d:,]+ (INFO|WARNING) inspector\.\w+: [^\r]*")
    segments = [seg for line in text.split("\n") for seg in line.split("\r") if seg.strip()]
    for seg in segments:  # each a whole progress line or a whole log record: never run together
        assert progress.fullmatch(seg) or record.fullmatch(seg), repr(seg)
    drawn = [seg for seg in segments if progress.fullmatch(seg)]
    assert len(drawn) >= 2 and drawn[-1].rstrip().startswith(f"[pi1] · {n} done · "), drawn[-3:]
    assert any(record.fullmatch(seg) and "stored" in seg for seg in segments), "the log still shows"
    assert text.endswith("\n")
