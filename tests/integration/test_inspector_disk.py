"""Disk: a clip larger than max_clip_mb, or than the library's free space minus reserve_free_mb,
is refused before any byte is downloaded, with a reason (pull's log, status), and asked for again
on later passes; the other watchers' clips keep arriving. Real sshd, real processes, real tmpfs."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.catalog import Catalog
from inspector.library import Library
from shared.manifest import sha256_file
from tests.inspector_env import big_clip, can_mount_or_must, tree_files
from tests.inspector_procs import Pull, pull, via_port, write_config_with
from tests.netproxy import LinkProxy
from tests.proc import ROOT

MiB = 1024 * 1024
needs_mount = pytest.mark.skipif(not can_mount_or_must(), reason="mounting a tmpfs needs root (never skipped in CI)")


def sparse_clip(dst: Path, clip_id: str, size: int) -> None:
    """A "clip" that costs the Pi nothing: a sparse file of ``size`` bytes and a manifest claiming it."""
    m = big_clip(dst, clip_id, 16)
    with open(dst / f"{clip_id}.mp4", "r+b") as f:
        f.truncate(size)
    (dst / f"{clip_id}.json").write_bytes(m.model_copy(update={"size": size, "sha256": "ab" * 32}).to_json())


def status(cfg: Path) -> dict:
    r = subprocess.run([sys.executable, "-m", "inspector", "status", "--config", str(cfg), "--json"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    return json.loads(r.stdout)


def line_of(stdout: str, watcher: str) -> str:
    return next(x for x in stdout.splitlines() if x.startswith(f"{watcher}: "))


@pytest.fixture
def tmpfs(tmp_path: Path):
    mounts: list[Path] = []

    def mount(path: Path, size: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
        mounts.append(path)
        return path

    yield mount
    for m in reversed(mounts):
        subprocess.run(["umount", "-l", str(m)], check=False)


def test_a_huge_sparse_clip_is_refused_before_download_while_another_watchers_clips_arrive(
        tmp_path: Path, sshd) -> None:
    flood = tmp_path / "pi1" / "recorded_clips"
    flood.mkdir(parents=True)
    huge = "cam1_20261122T080000Z_0001"
    sparse_clip(flood, huge, 64 * 1024**3)  # 64 GiB claimed, nothing on disk
    normal = tmp_path / "pi2" / "recorded_clips"
    normal.mkdir(parents=True)
    clips = [big_clip(normal, f"cam1_20261122T08{i:02d}30Z_0001", 2 * MiB, seed=i) for i in range(3)]
    library = tmp_path / "library"
    cfg = write_config_with(tmp_path / "i.toml", library,
                            [sshd.watcher_toml("pi1", flood), sshd.watcher_toml("pi2", normal)])
    for _ in range(2):  # refused again on the next pass: not quarantined, not forgotten
        r = pull(cfg)
        assert r.returncode == 0, r.stderr[-3000:]
        assert line_of(r.stdout, "pi1").endswith(" 0 bytes") and "skipped 1" in line_of(r.stdout, "pi1")
        assert any(huge in x and "over max_clip_mb = 4096" in x for x in r.log), r.stderr[-3000:]
        assert not tree_files(library / "incoming" / "pi1"), "not a byte of it downloaded"
        assert (flood / f"{huge}.mp4").stat().st_size == 64 * 1024**3
    for m in clips:
        assert sha256_file(Library(library).final("pi2", m.id)) == (m.size, m.sha256)
    s = status(cfg)
    assert s["watchers"]["pi2"]["states"] == {"acked": 3}
    assert huge in s["watchers"]["pi1"]["last_error"] and "max_clip_mb" in s["watchers"]["pi1"]["last_error"]
    cat = Catalog(library / "catalog.sqlite3")
    assert cat.count_state("quarantined") == 0
    cat.close()


@needs_mount
def test_a_clip_larger_than_free_space_minus_reserve_is_refused_and_taken_once_there_is_room(
        tmp_path: Path, sshd, tmpfs) -> None:
    library = tmpfs(tmp_path / "library", "24m")
    big_remote = tmp_path / "pi1" / "recorded_clips"
    big_remote.mkdir(parents=True)
    big = big_clip(big_remote, "cam1_20261122T090000Z_0001", 18 * MiB, seed=1)
    small_remote = tmp_path / "pi2" / "recorded_clips"
    small_remote.mkdir(parents=True)
    small = [big_clip(small_remote, f"cam1_20261122T09{i:02d}30Z_0001", 1 * MiB, seed=10 + i) for i in range(3)]
    cfg = write_config_with(tmp_path / "i.toml", library,
                            [sshd.watcher_toml("pi1", big_remote), sshd.watcher_toml("pi2", small_remote)],
                            reserve_free_mb=8)
    r = pull(cfg)
    assert r.returncode == 0, r.stderr[-3000:]
    reason = next(x for x in r.log if big.id in x and "needs 18.0 MiB" in x)
    assert "reserve_free_mb = 8" in reason and "MiB free" in reason
    assert line_of(r.stdout, "pi1").endswith(" 0 bytes")
    assert not tree_files(library / "incoming" / "pi1")
    lib = Library(library)
    for m in small:
        assert sha256_file(lib.final("pi2", m.id)) == (m.size, m.sha256)
    assert (big_remote / f"{big.id}.mp4").exists()
    assert "reserve_free_mb" in status(cfg)["watchers"]["pi1"]["last_error"]
    # room again (a bigger disk): the next pass takes it
    subprocess.run(["mount", "-o", "remount,size=64m", str(library)], check=True)
    r = pull(cfg)
    assert r.returncode == 0 and line_of(r.stdout, "pi1").startswith("pi1: stored 1"), r.stderr[-3000:]
    assert sha256_file(lib.final("pi1", big.id)) == (big.size, big.sha256)


@needs_mount
def test_watchers_of_one_process_share_the_free_space(tmp_path: Path, sshd, tmpfs) -> None:
    """Two watchers each offer a clip that fits alone but not both. Each comes over its own slow
    link; once one download is under way its link is frozen, so it stays in flight while the
    other watcher asks: the shared reservation refuses the second clip before download, instead
    of both starting and one failing on a full disk."""
    library = tmpfs(tmp_path / "library", "20m")
    clips, links, tables = {}, {}, []
    with contextlib.ExitStack() as stack:
        for i, name in enumerate(("pi1", "pi2")):
            remote = tmp_path / name / "recorded_clips"
            remote.mkdir(parents=True)
            clips[name] = big_clip(remote, "cam1_20261122T100000Z_0001", 12 * MiB, seed=i)
            links[name] = stack.enter_context(LinkProxy(("127.0.0.1", sshd.port), bytes_per_s=4e6))
            tables.append(via_port(sshd, sshd.watcher_toml(name, remote, io_timeout_s=30), links[name].port))
        cfg = write_config_with(tmp_path / "i.toml", library, tables, reserve_free_mb=0)
        p = Pull.start(cfg, "--log-level", "DEBUG")
        progress = re.compile(r"\[(pi\d)\] cam1_\S+: \d+/\d+ bytes$")
        first = progress.search(p.wait_for(lambda line: progress.search(line) is not None))[1]  # type: ignore[index]
        links[first].freeze()  # its download stays in flight, its reservation held
        other = "pi2" if first == "pi1" else "pi1"
        refused = lambda line: f"[{other}] skipping" in line and "needs 12.0 MiB" in line  # noqa: E731
        refusal = next((x for x in p.log if refused(x)), None) or p.wait_for(refused)  # it may have come first
        links[first].thaw()
        r = p.finish()
    assert r.returncode == 0, r.stderr[-3000:]
    pending = float(re.search(r"([\d.]+) MiB promised to downloads in flight", refusal)[1])  # type: ignore[index]
    assert pending > 0, refusal
    assert line_of(r.stdout, first).startswith(f"{first}: stored 1")
    assert line_of(r.stdout, other).endswith(" 0 bytes") and "skipped 1" in line_of(r.stdout, other)
    assert "local disk full" not in r.stderr
    m = clips[first]
    assert sha256_file(Library(library).final(first, m.id)) == (m.size, m.sha256)
    assert not os.path.exists(Library(library).final(other, m.id))
