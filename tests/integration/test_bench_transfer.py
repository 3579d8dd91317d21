"""``python -m tests.bench transfer`` at tiny sizes, so the benchmark cannot rot: every part runs
(loopback, the proxied link, the peak RSS), every tool's transfer is checked by the benchmark
itself, the last line is the JSON with every key, and nothing is left behind."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from tests.bench import transfer
from tests.throwaway_sshd import _descendants

TOOL_KEYS = {"big_MBps": {"inspector", "sftp", "scp", "rsync"}, "backlog_clips_per_s": {"inspector", "rsync"}}


def test_transfer_benchmark_tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the benchmark makes its temp dir
    before = set(_descendants(os.getpid()))
    result = transfer.main(["--big-mb", "2", "--backlog", "5", "--repeat", "1", "--rss-mb", "2,3",
                            "--rtt-ms", "10", "--mbit", "80"])
    print(json.dumps(result))  # as tests.bench's __main__ does
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("big_ratio", "backlog_ratio", "link_big_ratio", "link_backlog_ratio"):
        assert isinstance(last[key], float) and last[key] > 0, key
    assert set(last["rss_kb"]) == {"2", "3"} and all(kb > 0 for kb in last["rss_kb"].values())
    for prefix in ("", "link_"):
        for key, tools in TOOL_KEYS.items():
            assert set(last[prefix + key]) == tools and all(v > 0 for v in last[prefix + key].values())
    assert not list(tmp_path.iterdir()), "the benchmark's temp dir is removed"
    assert set(_descendants(os.getpid())) <= before, "sshd and the link proxy are stopped"
