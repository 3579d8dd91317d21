"""Building blocks for the inspector's network tests: a watcher reached through a LinkProxy, an sshd
whose SFTP server never answers, the inspector as a real process whose log we follow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.netproxy import LinkProxy
from tests.proc import ROOT, WatcherProcess

SILENT_SFTP = "ForceCommand /bin/sleep 100000\n"  # login and the sftp subsystem succeed; nothing ever answers


def table(sshd_toml: str, **settings: object) -> str:
    """A [[watcher]] table from ThrowawaySshd.watcher_toml with some keys replaced."""
    lines = []
    for line in sshd_toml.splitlines():
        key = line.split(" = ", 1)[0]
        lines.append(f"{key} = {_toml(settings.pop(key))}" if key in settings else line)
    lines += [f"{k} = {_toml(v)}" for k, v in settings.items()]
    return "\n".join(lines) + "\n"


def _toml(v: object) -> str:
    return json.dumps(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)


def via_link(sshd_toml: str, link: LinkProxy, known_hosts: Path, **settings: object) -> str:
    """The same watcher reached through ``link``: its host key pinned for the proxy's port too
    (known_hosts entries are "[host]:port")."""
    entries = Path(_value(sshd_toml, "known_hosts")).read_text().splitlines()
    port = _value(sshd_toml, "port")
    known_hosts.write_text("\n".join(entries + [e.replace(f"]:{port} ", f"]:{link.port} ", 1) for e in entries])
                           + "\n")
    return table(sshd_toml, port=link.port, known_hosts=str(known_hosts), **settings)


def _value(toml: str, key: str) -> str:
    for line in toml.splitlines():
        if line.startswith(f"{key} = "):
            return line.split(" = ", 1)[1].strip('"')
    raise KeyError(key)


def settings_toml(library: Path, watcher_tables: list[str], **settings: object) -> str:
    top = {"library": str(library), "poll_interval_s": 30.0} | settings
    return "".join(f"{k} = {_toml(v)}\n" for k, v in top.items()) + "\n" + "\n".join(watcher_tables)


def inspector(*args: str) -> WatcherProcess:
    """``python -m inspector ARGS`` as a real process; stdout and stderr merged, followed line by line."""
    return WatcherProcess(*args, module="inspector")


def inspector_run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inspector", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def status(config: Path) -> dict:
    return json.loads(inspector_run("status", "--config", str(config), "--json").stdout)


def progress_line(clip_id: str) -> str:
    """The DEBUG line the puller logs after each window of a clip ("<id>: done/total bytes")."""
    return f"{clip_id}: "
