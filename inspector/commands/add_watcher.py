"""``python -m inspector add-watcher NAME HOST ...``: its options; the work is inspector/add_watcher.py's."""

from __future__ import annotations

import argparse
import logging
import sys

logger = logging.getLogger("inspector.add_watcher")

DEFAULT_CONFIG = "/etc/motion-inspector/inspector.toml"
DEFAULT_REMOTE_DIR = "/data/recorded_clips"  # the Pi's data dir as the chrooted SFTP account sees it


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="watcher name (a-z, 0-9, '-'), used in the library and the catalog")
    p.add_argument("host", help="the Pi's address or host name")
    p.add_argument("--port", type=int, default=22)
    p.add_argument("--user", default="inspector", help="the Pi's SFTP account (default: inspector)")
    p.add_argument("--remote-dir", default=DEFAULT_REMOTE_DIR, help=f"clips on the Pi as SFTP sees them "
                                                                    f"(default: {DEFAULT_REMOTE_DIR})")
    p.add_argument("--config", default=DEFAULT_CONFIG, help=f"inspector config to extend (default: {DEFAULT_CONFIG})")
    p.add_argument("--fingerprint", help="expected host key fingerprint, SHA256:... (required without a terminal)")
    p.add_argument("--identity-file", help="private key (default: the other watchers', else id_ed25519 beside the "
                                           "config)")
    p.add_argument("--known-hosts", help="pinned host keys (default: the other watchers', else known_hosts beside "
                                         "the config)")
    p.add_argument("--after-transfer", choices=("archive", "delete"), default="archive")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds for connecting and the key exchange")


def run(args: argparse.Namespace) -> int:
    from inspector.add_watcher import add_watcher

    return add_watcher(args, interactive=sys.stdin.isatty() and sys.stdout.isatty())
