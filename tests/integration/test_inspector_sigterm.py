"""SIGTERM ends ``pull`` and ``run`` within a few seconds whatever the remotes do (a silent SFTP
handshake, a frozen link mid-transfer); the catalog stays consistent and the next pull resumes."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from inspector.catalog import Catalog
from inspector.library import Library
from shared.manifest import sha256_file
from tests.inspector_env import big_clip
from tests.inspector_net import SILENT_SFTP, inspector, inspector_run, progress_line, settings_toml, table, via_link
from tests.netproxy import LinkProxy
from tests.throwaway_sshd import ThrowawaySshd

EXIT_WITHIN_S = 10.0
LONG = 120.0  # every remote timeout in these tests: only the signal can end them in time


def _sigterm_and_time(p) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    p.proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    rc = p.finish(timeout=60)
    return rc, time.monotonic() - t0


def test_sigterm_ends_pull_blocked_on_a_silent_sftp_handshake(tmp_path: Path) -> None:
    silent = ThrowawaySshd(tmp_path / "sshd", extra_config=SILENT_SFTP)
    silent.start()
    try:
        remote = tmp_path / "pi" / "recorded_clips"
        remote.mkdir(parents=True)
        cfg = tmp_path / "i.toml"
        cfg.write_text(settings_toml(tmp_path / "library", [
            table(silent.watcher_toml("pi", remote), connect_timeout_s=LONG, io_timeout_s=LONG)]))
        p = inspector("pull", "--no-analyze", "--config", str(cfg), "--log-level", "DEBUG")
        p.wait_for("[pi] ssh session up; starting the SFTP session", timeout=60)
        rc, took = _sigterm_and_time(p)
    finally:
        silent.stop()
    assert took < EXIT_WITHIN_S, f"exit took {took:.1f} s"
    assert rc == 75, p.log[-10:]  # stopped with work left
    assert any(line.startswith("pi: interrupted") for line in p.log), p.log[-10:]
    assert any(line.startswith("state counts:") for line in p.log), "the summary is printed"


@pytest.mark.parametrize("command, exit_code", [("pull", 75), ("run", 0)])
def test_sigterm_ends_a_frozen_transfer_and_the_next_pull_resumes(tmp_path: Path, sshd, command: str,
                                                                  exit_code: int) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    big = big_clip(remote, "cam1_20261122T100000Z_0001", 24 * 1024 * 1024)
    library = tmp_path / "library"
    with LinkProxy(("127.0.0.1", sshd.port), bytes_per_s=4e6) as link:
        cfg = tmp_path / "i.toml"
        cfg.write_text(settings_toml(library, [
            via_link(sshd.watcher_toml("pi", remote), link, tmp_path / "known_hosts", connect_timeout_s=LONG,
                     io_timeout_s=LONG)], transfer_grace_s=LONG))
        # run keeps its analysis service: it must stop too
        p = inspector(command, "--config", str(cfg), "--log-level", "DEBUG", "--workers", "1",
                      *(["--no-analyze", "--no-progress"] if command == "pull" else []))
        p.wait_for(progress_line(big.id), timeout=60)
        link.freeze()  # the Pi goes silent mid-transfer, the connection stays open
        rc, took = _sigterm_and_time(p)
    assert took < EXIT_WITHIN_S, f"exit took {took:.1f} s"
    assert rc == exit_code, p.log[-15:]
    cat = Catalog(library / "catalog.sqlite3")
    assert [(r.clip_id, r.state) for r in cat.rows()] == [(big.id, "downloading")]
    cat.close()
    lib = Library(library)
    kept = lib.part("pi", big.id).stat().st_size
    assert 0 < kept < big.size
    assert (remote / f"{big.id}.mp4").exists() and (remote / f"{big.id}.json").exists()

    direct = tmp_path / "direct.toml"
    direct.write_text(settings_toml(library, [sshd.watcher_toml("pi", remote)]))
    r = inspector_run("pull", "--no-analyze", "--config", str(direct))
    assert r.returncode == 0 and f"resuming {big.id} at {kept}" in r.stderr, r.stderr[-3000:]
    assert sha256_file(lib.final("pi", big.id)) == (big.size, big.sha256)
    assert not (remote / f"{big.id}.mp4").exists()
