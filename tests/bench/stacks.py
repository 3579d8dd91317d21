"""Benchmark: CPU per frame of the watcher's path on the Pi's own stack vs current PyPI wheels.

The same code (this tree) runs under two interpreters, side by side in one run, alternating:
  bookworm  .venv-pi (make venv-pi): /usr/bin/python3 3.11 with Debian 12's numpy 1.24, OpenCV 4.6, PyAV 10
  pypi      the interpreter running this benchmark (.venv: numpy 2, OpenCV 5, PyAV >= 14)
Each run is a fresh process that measures its own CPU time (``time.process_time``: every thread, x264's
and OpenCV's included) for
  pipeline  ``run_watcher`` on the synthetic scene: capture (rendering), detector, trigger, encoder,
            pre-roll, recorder, clip writer, publish -- all of it, events every few seconds
  stages    the same frames once more, one stage at a time on one thread: render, detect (downscale to
            luma + MotionDetector), encode (libx264, the watcher's settings), pre-roll append
and reports milliseconds of CPU per frame in the steady state: a short warm-up run first pays the imports and
lazy set-ups, and the scene is rendered (its background and noise) before the clock starts. Medians over
the repeats.

Run: ``python -m tests.bench stacks [--repeats N] [--frames N] [--size WxH] [--pi-python PATH]``;
the last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PI_PYTHON = ROOT / ".venv-pi" / "bin" / "python"
FPS = 15.0
STAGES = ("render", "detect", "encode", "preroll")


class _Opened:
    """A source opened before the clock starts: the scene's one-off set-up is not a per-frame cost."""

    def __init__(self, source: Any) -> None:
        self._source, self._info = source, source.open()

    def open(self) -> Any:
        return self._info

    def frames(self) -> Iterator[Any]:
        return self._source.frames()

    def close(self) -> None:
        self._source.close()


def measure(frames: int, width: int, height: int) -> dict:
    """One run in this process: the pipeline, then the stages; CPU milliseconds per frame."""
    from shared.detector import MotionDetector, luma_from_bgr
    from tests.stack import versions
    from watcher.config import WatcherConfig, with_overrides
    from watcher.encoder import VideoEncoder
    from watcher.pipeline import run_watcher
    from watcher.preroll import PreRollBuffer
    from watcher.sources.synthetic import SyntheticSource

    duration = frames / FPS

    def scene(seconds: float = duration) -> SyntheticSource:
        return SyntheticSource(width=width, height=height, fps=FPS, seed=3, duration_s=seconds, first_event_s=1.0,
                               event_period_s=4.0)

    cfg = WatcherConfig()
    with tempfile.TemporaryDirectory(prefix="bench-stacks-") as data:
        cfg = with_overrides(cfg, data_dir=data)
        run_watcher(cfg, source=_Opened(scene(2.0)))  # warm-up: one clip, published
        source = _Opened(scene())
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = run_watcher(cfg, source=source)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    out = {"versions": versions(), "frames": result.frames, "clips": len(result.clips),
           "pipeline_ms": 1e3 * cpu / result.frames, "pipeline_wall_ms": 1e3 * wall / result.frames}

    source = scene()
    info = source.open()
    detector, encoder = MotionDetector(cfg.detector), VideoEncoder(info.width, info.height, info.fps, cfg.encoder)
    preroll = PreRollBuffer(cfg.trigger.pre_roll_s + 1.0)
    spent = dict.fromkeys(STAGES, 0.0)
    frames_iter, n = source.frames(), 0
    while True:
        t0 = time.process_time()
        frame = next(frames_iter, None)
        t1 = time.process_time()
        if frame is None:
            break
        assert frame.image is not None
        detector.process(luma_from_bgr(frame.image, cfg.detector.width), frame.t)
        t2 = time.process_time()
        packets = encoder.encode(frame.image, frame.t)
        t3 = time.process_time()
        for p in packets:
            preroll.append(p)
        t4 = time.process_time()
        for stage, dt in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            spent[stage] += dt
        n += 1
    source.close()
    out.update({f"{stage}_ms": 1e3 * s / n for stage, s in spent.items()})
    return out


def run_child(python: Path, frames: int, size: str) -> dict:
    r = subprocess.run([str(python), "-m", "tests.bench.stacks", "--child", "--frames", str(frames), "--size", size],
                       cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run(repeats: int = 5, frames: int = 150, size: str = "1280x720", pi_python: Path = PI_PYTHON) -> dict:
    from tests.stack import not_from_system

    if not pi_python.exists():
        raise SystemExit(f"{pi_python} not found: make venv-pi (Debian's python3-numpy python3-opencv python3-av)")
    pythons = {"bookworm": pi_python, "pypi": Path(sys.executable)}
    runs: dict[str, list[dict]] = {name: [] for name in pythons}
    for i in range(repeats):
        order = list(pythons) if i % 2 == 0 else list(reversed(pythons))  # alternate: no stack always goes first
        for name in order:
            runs[name].append(run_child(pythons[name], frames, size))
            r = runs[name][-1]
            print(f"  run {i + 1}/{repeats} {name:8}: pipeline {r['pipeline_ms']:.2f} ms CPU/frame "
                  f"({r['frames']} frames, {r['clips']} clips)", flush=True)
    bookworm, pypi = runs["bookworm"][0]["versions"], runs["pypi"][0]["versions"]
    if not_from_system(bookworm) or not not_from_system(pypi):
        raise SystemExit(f"the stacks are not what they claim: bookworm {bookworm}, pypi {pypi}")

    result: dict = {"size": size, "fps": FPS, "frames": frames, "repeats": repeats}
    for name, rs in runs.items():
        v = rs[0]["versions"]
        result[name] = {"python": v["python"]["version"], "numpy": v["numpy"]["version"],
                        "opencv": v["cv2"]["version"], "av": v["av"]["version"]}
        for key in ("pipeline_ms", "pipeline_wall_ms", *(f"{s}_ms" for s in STAGES)):
            result[name][key] = round(statistics.median(r[key] for r in rs), 3)
            result[name][key.replace("_ms", "_ms_runs")] = [round(r[key], 3) for r in rs]
    print(f"CPU per frame, {size} @ {FPS:g} fps synthetic scene, median of {repeats} runs each (ms):")
    print(f"  {'':10} {'pipeline':>9} {'render':>7} {'detect':>7} {'encode':>7} {'preroll':>7}   stack")
    for name in runs:
        m = result[name]
        print(f"  {name:10} {m['pipeline_ms']:9.2f} {m['render_ms']:7.2f} {m['detect_ms']:7.2f} {m['encode_ms']:7.2f} "
              f"{m['preroll_ms']:7.3f}   Python {m['python']}, numpy {m['numpy']}, OpenCV {m['opencv']}, "
              f"PyAV {m['av']}")
    ratio = result["bookworm"]["pipeline_ms"] / result["pypi"]["pipeline_ms"]
    result["bookworm_vs_pypi_pipeline"] = round(ratio, 3)
    print(f"  the Pi's stack costs {ratio:.2f}x the PyPI stack's CPU per frame for the whole path")
    return result


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench stacks")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--size", default="1280x720")
    p.add_argument("--pi-python", type=Path, default=PI_PYTHON)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        import logging

        logging.basicConfig(level=logging.WARNING)
        w, h = (int(v) for v in args.size.split("x"))
        print(json.dumps(measure(args.frames, w, h)))
        return 0
    print(json.dumps(run(args.repeats, args.frames, args.size, args.pi_python)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
