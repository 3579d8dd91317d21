"""add-watcher against a real sshd: pin the host key it proves, append a table that loads and pulls."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.add_watcher import Refused, add_watcher
from inspector.commands.add_watcher import add_arguments
from inspector.config import load_config
from inspector.fleet import pull_all
from inspector.hostkeys import HostKeyConflict, HostUnreachable, pin, pinned_keys
from tests.inspector_env import copy_clips
from tests.proc import ROOT

EXAMPLE = ROOT / "deploy" / "inspector" / "inspector.toml"


def host_fingerprint(sshd) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", str(sshd.host_key.with_suffix(".pub"))], capture_output=True,
                         text=True, check=True).stdout
    return out.split()[1]


def example_config(tmp_path: Path) -> Path:
    """The shipped example, with the library moved into tmp_path."""
    cfg = tmp_path / "etc" / "inspector.toml"
    cfg.parent.mkdir(parents=True)
    text, n = re.subn(r'^library = ".*"$', f'library = "{tmp_path / "library"}"', EXAMPLE.read_text(), flags=re.M)
    assert n == 1
    cfg.write_text(text)
    return cfg


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inspector", "add-watcher", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def common_args(sshd, cfg: Path, remote: Path, name: str = "pi1") -> list[str]:
    return [name, "127.0.0.1", "--port", str(sshd.port), "--user", sshd.user, "--remote-dir", str(remote),
            "--config", str(cfg), "--identity-file", str(sshd.user_key)]


def test_right_fingerprint_pins_and_appends_a_config_that_pulls(tmp_path: Path, sshd, watcher_clips: Path) -> None:
    cfg = example_config(tmp_path)
    remote = tmp_path / "pi" / "recorded_clips"
    copy_clips(watcher_clips, remote)
    (tmp_path / "pi" / "transferred").mkdir()  # as deploy makes it: the inspector's account cannot
    fp = host_fingerprint(sshd)
    r = cli(*common_args(sshd, cfg, remote), "--fingerprint", fp)
    assert r.returncode == 0, r.stderr
    assert fp in r.stdout
    known_hosts = cfg.parent / "known_hosts"  # the inspector's own file, beside its config
    lines = known_hosts.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")
    loaded = load_config(str(cfg))
    (w,) = loaded.watchers
    assert (w.name, w.host, w.port, w.user, w.remote_dir) == ("pi1", "127.0.0.1", sshd.port, sshd.user, str(remote))
    assert w.known_hosts == str(known_hosts) and w.identity_file == str(sshd.user_key)
    assert cfg.read_text().startswith(EXAMPLE.read_text().split("library =")[0])  # comments kept

    results = pull_all(loaded)  # the pinned entry is what the real SFTP connection accepts
    assert results[0].error is None, results[0].error
    assert len(results[0].stats[0].stored) == len(list(watcher_clips.glob("*.json")))

    # A second Pi reuses the same key and known_hosts; a taken name is refused before any traffic.
    before = cfg.read_bytes(), known_hosts.read_bytes()
    r = cli(*common_args(sshd, cfg, remote), "--fingerprint", fp)
    assert r.returncode == 78 and "duplicate watcher name" in r.stderr
    assert (cfg.read_bytes(), known_hosts.read_bytes()) == before
    r = cli("pi2", "127.0.0.1", "--port", str(sshd.port), "--config", str(cfg), "--fingerprint", fp)
    assert r.returncode == 0, r.stderr
    assert [w.name for w in load_config(str(cfg)).watchers] == ["pi1", "pi2"]
    assert known_hosts.read_bytes() == before[1]  # already pinned: unchanged


def test_wrong_fingerprint_refuses_and_writes_nothing(tmp_path: Path, sshd) -> None:
    cfg = example_config(tmp_path)
    before = cfg.read_bytes()
    wrong = "SHA256:bsnXtcukyy/RI/AHIbfeu5ubfGDv+9m8kLKXXOwgRq8"
    r = cli(*common_args(sshd, cfg, Path("/data/recorded_clips")), "--fingerprint", wrong)
    assert r.returncode == 1
    assert "mismatch" in r.stderr and host_fingerprint(sshd) in r.stderr
    assert cfg.read_bytes() == before
    assert sorted(p.name for p in cfg.parent.iterdir()) == ["inspector.toml"]  # no known_hosts, no temp file


def test_no_terminal_and_no_fingerprint_refuses(tmp_path: Path, sshd) -> None:
    cfg = example_config(tmp_path)
    before = cfg.read_bytes()
    r = cli(*common_args(sshd, cfg, Path("/data/recorded_clips")))
    assert r.returncode == 1 and "--fingerprint" in r.stderr
    assert cfg.read_bytes() == before and not (cfg.parent / "known_hosts").exists()


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def test_interactive_confirmation(tmp_path: Path, sshd) -> None:
    cfg = example_config(tmp_path)
    before = cfg.read_bytes()
    args = _args(*common_args(sshd, cfg, Path("/data/recorded_clips")))
    questions: list[str] = []
    with pytest.raises(Refused):
        add_watcher(args, interactive=True, ask=lambda q: questions.append(q) or "no")
    assert questions and cfg.read_bytes() == before and not (cfg.parent / "known_hosts").exists()
    assert add_watcher(args, interactive=True, ask=lambda q: "yes") == 0
    assert load_config(str(cfg)).watchers[0].name == "pi1"


def test_a_different_pinned_key_is_never_replaced(tmp_path: Path, sshd) -> None:
    cfg = example_config(tmp_path)
    known_hosts = cfg.parent / "known_hosts"
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    key_type, blob = other.with_suffix(".pub").read_text().split()[:2]
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {key_type} {blob}\n")
    before = cfg.read_bytes(), known_hosts.read_bytes()
    args = _args(*common_args(sshd, cfg, Path("/data/recorded_clips")), "--fingerprint", host_fingerprint(sshd))
    with pytest.raises(HostKeyConflict, match="ssh-keygen -R"):
        add_watcher(args, interactive=False)
    assert (cfg.read_bytes(), known_hosts.read_bytes()) == before
    assert pinned_keys(known_hosts, "127.0.0.1", sshd.port) == {key_type: blob}


def test_pin_on_port_22_uses_the_bare_host_name(tmp_path: Path) -> None:
    from inspector.hostkeys import HostKey

    kh = tmp_path / "kh"
    key = HostKey("ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIEX0ucremYAeQoVQMs1ZUQjRx+DJoPv9XhpIzteGrk3R")
    assert pin(kh, "pi.lan", 22, key) and not pin(kh, "pi.lan", 22, key)
    assert kh.read_text() == f"pi.lan ssh-ed25519 {key.base64}\n"


def test_unreachable_or_silent_host(tmp_path: Path) -> None:
    import socket
    import time

    cfg = example_config(tmp_path)
    (cfg.parent / "id_ed25519").write_text("")
    before = cfg.read_bytes()
    with socket.socket() as s:  # a port with nothing listening (bound, never listened on)
        s.bind(("127.0.0.1", 0))
        args = _args("pi1", "127.0.0.1", "--port", str(s.getsockname()[1]), "--config", str(cfg),
                     "--fingerprint", "SHA256:x")
        with pytest.raises(HostUnreachable, match="cannot reach"):
            add_watcher(args, interactive=False)
    with socket.socket() as s:  # accepts TCP (backlog) but never says a word: the handshake times out
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        args = _args("pi1", "127.0.0.1", "--port", str(s.getsockname()[1]), "--config", str(cfg),
                     "--fingerprint", "SHA256:x", "--timeout", "1")
        t0 = time.monotonic()
        with pytest.raises(HostUnreachable, match="key exchange failed"):
            add_watcher(args, interactive=False)
        assert time.monotonic() - t0 < 15
    assert cfg.read_bytes() == before and not (cfg.parent / "known_hosts").exists()
