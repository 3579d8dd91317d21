"""Pulling clips: the inspector vs OpenSSH and rsync, side by side, against one throwaway sshd.

    python -m tests.bench transfer [--rtt-ms 40 --mbit 40] [--repeat 3] [--only big|backlog|rss]
                                   [--no-link] [--big-mb 200] [--backlog 300] [--rss-mb 20,200]

In one run, each measurement repeated (medians reported; within a repeat the tools take turns
in a rotating order, so each sees the same machine state):
  big      one clip (--big-mb) with its manifest: the inspector (pull + verify + archive, as
           ``python -m inspector pull`` does it) vs ``sftp -b`` (get) vs ``scp`` vs ``rsync -e ssh``
  backlog  --backlog clips of 1 MB with their manifests: the inspector vs
           ``rsync -a --remove-source-files -e ssh``, a fresh copy of the backlog for each run
  link_*   both again through tests/netproxy.py's LinkProxy (in a child process): --rtt-ms round
           trip (half of it each way), --mbit bandwidth (not with --no-link)
  session  one ``ssh HOST true`` per way and repeat: the fixed cost rsync pays for its remote command
           (connection + the account's login shell) and the SFTP subsystem does not; shown, not subtracted
  rss      the inspector's peak RSS (VmHWM) pulling one clip of each --rss-mb size, each pull a child process
Every tool logs in with the inspector's key and pinned known_hosts only (tests/bench/transfer_tools.py)
and what it moved is checked (sizes, sha256, sources removed or archived) before its time counts.
Last line: JSON with big_ratio (inspector ÷ sftp MB/s), backlog_ratio (inspector ÷ rsync clips/s),
link_big_ratio, link_backlog_ratio, rss_kb per size, and the medians behind them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from inspector.library import Library
from tests.bench.transfer_tools import (
    Endpoint,
    TransferCheckFailed,
    clear_dir,
    refill,
    run_inspector,
    run_rsync_backlog,
    run_rsync_one,
    run_scp,
    run_sftp,
    run_ssh_true,
    sha256_file,
)
from tests.inspector_env import big_clip, write_config
from tests.inspector_net import table
from tests.throwaway_sshd import ThrowawaySshd

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
WATCHER = "bench"
MB = 1_000_000
BACKLOG_CLIP_BYTES = 1 * MB
BIG_ID = "bench_20261122T010000Z_0001"
BIG_TOOLS = ("inspector", "sftp", "scp", "rsync")
BACKLOG_TOOLS = ("inspector", "rsync")


@dataclass
class Options:
    big_mb: float = 200.0
    backlog: int = 300
    rss_mb: tuple[float, ...] = (20.0, 200.0)
    rtt_ms: float = 40.0
    mbit: float = 40.0
    repeat: int = 3
    only: str | None = None  # big | backlog | rss
    link: bool = True

    def wants(self, part: str) -> bool:
        return self.only is None or self.only == part


def parse_args(argv: list[str]) -> Options:
    p = argparse.ArgumentParser(prog="python -m tests.bench transfer", description=__doc__.split("\n")[0])
    p.add_argument("--rtt-ms", type=float, default=40.0, help="the proxied link's round trip (default 40)")
    p.add_argument("--mbit", type=float, default=40.0, help="the proxied link's bandwidth, Mbit/s (default 40)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each measurement; medians reported (default 3)")
    p.add_argument("--only", choices=("big", "backlog", "rss"), help="run one part only")
    p.add_argument("--no-link", action="store_true", help="loopback only, no proxied link")
    p.add_argument("--big-mb", type=float, default=200.0, help="the big clip's size (default 200)")
    p.add_argument("--backlog", type=int, default=300, help="clips of 1 MB in the backlog (default 300)")
    p.add_argument("--rss-mb", default="20,200", help="clip sizes for the peak RSS, comma-separated (default 20,200)")
    a = p.parse_args(argv)
    if a.repeat < 1 or a.backlog < 1 or a.big_mb <= 0 or a.rtt_ms < 0 or a.mbit <= 0:
        p.error("--repeat, --backlog, --big-mb and --mbit must be positive, --rtt-ms not negative")
    try:
        rss = tuple(float(x) for x in a.rss_mb.split(","))
    except ValueError:
        p.error("--rss-mb takes sizes in MB separated by commas, e.g. 20,200")
    return Options(big_mb=a.big_mb, backlog=a.backlog, rss_mb=rss, rtt_ms=a.rtt_ms, mbit=a.mbit,
                   repeat=a.repeat, only=a.only, link=not a.no_link)


def _label(mb: float) -> str:
    return f"{mb:g}"


@dataclass
class Sources:
    """The clips every run starts from, made once: a remote directory is refilled from them."""

    root: Path
    single: dict[float, tuple[Path, int, str]] = field(default_factory=dict)  # MB -> (dir, size, sha256)
    backlog_dir: Path | None = None
    backlog_ids: dict[str, str] = field(default_factory=dict)  # clip id -> sha256
    backlog_files: dict[str, str] = field(default_factory=dict)  # every file name -> sha256

    def one_clip(self, mb: float) -> tuple[Path, int, str]:
        if mb not in self.single:
            d = self.root / f"one-{_label(mb)}"
            d.mkdir(parents=True)
            m = big_clip(d, BIG_ID, int(mb * MB), seed=int(mb))
            self.single[mb] = (d, m.size, m.sha256)
        return self.single[mb]

    def backlog(self, n: int) -> Path:
        if self.backlog_dir is None:
            d = self.root / "backlog"
            d.mkdir(parents=True)
            for i in range(1, n + 1):
                m = big_clip(d, f"bench_20261122T000000Z_{i:04d}", BACKLOG_CLIP_BYTES, seed=10_000 + i)
                self.backlog_ids[m.id] = m.sha256
            self.backlog_files = {f.name: sha256_file(f) for f in d.iterdir()}
            self.backlog_dir = d
        return self.backlog_dir


@dataclass
class Way:
    """One way to the watcher (loopback or the proxied link): how the tools log in, and the inspector's
    config for each remote directory."""

    prefix: str  # "" for loopback, "link_" for the proxy: the prefix of its result keys
    endpoint: Endpoint
    one_config: Path
    backlog_config: Path


def _child_env() -> dict[str, str]:
    """The environment of our Python children: this checkout first on their path."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


