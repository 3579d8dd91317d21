"""add-watcher's pure parts: fingerprints, known_hosts names, the table it appends, the checks it makes."""

from __future__ import annotations

import argparse
import io
import tomllib
from pathlib import Path

import pytest

from inspector.add_watcher import Refused, build_table, confirm, precheck, toml_table
from inspector.commands.add_watcher import add_arguments
from inspector.hostkeys import HostKey, known_hosts_name, normalize_fingerprint
from shared.errors import ConfigError

# Made with ssh-keygen; the fingerprints are what `ssh-keygen -lf` printed for them.
ED25519 = HostKey("ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAIEX0ucremYAeQoVQMs1ZUQjRx+DJoPv9XhpIzteGrk3R")
ED25519_FP = "SHA256:bsnXtcukyy/RI/AHIbfeu5ubfGDv+9m8kLKXXOwgRq8"
ECDSA = HostKey("ecdsa-sha2-nistp256", "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBK4FxC/ZPaJmjM7j6U1DXxFpZf"
                                       "BXC/bl+kO6gEUNhnEjyg7SZbM/KKAt11WzH5OwFFa9r80ydqnCyDxgeTTwq0o=")
ECDSA_FP = "SHA256:NEOEx0DiLFKehCiK6odxJVuSR2Z2ltpKdh8EtbmLM7w"


def args_for(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def test_fingerprint_matches_ssh_keygen() -> None:
    assert ED25519.fingerprint == ED25519_FP
    assert ECDSA.fingerprint == ECDSA_FP
    assert "=" not in ED25519.fingerprint


@pytest.mark.parametrize("given,expected", [
    (ED25519_FP, ED25519_FP), (ED25519_FP + "=", ED25519_FP), ("  " + ED25519_FP + "\n", ED25519_FP),
    ("MD5:aa:bb", "MD5:aa:bb"),
])
def test_normalize_fingerprint(given: str, expected: str) -> None:
    assert normalize_fingerprint(given) == expected


def test_known_hosts_name() -> None:
    assert known_hosts_name("pi.lan", 22) == "pi.lan"
    assert known_hosts_name("192.168.1.20", 2222) == "[192.168.1.20]:2222"


def test_toml_table_round_trips_awkward_strings() -> None:
    values = {"name": "cam1", "host": "pi", "port": 2222, "user": "inspector",
              "identity_file": '/weird "dir"\\x/k', "known_hosts": "/ünï/kh", "remote_dir": "/data/recorded_clips",
              "after_transfer": "archive"}
    text = toml_table(values)
    assert text.startswith("[[watcher]]\n")
    assert tomllib.loads(text) == {"watcher": [values]}


def test_build_table_defaults_beside_the_config(tmp_path: Path) -> None:
    cfg = tmp_path / "inspector.toml"
    table = build_table(args_for("frontdoor", "pi.lan"), {}, cfg)
    assert table == {"name": "frontdoor", "host": "pi.lan", "port": 22, "user": "inspector",
                     "identity_file": str(tmp_path / "id_ed25519"), "known_hosts": str(tmp_path / "known_hosts"),
                     "remote_dir": "/data/recorded_clips", "after_transfer": "archive"}


def test_build_table_reuses_the_other_watchers_files(tmp_path: Path) -> None:
    cfg = tmp_path / "inspector.toml"
    data = {"watcher": [{"name": "a", "identity_file": "keys/id", "known_hosts": "/etc/x/known_hosts"}]}
    table = build_table(args_for("b", "pi2", "--port", "2200", "--after-transfer", "delete"), data, cfg)
    assert table["identity_file"] == str(tmp_path / "keys" / "id")
    assert table["known_hosts"] == "/etc/x/known_hosts"
    assert table["port"] == 2200 and table["after_transfer"] == "delete"


def _base(tmp_path: Path) -> tuple[Path, dict]:
    key = tmp_path / "id_ed25519"
    key.write_text("not read here")
    return tmp_path / "inspector.toml", {"library": str(tmp_path / "lib")}


def test_precheck_accepts_a_missing_known_hosts(tmp_path: Path) -> None:
    cfg, data = _base(tmp_path)
    precheck(data, build_table(args_for("cam1", "pi"), data, cfg), cfg)  # known_hosts is created by pinning


def test_precheck_refuses_a_taken_name_and_a_missing_key(tmp_path: Path) -> None:
    cfg, data = _base(tmp_path)
    (tmp_path / "known_hosts").write_text("")
    first = build_table(args_for("cam1", "pi"), data, cfg)
    data["watcher"] = [first]
    with pytest.raises(ConfigError, match="duplicate watcher name"):
        precheck(data, build_table(args_for("cam1", "other"), data, cfg), cfg)
    with pytest.raises(ConfigError, match="identity_file"):
        precheck(data, build_table(args_for("cam2", "pi", "--identity-file", str(tmp_path / "nope")), data, cfg), cfg)
    with pytest.raises(ConfigError, match="name"):
        precheck(data, build_table(args_for("Bad Name", "pi"), data, cfg), cfg)
    with pytest.raises(ConfigError, match="remote_dir"):
        precheck(data, build_table(args_for("cam3", "pi", "--remote-dir", "relative"), data, cfg), cfg)


def test_confirm() -> None:
    out = io.StringIO()
    confirm(ED25519_FP, ED25519_FP + "=", interactive=False, ask=lambda _: "no", out=out)  # option wins, no question
    with pytest.raises(Refused, match="mismatch"):
        confirm(ED25519_FP, ECDSA_FP, interactive=True, ask=lambda _: "yes", out=out)
    with pytest.raises(Refused, match="not a terminal"):
        confirm(ED25519_FP, None, interactive=False, ask=lambda _: "yes", out=out)
    confirm(ED25519_FP, None, interactive=True, ask=lambda _: " YES\n", out=out)
    with pytest.raises(Refused, match="not confirmed"):
        confirm(ED25519_FP, None, interactive=True, ask=lambda _: "y", out=out)
    assert "ssh-keygen -lf" in out.getvalue()
