"""The SFTP transport over OpenSSH's own ssh, against a real sshd: host keys pinned exactly as
before, the spawned ssh carries the security options, one store serves several threads at once,
and abort() from another thread ends a blocked read at once."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

from inspector.config import WatcherEntry
from inspector.remote import RemoteError
from inspector.sftp import HostKeyError, SftpStore
from tests.inspector_env import big_clip
from tests.inspector_net import settings_toml, via_link
from tests.netproxy import LinkProxy
from tests.proc import ROOT


def entry_of(toml: str) -> WatcherEntry:
    return WatcherEntry(**tomllib.loads(toml)["watcher"][0])


def read_all(store: SftpStore, name: str, window: int = 1 << 20) -> bytes:
    r = store.open(name)
    try:
        size, _, kind = r.fstat()
        assert kind == "file"
        return b"".join(r.read_windows(0, size, window))
    finally:
        r.close()


def test_a_changed_or_unknown_host_key_is_refused_with_host_key_error(tmp_path: Path, sshd) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    entry = entry_of(sshd.watcher_toml("pi1", remote))
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    pinned = sshd.known_hosts.read_text()
    other_key = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    sshd.known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {other_key}\n")
    with pytest.raises(HostKeyError, match=r"host key does not match .*'inspector add-watcher'"):
        SftpStore(entry)
    sshd.known_hosts.write_text("")
    with pytest.raises(HostKeyError, match=r"host key not in .*\(add it with 'inspector add-watcher'\)"):
        SftpStore(entry)
    assert sshd.known_hosts.read_text() == "", "ssh never learns a key"
    sshd.known_hosts.write_text(pinned)  # the right key: accepted
    SftpStore(entry).close()


def test_the_spawned_ssh_carries_the_security_options_and_is_reaped(tmp_path: Path, sshd) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    store = SftpStore(entry_of(sshd.watcher_toml("pi1", remote)))
    proc = store.session.pipe.proc
    argv = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
    store.close()
    assert argv[1:3] == [b"-F", b"/dev/null"]
    for option in (b"BatchMode=yes", b"StrictHostKeyChecking=yes", b"GlobalKnownHostsFile=/dev/null",
                   b"IdentitiesOnly=yes", b"IdentityAgent=none", b"PasswordAuthentication=no",
                   b"ClearAllForwardings=yes", b"ForwardAgent=no", b"UpdateHostKeys=no",
                   b"UserKnownHostsFile=" + str(sshd.known_hosts).encode(),
                   b"IdentityFile=" + str(sshd.user_key).encode()):
        assert option in argv, option
    assert proc.returncode is not None, "closed: ssh killed and reaped"


def test_several_threads_pull_different_clips_over_one_store(tmp_path: Path, sshd) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    clips = [big_clip(remote, f"cam1_20261122T07000{i}Z_0001", 3_000_000 + 77_777 * i, seed=i) for i in range(4)]
    store = SftpStore(entry_of(sshd.watcher_toml("pi1", remote)))
    got: dict[str, str] = {}
    errors: list[BaseException] = []

    def pull(clip_id: str) -> None:
        try:
            got[clip_id] = hashlib.sha256(read_all(store, f"{clip_id}.mp4", window=300_000)).hexdigest()
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=pull, args=(m.id,)) for m in clips]
    for t in threads:
        t.start()
    names = {e.name for e in store.list()}  # a listing at the same time
    for t in threads:
        t.join()
    store.close()
    assert not errors, errors
    assert got == {m.id: m.sha256 for m in clips}
    assert names == {f"{m.id}.{x}" for m in clips for x in ("mp4", "json")}


def test_abort_from_another_thread_ends_a_blocked_read_at_once(tmp_path: Path, sshd) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    m = big_clip(remote, "cam1_20261122T070000Z_0001", 8_000_000)
    with LinkProxy(("127.0.0.1", sshd.port), bytes_per_s=2e6) as link:
        entry = entry_of(via_link(sshd.watcher_toml("pi1", remote), link, tmp_path / "known_hosts",
                                  io_timeout_s=120.0))
        store = SftpStore(entry)
        first_window = threading.Event()
        outcome: list[BaseException] = []

        def read() -> None:
            r = store.open(f"{m.id}.mp4")
            try:
                for _ in r.read_windows(0, m.size, 256 * 1024):
                    if not first_window.is_set():
                        link.freeze()  # the Pi goes silent with reads in flight
                        first_window.set()
            except RemoteError as e:
                outcome.append(e)

        reader = threading.Thread(target=read)
        reader.start()
        assert first_window.wait(60)
        t0 = time.monotonic()
        store.abort()
        reader.join(30)
        took = time.monotonic() - t0
        store.close()
    assert not reader.is_alive() and len(outcome) == 1 and "stopping" in str(outcome[0]), outcome
    assert took < 3, f"the blocked read ended {took:.1f} s after abort()"


def test_pull_without_the_ssh_client_says_how_to_install_it(tmp_path: Path, sshd) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    cfg = tmp_path / "i.toml"
    cfg.write_text(settings_toml(tmp_path / "library", [sshd.watcher_toml("pi1", remote)]))
    empty = tmp_path / "bin"
    empty.mkdir()
    r = subprocess.run([sys.executable, "-m", "inspector", "pull", "--no-analyze", "--config", str(cfg)], cwd=ROOT,
                       env=dict(os.environ, PATH=str(empty)), capture_output=True, text=True, timeout=120)
    assert r.returncode == 69, r.stderr[-2000:]
    assert "'ssh' is not on PATH" in r.stderr and "apt install openssh-client" in r.stderr, r.stderr[-2000:]