@contextlib.contextmanager
def link_process(target_port: int, delay_s: float, bytes_per_s: float) -> Iterator[int]:
    """A LinkProxy in a child process (transfer_child link); yields its port, ends it on the way out."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench.transfer_child", "link", str(target_port),
                             repr(delay_s), repr(bytes_per_s)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=_child_env(), start_new_session=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"the link proxy did not start (exit {proc.poll()})")
        yield int(line)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()  # the proxy's signal to close its connections and exit
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pinned_for(port: int, sshd: ThrowawaySshd, path: Path) -> Path:
    """A known_hosts pinning sshd's host key for ``port`` (the proxy's port for the link)."""
    lines = sshd.known_hosts.read_text().splitlines()
    path.write_text("\n".join(x.replace(f"]:{sshd.port} ", f"]:{port} ", 1) for x in lines) + "\n")
    return path


def _way(prefix: str, port: int, sshd: ThrowawaySshd, tmp: Path, remotes: dict[str, Path]) -> Way:
    known_hosts = sshd.known_hosts if port == sshd.port else _pinned_for(port, sshd, tmp / f"known_hosts-{port}")
    configs = {}
    for kind, remote in remotes.items():
        toml = table(sshd.watcher_toml(WATCHER, remote, after_transfer="archive"), port=port,
                     known_hosts=str(known_hosts))
        configs[kind] = write_config(tmp / f"inspector-{prefix}{kind}.toml", tmp / f"library-{prefix}{kind}", [toml])
    return Way(prefix, Endpoint(port, sshd.user, sshd.user_key, known_hosts), configs["one"], configs["backlog"])


class Bench:
    def __init__(self, opts: Options, tmp: Path, sshd: ThrowawaySshd) -> None:
        self.opts = opts
        self.tmp = tmp
        self.sshd = sshd
        self.sources = Sources(tmp / "sources")
        self.remotes = {"one": tmp / "pi-one" / "recorded_clips", "backlog": tmp / "pi-backlog" / "recorded_clips"}
        self.out = tmp / "out"
        self.out.mkdir()
        self.seconds: dict[str, dict[str, list[float]]] = {}  # case -> tool -> seconds per run
        self.rss: dict[str, list[dict[str, int]]] = {}  # MB -> one entry per run

    def prepare(self) -> None:
        """Make every source clip the run needs, then write them out, so that no tool's run pays for
        the writeback of files made before it."""
        if self.opts.wants("big"):
            self.sources.one_clip(self.opts.big_mb)
        if self.opts.wants("backlog"):
            self.sources.backlog(self.opts.backlog)
        if self.opts.wants("rss"):
            for mb in self.opts.rss_mb:
                self.sources.one_clip(mb)
        os.sync()

    def way(self, prefix: str, port: int) -> Way:
        return _way(prefix, port, self.sshd, self.tmp, self.remotes)

    def _fresh(self, kind: str, src: Path) -> Path:
        remote = self.remotes[kind]
        refill(src, remote)
        clear_dir(remote.parent / "transferred")
        return remote

    def _record(self, case: str, tool: str, run: Callable[[], float]) -> None:
        dt = run()
        self.seconds.setdefault(case, {}).setdefault(tool, []).append(dt)
        logger.info("%s %s: %.2f s", case, tool, dt)

    def big(self, way: Way, turn: int) -> None:
        src, size, sha = self.sources.one_clip(self.opts.big_mb)
        remote_file = self.remotes["one"] / f"{BIG_ID}.mp4"
        dest = self.out / f"{BIG_ID}.mp4"
        ep = way.endpoint
        runs: dict[str, Callable[[], float]] = {
            "inspector": lambda: run_inspector(way.one_config, WATCHER, {BIG_ID: sha}, self.remotes["one"]),
            "sftp": lambda: run_sftp(ep, remote_file, dest, size, sha),
            "scp": lambda: run_scp(ep, remote_file, dest, size, sha),
            "rsync": lambda: run_rsync_one(ep, remote_file, dest, size, sha),
        }
        for tool in _rotated(BIG_TOOLS, turn):
            self._fresh("one", src)
            self._record(f"{way.prefix}big", tool, runs[tool])

    def session(self, way: Way) -> None:
        """The fixed cost of one ssh session running a command (connection + login shell), which
        rsync pays and the SFTP subsystem does not: reported beside the transfers, not in them."""
        self._record(f"{way.prefix}session", "ssh_true", lambda: run_ssh_true(way.endpoint))

    def backlog(self, way: Way, turn: int) -> None:
        src = self.sources.backlog(self.opts.backlog)
        remote = self.remotes["backlog"]
        runs: dict[str, Callable[[], float]] = {
            "inspector": lambda: run_inspector(way.backlog_config, WATCHER, self.sources.backlog_ids, remote),
            "rsync": lambda: run_rsync_backlog(way.endpoint, remote, self.out / "backlog", self.sources.backlog_files),
        }
        for tool in _rotated(BACKLOG_TOOLS, turn):
            self._fresh("backlog", src)
            self._record(f"{way.prefix}backlog", tool, runs[tool])

    def peak_rss(self, way: Way) -> None:
        """One pull of each size in a child process of its own; its VmHWM (and ru_maxrss, see result())."""
        for mb in self.opts.rss_mb:
            src, _, sha = self.sources.one_clip(mb)
            self._fresh("one", src)
            library = Library(self.tmp / f"library-{way.prefix}one")
            shutil.rmtree(library.root, ignore_errors=True)
            try:
                r = subprocess.run([sys.executable, "-m", "tests.bench.transfer_child", "pull", str(way.one_config)],
                                   capture_output=True, text=True, env=_child_env(), timeout=3600,
                                   stdin=subprocess.DEVNULL)
                if r.returncode != 0:
                    raise TransferCheckFailed(f"the RSS pull exited {r.returncode}: {r.stderr.strip()[-500:]}")
                got = json.loads(r.stdout.strip().splitlines()[-1])
                if (got["stored"] != [BIG_ID] or sha256_file(library.final(WATCHER, BIG_ID)) != sha
                        or any(self.remotes["one"].iterdir())):
                    raise TransferCheckFailed(f"the RSS pull of {mb:g} MB did not store and archive the clip")
            finally:
                shutil.rmtree(library.root, ignore_errors=True)
            self.rss.setdefault(_label(mb), []).append({"maxrss_kb": got["maxrss_kb"], "vmhwm_kb": got["vmhwm_kb"]})
            logger.info("rss %s MB: VmHWM %d KiB, ru_maxrss %d KiB", _label(mb), got["vmhwm_kb"], got["maxrss_kb"])

    # --- results ------------------------------------------------------------------------------

    def median_s(self, case: str) -> dict[str, float]:
        return {tool: statistics.median(xs) for tool, xs in self.seconds.get(case, {}).items()}

    def result(self) -> dict[str, object]:
        o = self.opts
        out: dict[str, object] = {}
        lines = []
        for prefix, where in (("", "loopback"), ("link_", f"link {o.rtt_ms:g} ms RTT, {o.mbit:g} Mbit/s")):
            if big := self.median_s(f"{prefix}big"):
                mbps = {t: round(o.big_mb / s, 2) for t, s in big.items()}
                out[f"{prefix}big_ratio"] = round(big["sftp"] / big["inspector"], 3)
                out[f"{prefix}big_MBps"] = mbps
                out[f"{prefix}big_s"] = {t: round(s, 3) for t, s in big.items()}
                lines.append(f"big clip {o.big_mb:g} MB, {where}: " + " | ".join(
                    f"{t} {mbps[t]:.1f} MB/s ({big[t]:.2f} s)" for t in BIG_TOOLS if t in big)
                    + f"  -> {prefix}big_ratio {out[f'{prefix}big_ratio']}")
            if backlog := self.median_s(f"{prefix}backlog"):
                cps = {t: round(o.backlog / s, 2) for t, s in backlog.items()}
                out[f"{prefix}backlog_ratio"] = round(backlog["rsync"] / backlog["inspector"], 3)
                out[f"{prefix}backlog_clips_per_s"] = cps
                out[f"{prefix}backlog_s"] = {t: round(s, 3) for t, s in backlog.items()}
                lines.append(f"backlog {o.backlog} x 1 MB + manifests, {where}: " + " | ".join(
                    f"{t} {cps[t]:.1f} clips/s ({backlog[t]:.2f} s)" for t in BACKLOG_TOOLS if t in backlog)
                    + f"  -> {prefix}backlog_ratio {out[f'{prefix}backlog_ratio']}")
            if session := self.median_s(f"{prefix}session"):
                out[f"{prefix}ssh_session_s"] = round(session["ssh_true"], 3)
                lines.append(f"one ssh session running `true`, {where}: {session['ssh_true']:.2f} s "
                             "(in rsync's times, not in sftp's or the inspector's)")
        if self.rss:
            # VmHWM: the child's own peak. Its ru_maxrss also counts the pages it had between fork and exec
            # (Linux keeps the old mm's high-water mark across execve): at least this benchmark's own RSS.
            rss_kb = {mb: int(statistics.median(r["vmhwm_kb"] for r in runs)) for mb, runs in self.rss.items()}
            out["rss_kb"] = rss_kb
            out["ru_maxrss_kb"] = {mb: int(statistics.median(r["maxrss_kb"] for r in runs))
                                   for mb, runs in self.rss.items()}
            lines.append("inspector peak RSS (VmHWM of the pulling process): " + " | ".join(
                f"{mb} MB clip {kb / 1024:.0f} MiB" for mb, kb in rss_kb.items()))
        out["params"] = {"big_mb": o.big_mb, "backlog": o.backlog, "rtt_ms": o.rtt_ms, "mbit": o.mbit,
                         "repeat": o.repeat, "link": o.link, "only": o.only}
        for line in lines:
            print(f"{line}  (median of {o.repeat})")
        return out


def _rotated(tools: tuple[str, ...], turn: int) -> list[str]:
    k = turn % len(tools)
    return list(tools[k:] + tools[:k])


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C: temp dirs, sshd, the proxy


def run(opts: Options) -> dict[str, object]:
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with contextlib.ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-transfer-")))
            sshd = ThrowawaySshd(tmp / "sshd")
            stack.callback(sshd.stop)
            sshd.start()
            bench = Bench(opts, tmp, sshd)
            bench.prepare()
            ways = [bench.way("", sshd.port)]
            if opts.link and (opts.wants("big") or opts.wants("backlog")):
                port = stack.enter_context(link_process(sshd.port, opts.rtt_ms / 2000, opts.mbit * 1e6 / 8))
                ways.append(bench.way("link_", port))
            for turn in range(opts.repeat):
                for way in ways:
                    if opts.wants("big"):
                        bench.big(way, turn)
                    if opts.wants("backlog"):
                        bench.backlog(way, turn)
                    if opts.wants("big") or opts.wants("backlog"):
                        bench.session(way)
                if opts.wants("rss"):
                    bench.peak_rss(ways[0])
            return bench.result()
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str]) -> dict[str, object]:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logger.setLevel(logging.INFO)
    return run(parse_args(argv))
