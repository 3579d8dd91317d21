"""SFTP pull throughput: our Puller (SftpStore over OpenSSH's ssh, with sha256 verify, fsync and
archive) vs OpenSSH ``sftp -b`` on the same file from the same throwaway sshd, rounds interleaved,
medians reported; on loopback, or through a LinkProxy with ``--rtt-ms``/``--mbit``-like settings.

    python -m tests.bench sftp [--mb 200] [--rounds 3] [--delay-ms 20 --bytes-per-s 5e6]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from inspector.catalog import Catalog
from inspector.config import load_config
from inspector.fleet import open_store
from inspector.library import Library
from inspector.puller import Puller
from tests.inspector_env import big_clip, write_config
from tests.inspector_net import via_link
from tests.netproxy import LinkProxy
from tests.throwaway_sshd import ThrowawaySshd

CLIP = "bench_20261122T000000Z_0001"


def _ours(cfg_path: Path, library: Path) -> float:
    cfg = load_config(str(cfg_path))
    entry = cfg.watchers[0]
    shutil.rmtree(library, ignore_errors=True)
    lib = Library(library)
    lib.create()
    cat = Catalog(lib.catalog_path)
    store = open_store(entry, cfg.settings)
    t0 = time.perf_counter()
    stats = Puller(entry, lib, cat, store).pull_once()
    dt = time.perf_counter() - t0
    store.close()
    cat.close()
    assert stats.stored == [CLIP], stats
    return dt


def _openssh(sshd: ThrowawaySshd, port: int, known_hosts: Path, remote: Path, dest: Path) -> float:
    batch = dest.parent / "batch"
    batch.write_text(f"get {remote / (CLIP + '.mp4')} {dest}\n")
    cmd = ["sftp", "-q", "-b", str(batch), "-P", str(port), "-i", str(sshd.user_key), "-F", "/dev/null",
           "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
           "-o", "BatchMode=yes", f"{sshd.user}@127.0.0.1"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, timeout=1800)
    return time.perf_counter() - t0


def run(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(prog="python -m tests.bench sftp")
    ap.add_argument("--mb", type=float, default=200.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay of the LinkProxy (0: loopback)")
    ap.add_argument("--bytes-per-s", type=float, default=0.0, help="the LinkProxy's bandwidth (0: unlimited)")
    a = ap.parse_args(argv or [])
    linked = bool(a.delay_ms or a.bytes_per_s)
    with tempfile.TemporaryDirectory(prefix="bench-sftp-") as tmp:
        t = Path(tmp)
        sshd = ThrowawaySshd(t / "sshd")
        sshd.start()
        link = LinkProxy(("127.0.0.1", sshd.port), delay_s=a.delay_ms / 1000,
                         bytes_per_s=a.bytes_per_s or None) if linked else None
        try:
            remote = t / "pi" / "recorded_clips"
            remote.mkdir(parents=True)
            m = big_clip(remote, CLIP, int(a.mb * 1e6))
            table = sshd.watcher_toml("bench", remote, after_transfer="archive")
            port, known_hosts = sshd.port, sshd.known_hosts
            if link is not None:
                link.start()
                known_hosts = t / "known_hosts_link"
                table = via_link(table, link, known_hosts)
                port = link.port
            # archive mode moves the file away after each pull: copy it back each round
            cfg = write_config(t / "i.toml", t / "library", [table])
            keep = t / "keep"
            keep.mkdir()
            for f in remote.iterdir():
                shutil.copy2(f, keep)
            ours, ssh = [], []
            for _ in range(a.rounds):  # interleaved rounds
                for f in keep.iterdir():
                    shutil.copy2(f, remote / f.name)
                ours.append(_ours(cfg, t / "library"))
                for f in keep.iterdir():
                    shutil.copy2(f, remote / f.name)
                ssh.append(_openssh(sshd, port, known_hosts, remote, t / "openssh.out"))
        finally:
            if link is not None:
                link.close()
            sshd.stop()
    mb = m.size / 1e6
    ours_mbps, ssh_mbps = round(mb / statistics.median(ours), 1), round(mb / statistics.median(ssh), 1)
    where = f"a {a.delay_ms:g} ms / {a.bytes_per_s:g} B/s LinkProxy" if linked else "loopback"
    print(f"{mb:.0f} MB over {where}, median of {a.rounds}: ours {ours_mbps} MB/s (incl. sha256 verify, "
          f"fsync, archive), OpenSSH sftp {ssh_mbps} MB/s")
    return {"ours_MBps": ours_mbps, "openssh_sftp_MBps": ssh_mbps, "ratio_vs_openssh": round(ours_mbps / ssh_mbps, 3),
            "ours_s": [round(x, 2) for x in ours], "openssh_s": [round(x, 2) for x in ssh]}
