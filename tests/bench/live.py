"""Benchmark: the live view's CPU cost per viewer, side by side in one run.

``python -m watcher`` on the synthetic scene in real time (``--seconds`` of it) with ``[live]`` enabled and
0, 1, then 2 viewers reading the MJPEG stream as fast as it comes (``fps`` 5, the default), alternating,
``--repeat`` times: the watcher process's CPU seconds (getrusage of the child: every thread) per second of
scene, and the extra per viewer. Medians.

Run: ``python -m tests.bench live [--seconds 30] [--repeat 3]``; the last line is JSON.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

from tests.proc import ROOT

TOKEN = "bench-live-token"


def _run(tmp: Path, seconds: float, viewers: int) -> tuple[float, int]:
    """CPU seconds of one watcher run with ``viewers`` readers, and the JPEG bytes they received."""
    token = tmp / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    cfg = tmp / "watcher.toml"
    cfg.write_text(f'[watcher]\ncamera = "bench"\ndata_dir = "{tmp / "data"}"\n'
                   f'[live]\nenabled = true\nport = 0\ntoken_file = "{token}"\n')
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, "-m", "watcher", "--config", str(cfg), "--source", "synthetic",
                             "--realtime", "--duration", str(seconds)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    base = ""
    for line in proc.stdout:
        m = re.search(r"live view on (http://\S+?)/ ", line)
        if m:
            base = m.group(1)
            break
    got = [0] * viewers

    def view(i: int) -> None:
        try:
            with urllib.request.urlopen(f"{base}/stream.mjpg?token={TOKEN}", timeout=30) as r:
                while chunk := r.read(65536):
                    got[i] += len(chunk)
        except OSError:
            pass  # the watcher ended the stream

    threads = [threading.Thread(target=view, args=(i,), daemon=True) for i in range(viewers)]
    for t in threads:
        t.start()
    for _ in proc.stdout:
        pass
    proc.wait()
    for t in threads:
        t.join(30)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), sum(got)


def main(argv: list[str]) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m tests.bench live", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--repeat", type=int, default=3)
    opts = p.parse_args(argv)
    cpu: dict[int, list[float]] = {0: [], 1: [], 2: []}
    received: dict[int, list[int]] = {0: [], 1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="bench-live-") as t:
        for r in range(opts.repeat):
            for n in (0, 1, 2):
                d = Path(t) / f"{r}-{n}"
                d.mkdir()
                s, b = _run(d, opts.seconds, n)
                cpu[n].append(s)
                received[n].append(b)
    per_s = {n: statistics.median(v) / opts.seconds for n, v in cpu.items()}
    out = {"cpu_s_per_scene_s": {str(n): round(v, 4) for n, v in per_s.items()},
           "per_viewer_cpu_share": round((per_s[2] - per_s[0]) / 2, 4),
           "first_viewer_cpu_share": round(per_s[1] - per_s[0], 4),
           "kb_received_per_viewer": {str(n): round(statistics.median(v) / max(n, 1) / 1024)
                                      for n, v in received.items()},
           "params": vars(opts)}
    print(f"watcher CPU (share of one core), median of {opts.repeat} x {opts.seconds:g} s: no viewer "
          f"{per_s[0]:.3f} | 1 viewer {per_s[1]:.3f} | 2 viewers {per_s[2]:.3f} -> about {out['per_viewer_cpu_share']} "
          f"of a core per viewer (the first one also starts the renderer: {out['first_viewer_cpu_share']})")
    return out
