"""Deadlines: every network step has one, against real sshds and a real slow/freezable link.
A silent SFTP server, a Pi trickling below the rate floor and a Pi gone silent mid-transfer each
cost their own watcher a bounded time; the other watchers, the analysis and the report go on."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from inspector.catalog import Catalog
from inspector.library import Library
from shared.manifest import sha256_file
from tests.inspector_env import big_clip, copy_clips
from tests.inspector_net import SILENT_SFTP, inspector, inspector_run, progress_line, settings_toml, table, via_link
from tests.netproxy import LinkProxy
from tests.throwaway_sshd import ThrowawaySshd


@pytest.fixture
def silent_sshd(tmp_path_factory):
    """A real sshd that accepts the login and the sftp subsystem, whose SFTP server never says a word."""
    server = ThrowawaySshd(tmp_path_factory.mktemp("silent-sshd"), extra_config=SILENT_SFTP)
    server.start()
    yield server
    server.stop()


def test_silent_sftp_handshake_times_out_and_the_other_watcher_is_pulled(
        tmp_path: Path, sshd, silent_sshd, watcher_clips: Path) -> None:
    good = tmp_path / "pi1" / "recorded_clips"
    copy_clips(watcher_clips, good)
    ids = {p.stem for p in good.glob("*.json")}
    silent = tmp_path / "pi2" / "recorded_clips"
    silent.mkdir(parents=True)
    library = tmp_path / "library"
    cfg = tmp_path / "i.toml"
    connect_timeout = 2.0
    cfg.write_text(settings_toml(library, [
        sshd.watcher_toml("pi1", good),
        table(silent_sshd.watcher_toml("pi2", silent), connect_timeout_s=connect_timeout, io_timeout_s=60.0),
    ]))
    t0 = time.monotonic()
    r = inspector_run("pull", "--no-analyze", "--config", str(cfg), timeout=120)
    took = time.monotonic() - t0
    assert r.returncode == 1, r.stderr[-3000:]
    assert "pi2: FAILED: SFTP handshake timed out after 2 s" in r.stdout, r.stdout
    assert f"pi1: stored {len(ids)}" in r.stdout
    assert took < connect_timeout + 8, f"took {took:.1f} s"  # process start + the good pull + margin
    cat = Catalog(library / "catalog.sqlite3")
    assert {x.clip_id for x in cat.rows("pi1")} == ids and not cat.rows("pi2")
    assert "SFTP handshake timed out" in (cat.summary()["watchers"]["pi2"]["last_error"])  # type: ignore[index]
    cat.close()


def test_a_clip_trickling_below_the_floor_is_abandoned_then_resumed(tmp_path: Path, sshd) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    clips = [big_clip(remote, f"cam1_20261122T08000{i}Z_0001", 400_000, seed=i) for i in range(2)]
    library = tmp_path / "library"
    floor_kb, grace = 100.0, 3.0  # grace: longer than one 32 KiB SSH packet takes on this link
    with LinkProxy(("127.0.0.1", sshd.port), bytes_per_s=25_000) as link:  # a quarter of the floor
        cfg = tmp_path / "slow.toml"
        cfg.write_text(settings_toml(library, [via_link(sshd.watcher_toml("pi", remote), link,
                                                        tmp_path / "known_hosts", io_timeout_s=30.0)],
                                     min_transfer_kbytes_s=floor_kb, transfer_grace_s=grace))
        t0 = time.monotonic()
        r = inspector_run("pull", "--no-analyze", "--config", str(cfg), timeout=120)
        took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr[-3000:]  # abandoned clips are skipped, not a failed watcher
    assert "pi: stored 0, acknowledged 0, quarantined 0, skipped 2" in r.stdout, r.stdout
    lib = Library(library)
    for m in clips:  # both clips: the first one abandoned does not stop the next
        line = next(x for x in r.stderr.splitlines() if f"{m.id}.mp4" in x and "abandoned" in x)
        rate = float(re.search(r"\(([\d.]+) kB/s\)", line).group(1))  # type: ignore[union-attr]
        assert rate < floor_kb, line
        part = lib.part("pi", m.id)
        assert 0 < part.stat().st_size < m.size, "what arrived is kept to resume from"
    assert took < 30, f"took {took:.1f} s"  # each clip gives up after about grace / (1 - rate / floor)

    direct = tmp_path / "direct.toml"
    direct.write_text(settings_toml(library, [sshd.watcher_toml("pi", remote)]))
    r = inspector_run("pull", "--no-analyze", "--config", str(direct))
    assert r.returncode == 0 and r.stderr.count("resuming") == 2, r.stderr[-3000:]
    for m in clips:
        assert sha256_file(lib.final("pi", m.id)) == (m.size, m.sha256)


def test_a_pi_gone_silent_mid_transfer_is_abandoned_in_time_and_the_others_are_analyzed(
        tmp_path: Path, sshd, watcher_clips: Path) -> None:
    frozen = tmp_path / "pi1" / "recorded_clips"
    frozen.mkdir(parents=True)
    big = big_clip(frozen, "cam1_20261122T090000Z_0001", 24 * 1024 * 1024)
    good = tmp_path / "pi2" / "recorded_clips"
    copy_clips(watcher_clips, good)
    ids = {p.stem for p in good.glob("*.json")}
    library = tmp_path / "library"
    io_timeout = 3.0
    with LinkProxy(("127.0.0.1", sshd.port), bytes_per_s=4e6) as link:
        cfg = tmp_path / "i.toml"
        cfg.write_text(settings_toml(library, [
            via_link(sshd.watcher_toml("pi1", frozen), link, tmp_path / "known_hosts", io_timeout_s=io_timeout),
            sshd.watcher_toml("pi2", good),
        ], min_transfer_kbytes_s=1.0, transfer_grace_s=60.0))  # the floor stays out of the way here
        p = inspector("pull", "--workers", "1", "--no-progress", "--config", str(cfg), "--log-level", "DEBUG")
        p.wait_for(progress_line(big.id), timeout=60)  # bytes are flowing
        link.freeze()
        frozen_at = time.monotonic()
        line = p.wait_for("[pi1] read failed", timeout=io_timeout + 30)
        gave_up = time.monotonic() - frozen_at
        rc = p.finish(timeout=300)
    assert gave_up < io_timeout + 2.5, f"gave up {gave_up:.1f} s after the freeze ({line})"
    assert rc == 1, p.log[-20:]
    out = "\n".join(p.log)
    assert "pi1: FAILED: read failed" in out
    assert f"analysis: analyzed {len(ids)}" in out, "analysis ran after the deadline-bounded pass"
    report = (library / "report" / "index.html").read_text()
    assert all(i in report for i in ids)
    cat = Catalog(library / "catalog.sqlite3")
    assert {x.clip_id: x.state for x in cat.rows("pi2")} == dict.fromkeys(ids, "analyzed")
    assert [x.state for x in cat.rows("pi1")] == ["downloading"]
    cat.close()
    assert 0 < Library(library).part("pi1", big.id).stat().st_size < big.size
