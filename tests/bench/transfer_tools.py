"""The tools ``python -m tests.bench transfer`` races, each run once against a prepared remote
directory, each checked afterwards so that a failure cannot pass for a fast run.

Every tool reaches the same throwaway sshd (directly or through a LinkProxy) with the inspector's
security settings: only the watcher's key, only its pinned known_hosts, no user ssh config.
Each runner returns the wall-clock seconds of the transfer itself; preparing the remote
directory, verifying what arrived and cleaning up are outside the timing.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from inspector.catalog import Catalog
from inspector.config import load_config
from inspector.fleet import open_store
from inspector.library import Library
from inspector.puller import Puller

TOOL_TIMEOUT_S = 3600.0


class TransferCheckFailed(AssertionError):
    """A tool finished but did not move the bytes it was asked to."""


@dataclass(frozen=True)
class Endpoint:
    """One way to reach the watcher: sshd itself or the proxy in front of it, and the files the
    inspector's config for that way names (the ssh-based tools use the very same ones)."""

    port: int
    user: str
    key: Path
    known_hosts: Path

    def ssh_options(self) -> list[str]:
        """The inspector's security settings as OpenSSH options (no port: sftp/scp spell it -P, ssh -p)."""
        return ["-F", "/dev/null", "-i", str(self.key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "GlobalKnownHostsFile=/dev/null"]

    @property
    def login(self) -> str:
        return f"{self.user}@127.0.0.1"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def refill(src: Path, remote: Path) -> None:
    """Give ``remote`` fresh directory entries for every file of ``src`` (hard links: the same
    bytes, already in the page cache, and no copy being written back during the timed run)."""
    remote.mkdir(parents=True, exist_ok=True)
    for f in remote.iterdir():
        f.unlink()
    for f in src.iterdir():
        os.link(f, remote / f.name)


def clear_dir(d: Path) -> None:
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)


def _run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, stdin=subprocess.DEVNULL)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise TransferCheckFailed(f"{cmd[0]} exited {r.returncode}: {r.stderr.strip()[-500:]}")
    return dt


# --- the inspector ---------------------------------------------------------------------------------

def inspector_pull(config: Path) -> tuple[float, Library, list[str]]:
    """One pass over the config's single watcher as ``python -m inspector pull --no-analyze`` makes it
    (inspector.fleet: the configured library, a Catalog, ``open_store``, ``Puller.pull_once``), in this
    thread rather than a worker thread, so the timing does not include pull_all's wake-up interval.
    Returns the seconds, the library and the ids stored."""
    cfg = load_config(str(config))
    (entry,) = cfg.watchers
    t0 = time.perf_counter()
    library = Library.for_config(cfg)
    library.create()
    catalog = Catalog(library.catalog_path)
    try:
        store = open_store(entry, cfg.settings)
        try:
            stats = Puller(entry, library, catalog, store, in_flight=cfg.settings.clips_in_flight).pull_once()
            catalog.watcher_ok(entry.name)
        finally:
            store.close()
    finally:
        catalog.close()
    return time.perf_counter() - t0, library, list(stats.stored)


def run_inspector(config: Path, watcher: str, expected: dict[str, str], remote: Path) -> float:
    """Pull every clip in ``expected`` (clip id -> sha256) with the inspector's ``config``; check each
    was stored with those bytes and archived (its clip and manifest gone from ``remote``). The
    config's library is wiped before and after."""
    library_root = load_config(str(config)).library
    shutil.rmtree(library_root, ignore_errors=True)
    try:
        dt, library, stored = inspector_pull(config)
        if sorted(stored) != sorted(expected):
            raise TransferCheckFailed(f"inspector stored {len(stored)} of {len(expected)} clips")
        for clip_id, sha in expected.items():
            if sha256_file(library.final(watcher, clip_id)) != sha:
                raise TransferCheckFailed(f"inspector: {clip_id} stored with other bytes")
        left = sorted(p.name for p in remote.iterdir())
        if left:
            raise TransferCheckFailed(f"inspector left {len(left)} files on the remote, e.g. {left[0]}")
        return dt
    finally:
        shutil.rmtree(library_root, ignore_errors=True)


# --- OpenSSH and rsync ------------------------------------------------------------------------------

def _check_one(dest: Path, size: int, sha: str, tool: str) -> None:
    if not dest.is_file() or dest.stat().st_size != size:
        got = dest.stat().st_size if dest.is_file() else "nothing"
        raise TransferCheckFailed(f"{tool}: {got} bytes arrived, expected {size}")
    if sha256_file(dest) != sha:
        raise TransferCheckFailed(f"{tool}: the bytes that arrived differ from the clip")


def run_sftp(ep: Endpoint, remote_file: Path, dest: Path, size: int, sha: str) -> float:
    batch = dest.parent / "sftp.batch"
    batch.write_text(f"get {shlex.quote(str(remote_file))} {shlex.quote(str(dest))}\n")
    try:
        dt = _run(["sftp", "-q", "-b", str(batch), "-P", str(ep.port), *ep.ssh_options(), ep.login])
        _check_one(dest, size, sha, "sftp")
        return dt
    finally:
        batch.unlink(missing_ok=True)
        dest.unlink(missing_ok=True)


def run_scp(ep: Endpoint, remote_file: Path, dest: Path, size: int, sha: str) -> float:
    try:
        dt = _run(["scp", "-q", "-P", str(ep.port), *ep.ssh_options(), f"{ep.login}:{remote_file}", str(dest)])
        _check_one(dest, size, sha, "scp")
        return dt
    finally:
        dest.unlink(missing_ok=True)


def _rsync_ssh(ep: Endpoint) -> str:
    return shlex.join(["ssh", "-p", str(ep.port), *ep.ssh_options()])


def run_ssh_true(ep: Endpoint) -> float:
    """``ssh HOST true``: what any tool that runs a remote command (rsync) pays before its first byte:
    the connection and the account's login shell starting (root's ~/.bashrc runs pyenv here)."""
    return _run(["ssh", "-p", str(ep.port), *ep.ssh_options(), ep.login, "true"])


def run_rsync_one(ep: Endpoint, remote_file: Path, dest: Path, size: int, sha: str) -> float:
    try:
        dt = _run(["rsync", "-e", _rsync_ssh(ep), f"{ep.login}:{remote_file}", str(dest)])
        _check_one(dest, size, sha, "rsync")
        return dt
    finally:
        dest.unlink(missing_ok=True)


def run_rsync_backlog(ep: Endpoint, remote: Path, dest: Path, expected: dict[str, str]) -> float:
    """``rsync -a --remove-source-files`` of the whole directory; ``expected`` maps every file name
    (clips and manifests) to its sha256. Checks each arrived intact and every source was removed."""
    clear_dir(dest)
    try:
        dt = _run(["rsync", "-a", "--remove-source-files", "-e", _rsync_ssh(ep), f"{ep.login}:{remote}/", f"{dest}/"])
        got = {p.name for p in dest.iterdir()}
        if got != set(expected):
            raise TransferCheckFailed(f"rsync: {len(got)} files arrived, expected {len(expected)}")
        for name, sha in expected.items():
            if sha256_file(dest / name) != sha:
                raise TransferCheckFailed(f"rsync: {name} arrived with other bytes")
        left = sorted(p.name for p in remote.iterdir())
        if left:
            raise TransferCheckFailed(f"rsync left {len(left)} source files, e.g. {left[0]}")
        return dt
    finally:
        shutil.rmtree(dest, ignore_errors=True)
