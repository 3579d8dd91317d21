"""The ssh command line (inspector.ssh_pipe): every security setting explicit, nothing from the
user's environment, and values that could change its meaning refused or escaped."""

from __future__ import annotations

import pytest

from inspector.config import WatcherEntry
from inspector.remote import RemoteError
from inspector.ssh_pipe import ssh_command


def entry(**kw: object) -> WatcherEntry:
    base: dict[str, object] = {"name": "pi1", "host": "pi1.local", "port": 2222, "user": "inspector",
                               "identity_file": "/keys/id_ed25519", "known_hosts": "/keys/known_hosts",
                               "remote_dir": "/srv/clips/recorded_clips", "connect_timeout_s": 7.0,
                               "io_timeout_s": 30.0}
    return WatcherEntry(**(base | kw))


def options(cmd: list[str]) -> dict[str, str]:
    return dict(cmd[i + 1].split("=", 1) for i, a in enumerate(cmd) if a == "-o")


def test_the_command_carries_every_security_option() -> None:
    cmd = ssh_command(entry(), "/usr/bin/ssh")
    assert cmd[:3] == ["/usr/bin/ssh", "-F", "/dev/null"]  # no ~/.ssh/config, no /etc/ssh/ssh_config
    assert {"-x", "-T", "-a"} <= set(cmd) and cmd[-4:] == ["-s", "--", "pi1.local", "sftp"]
    o = options(cmd)
    assert {k: o[k] for k in (
        "BatchMode", "StrictHostKeyChecking", "UserKnownHostsFile", "GlobalKnownHostsFile", "IdentitiesOnly",
        "IdentityFile", "IdentityAgent", "PasswordAuthentication", "KbdInteractiveAuthentication",
        "ClearAllForwardings", "ForwardAgent", "ConnectTimeout", "Port", "User", "UpdateHostKeys", "ProxyCommand",
        "ProxyJump", "ControlMaster", "ControlPath", "PermitLocalCommand", "KnownHostsCommand",
        "HostbasedAuthentication")} == {
        "BatchMode": "yes", "StrictHostKeyChecking": "yes", "UserKnownHostsFile": "/keys/known_hosts",
        "GlobalKnownHostsFile": "/dev/null", "IdentitiesOnly": "yes", "IdentityFile": "/keys/id_ed25519",
        "IdentityAgent": "none", "PasswordAuthentication": "no", "KbdInteractiveAuthentication": "no",
        "ClearAllForwardings": "yes", "ForwardAgent": "no", "ConnectTimeout": "7", "Port": "2222",
        "User": "inspector", "UpdateHostKeys": "no", "ProxyCommand": "none", "ProxyJump": "none",
        "ControlMaster": "no", "ControlPath": "none", "PermitLocalCommand": "no", "KnownHostsCommand": "none",
        "HostbasedAuthentication": "no"}
    alive, count = int(o["ServerAliveInterval"]), int(o["ServerAliveCountMax"])
    assert alive * count <= 30  # a dead peer is noticed within about io_timeout_s
    assert o["Ciphers"].split(",")[0] == "chacha20-poly1305@openssh.com"
    assert all("gcm" in c or "chacha20" in c for c in o["Ciphers"].split(","))


def test_values_that_could_change_the_command_are_refused_or_escaped() -> None:
    for host in ("-oProxyCommand=sh", "a b", "user@host", "h%h", "h\nx"):
        with pytest.raises(RemoteError, match="refusing host"):
            ssh_command(entry(host=host), "ssh")
    with pytest.raises(RemoteError, match="refusing identity_file"):
        ssh_command(entry(identity_file='/k/"x'), "ssh")
    o = options(ssh_command(entry(identity_file="/k/100%/id", known_hosts="/my keys/kh"), "ssh"))
    assert o["IdentityFile"] == "/k/100%%/id"  # ssh expands %-tokens in paths
    assert o["UserKnownHostsFile"] == '"/my keys/kh"'
