"""``python -m inspector add-watcher NAME HOST``: trust a Pi's host key and add it to the config
(its command line: inspector/commands/add_watcher.py).

    python -m inspector add-watcher NAME HOST [--port 22] [--user inspector]
        [--remote-dir /data/recorded_clips] [--config /etc/motion-inspector/inspector.toml]
        [--fingerprint SHA256:...] [--identity-file FILE] [--known-hosts FILE]
        [--after-transfer archive|delete]

1. Checks that the config would still load with the new ``[[watcher]]`` table (before any
   network traffic, so a typo costs nothing).
2. Fetches the Pi's host key (key exchange only, no authentication) and shows its SHA256
   fingerprint. On the Pi, ``ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`` prints it.
3. Trusts it only if it equals ``--fingerprint``, or, without that option, if a person at a
   terminal types "yes". Without a terminal and without ``--fingerprint`` it refuses.
4. Pins the key in the inspector's own known_hosts (never ~/.ssh/known_hosts) and appends the
   table to the config (written atomically; checked with inspector.config.load_config first).

Exit status: 0 added; 1 refused (fingerprint mismatch, not confirmed, a different key already
pinned); 69 host unreachable; 78 configuration problem (e.g. the name is taken, the identity
file is missing). In every case but 0 it has written nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from shared.atomic import save_file
from shared.config import read_toml
from shared.errors import AppError, ConfigError

PI_FINGERPRINT_HINT = "on the Pi: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"


class Refused(AppError):
    """The host key was not confirmed; nothing was written."""

    exit_code = 1


def toml_table(values: dict[str, Any]) -> str:
    """One ``[[watcher]]`` table; strings are quoted as JSON, which is valid TOML basic-string syntax."""
    lines = ["[[watcher]]"]
    for key, value in values.items():
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False) if isinstance(value, str) else value}")
    return "\n".join(lines) + "\n"


def _defaults_from(data: dict[str, Any], config: Path, key: str, fallback: str) -> str:
    """The value the existing watchers share for ``key`` (as an absolute path), else ``fallback`` beside the config."""
    values = {str((config.parent / os.path.expanduser(w[key])).resolve())
              for w in data.get("watcher", []) if isinstance(w, dict) and isinstance(w.get(key), str) and w[key]}
    return values.pop() if len(values) == 1 else str(config.parent.resolve() / fallback)


def build_table(args: argparse.Namespace, data: dict[str, Any], config: Path) -> dict[str, Any]:
    identity = args.identity_file or _defaults_from(data, config, "identity_file", "id_ed25519")
    known_hosts = args.known_hosts or _defaults_from(data, config, "known_hosts", "known_hosts")
    return {
        "name": args.name, "host": args.host, "port": args.port, "user": args.user,
        "identity_file": str(Path(identity).expanduser().resolve()),
        "known_hosts": str(Path(known_hosts).expanduser().resolve()),
        "remote_dir": args.remote_dir, "after_transfer": args.after_transfer,
    }


def precheck(data: dict[str, Any], table: dict[str, Any], config: Path) -> None:
    """Raise ConfigError unless the config with ``table`` appended would load (a missing known_hosts is fine:
    pinning creates it, and it is the last thing load_config checks)."""
    from inspector.config import parse_config

    watchers = data.get("watcher", [])
    if not isinstance(watchers, list):
        raise ConfigError(str(config), "watcher", "must be [[watcher]] tables")
    candidate = dict(data, watcher=[*watchers, table])
    try:
        parse_config(candidate, str(config))
    except ConfigError as e:
        if not (e.key == f"watcher[{len(watchers)}].known_hosts" and "file not found" in e.problem):
            raise


def confirm(fp: str, expected: str | None, *, interactive: bool, ask: Callable[[str], str],
            out: TextIO) -> None:
    """Raise Refused unless the fingerprint is the expected one, or a person typed "yes"."""
    if expected is not None:
        from inspector.hostkeys import normalize_fingerprint

        if normalize_fingerprint(expected) != fp:
            raise Refused(f"host key fingerprint mismatch: expected {normalize_fingerprint(expected)}, the host "
                          f"showed {fp}; refusing (nothing written)")
        return
    if not interactive:
        raise Refused(f"not a terminal: give --fingerprint SHA256:... ({PI_FINGERPRINT_HINT})")
    print(f"Compare it with the Pi's own ({PI_FINGERPRINT_HINT}).", file=out)
    if ask("Is this the Pi's key? Type yes to trust it: ").strip().lower() != "yes":
        raise Refused("not confirmed; nothing written")


def write_config(config: Path, text: str) -> None:
    """Atomically replace ``config`` with ``text`` after checking that it loads."""
    from inspector.config import load_config

    with save_file(config) as f:
        f.write(text.encode())
        f.flush()
        os.fchmod(f.fileno(), config.stat().st_mode & 0o7777)
        load_config(f.name)


def add_watcher(args: argparse.Namespace, *, interactive: bool, ask: Callable[[str], str] = input,
                out: TextIO = sys.stdout) -> int:
    config = Path(args.config)
    if args.fingerprint is None and not interactive:  # refuse before any network traffic
        raise Refused(f"not a terminal: give --fingerprint SHA256:... ({PI_FINGERPRINT_HINT})")
    data = read_toml(config)
    table = build_table(args, data, config)
    precheck(data, table, config)

    from inspector import hostkeys

    key = hostkeys.fetch_host_key(args.host, args.port, args.timeout)
    fp = key.fingerprint
    print(f"{hostkeys.known_hosts_name(args.host, args.port)} shows host key {key.key_type} {fp}", file=out)
    confirm(fp, args.fingerprint, interactive=interactive, ask=ask, out=out)

    known_hosts = Path(table["known_hosts"])
    previous = known_hosts.read_bytes() if known_hosts.exists() else None
    added = hostkeys.pin(known_hosts, args.host, args.port, key)
    old = config.read_text()
    text = (old.rstrip("\n") + "\n\n" if old.strip() else "") + toml_table(table)
    try:
        write_config(config, text)
    except BaseException:
        if added:
            hostkeys.restore(known_hosts, previous)
        raise
    print(f"pinned in {known_hosts}; added [[watcher]] {args.name!r} to {config}", file=out)
    return 0
