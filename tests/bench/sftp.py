"""SFTP pull throughput on loopback: our Puller vs OpenSSH ``sftp`` vs paramiko's own ``get``,
on the same file from the same throwaway sshd in one run."""

from __future__ import annotations

import shutil
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
from tests.throwaway_sshd import ThrowawaySshd

SIZE = 256 * 1024 * 1024
CLIP = "bench_20261122T000000Z_0001"


def _ours(cfg_path: Path, library: Path) -> float:
    cfg = load_config(str(cfg_path))
    entry = cfg.watchers[0]
    shutil.rmtree(library, ignore_errors=True)
    lib = Library(library)
    lib.create()
    cat = Catalog(lib.catalog_path)
    store = open_store(entry)
    t0 = time.perf_counter()
    stats = Puller(entry, lib, cat, store).pull_once()
    dt = time.perf_counter() - t0
    store.close()
    cat.close()
    assert stats.stored == [CLIP], stats
    return dt


def _openssh(sshd: ThrowawaySshd, remote: Path, dest: Path) -> float:
    batch = dest.parent / "batch"
    batch.write_text(f"get {remote / (CLIP + '.mp4')} {dest}\n")
    cmd = ["sftp", "-q", "-b", str(batch), "-P", str(sshd.port), "-i", str(sshd.user_key),
           "-o", f"UserKnownHostsFile={sshd.known_hosts}", "-o", "StrictHostKeyChecking=yes",
           "-o", "BatchMode=yes", f"{sshd.user}@127.0.0.1"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    return time.perf_counter() - t0


def _paramiko_get(cfg_path: Path, remote: Path, dest: Path) -> float:
    entry = load_config(str(cfg_path)).watchers[0]
    store = open_store(entry)
    t0 = time.perf_counter()
    store.sftp.get(str(remote / (CLIP + ".mp4")), str(dest))  # type: ignore[attr-defined]
    dt = time.perf_counter() - t0
    store.close()
    return dt


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-sftp-") as tmp:
        t = Path(tmp)
        sshd = ThrowawaySshd(t / "sshd")
        sshd.start()
        try:
            remote = t / "pi" / "recorded_clips"
            remote.mkdir(parents=True)
            m = big_clip(remote, CLIP, SIZE)
            # archive mode would move the file away after the first pull: copy it back each round
            cfg = write_config(t / "i.toml", t / "library",
                               [sshd.watcher_toml("bench", remote, after_transfer="archive")])
            keep = t / "keep"
            keep.mkdir()
            shutil.copy2(remote / f"{CLIP}.mp4", keep)
            shutil.copy2(remote / f"{CLIP}.json", keep)
            ours, ssh, pget = [], [], []
            for _ in range(3):  # interleaved rounds, best of three for each
                for f in keep.iterdir():
                    shutil.copy2(f, remote / f.name)
                ours.append(_ours(cfg, t / "library"))
                for f in keep.iterdir():
                    shutil.copy2(f, remote / f.name)
                ssh.append(_openssh(sshd, remote, t / "openssh.out"))
                pget.append(_paramiko_get(cfg, remote, t / "paramiko.out"))
        finally:
            sshd.stop()
    mb = m.size / 1e6
    r = {"ours_MBps": round(mb / min(ours), 1), "openssh_sftp_MBps": round(mb / min(ssh), 1),
         "paramiko_get_MBps": round(mb / min(pget), 1)}
    r["ratio_vs_openssh"] = round(r["ours_MBps"] / r["openssh_sftp_MBps"], 3)
    r["ratio_vs_paramiko_get"] = round(r["ours_MBps"] / r["paramiko_get_MBps"], 3)
    print(f"{mb:.0f} MB over loopback, best of 3: ours {r['ours_MBps']} MB/s (incl. sha256 verify + fsync), "
          f"OpenSSH sftp {r['openssh_sftp_MBps']} MB/s, paramiko get {r['paramiko_get_MBps']} MB/s")
    return r
