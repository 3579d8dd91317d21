"""Analysis throughput: seconds of clip analyzed per wall-clock second, with 1 worker and with
all cores, on the same clips in one run.

The clips are real watcher output: the watcher runs on the first 40 s of vtest.avi (768x576,
10 fps, people walking all the time: the busy case) and on 45 s of the synthetic scene (640x360,
15 fps, a walker every 14 s: the typical case). They are pulled into two fresh libraries with the
real puller (local transport), and :func:`analyze_pending` analyzes each library, once with one
worker and once with one worker per core: pool start-up, decoding, motion, HOG people detection,
stills and catalog updates included. The workers' CPU time is reported too: wall-clock figures
depend on what else the machine runs (the load average before the runs is printed).

Target: keep up with 8 cameras' worth of typical activity. Assumption: a camera's clips cover
``DUTY`` (10 %) of its day on average (e.g. ~720 clips of 12 s a day: pre-roll, a passer-by,
post-roll), at the resolutions above. 8 cameras then produce 0.8 s of clip per second, so the
inspector keeps up when ``realtime_factor`` (media seconds analyzed per second, all cores) is
at least ``8 * DUTY``; ``cameras_kept_up`` = realtime_factor / DUTY.

Run: ``python -m tests.bench analysis``; the last line printed is JSON.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

from inspector.analysis.pending import analyze_pending, default_workers
from inspector.config import load_config
from inspector.fleet import pull_all
from tests.footage import footage_path
from tests.inspector_env import copy_clips, write_config
from watcher.config import WatcherConfig
from watcher.pipeline import run_watcher
from watcher.sources.synthetic import SyntheticSource

DUTY = 0.10
CAMERAS = 8


def _record(data: Path, camera: str, *, source: SyntheticSource | None = None, spec: str = "synthetic",
            duration_s: float | None = None) -> None:
    cfg = WatcherConfig()
    cfg = replace(cfg, watcher=replace(cfg.watcher, data_dir=str(data), camera=camera),
                  source=replace(cfg.source, spec=spec))
    run_watcher(cfg, source=source, duration_s=duration_s)


def _library(tmp: Path, name: str, recorded: list[Path]) -> Path:
    tables = []
    for i, rec in enumerate(recorded):
        remote = tmp / f"{name}-remote{i}"
        copy_clips(rec, remote)
        tables.append(f'[[watcher]]\nname = "w{i}"\ntransport = "local"\nremote_dir = "{remote}"\n')
    library = tmp / name
    cfg = write_config(tmp / f"{name}.toml", library, tables)
    assert all(r.error is None for r in pull_all(load_config(str(cfg))))
    return library


def _measure(library: Path, workers: int) -> dict[str, float]:
    s = analyze_pending(library, workers)
    assert s.analyzed and not s.failed and not s.quarantined, s
    return {"workers": workers, "clips": len(s.analyzed), "media_s": round(s.media_s, 2),
            "wall_s": round(s.wall_s, 2), "media_per_s": round(s.media_s / s.wall_s, 3),
            "cpu_s": round(s.cpu_s, 2), "media_per_cpu_s": round(s.media_s / max(s.cpu_s, 1e-9), 3)}


def run() -> dict[str, object]:
    cores = default_workers()
    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as d:
        tmp = Path(d)
        print("recording clips with the real watcher (vtest.avi 40 s, synthetic 45 s)...", flush=True)
        _record(tmp / "street", "street", spec=f"file:{footage_path('vtest.avi')}", duration_s=40.0)
        _record(tmp / "synth", "synth", source=SyntheticSource(seed=11, duration_s=45.0, first_event_s=2.0,
                                                               event_period_s=14.0))
        recorded = [tmp / "street" / "recorded_clips", tmp / "synth" / "recorded_clips"]
        one_lib, all_lib = _library(tmp, "lib1", recorded), _library(tmp, "libn", recorded)
        load = os.getloadavg()[0]
        one = _measure(one_lib, 1)
        print(f"1 worker:   {one['clips']} clips, {one['media_s']:.1f} s of video in {one['wall_s']:.1f} s "
              f"= {one['media_per_s']:.2f} s/s", flush=True)
        alln = _measure(all_lib, cores)
        print(f"{cores} workers:  {alln['clips']} clips, {alln['media_s']:.1f} s of video in {alln['wall_s']:.1f} s "
              f"= {alln['media_per_s']:.2f} s/s", flush=True)
    speedup = alln["media_per_s"] / one["media_per_s"]
    rtf = alln["media_per_s"]
    kept_up = rtf / DUTY
    print(f"speedup {speedup:.2f}x on {cores} cores; realtime factor {rtf:.2f} (media s per s, all cores)")
    per_cpu = alln["media_per_cpu_s"]
    print(f"CPU cost: {per_cpu:.2f} s of video per CPU second in the workers; on an otherwise idle machine "
          f"{cores} cores could do at most {per_cpu * cores:.2f} s/s")
    print(f"assuming clips cover {DUTY:.0%} of each camera's day: keeps up with {kept_up:.1f} cameras "
          f"(target {CAMERAS}: {'yes' if kept_up >= CAMERAS else 'NO'}); load average before: {load:.1f}")
    return {"speedup": round(speedup, 3), "realtime_factor": round(rtf, 3), "one_worker": one, "all_cores": alln,
            "cores": cores, "assumed_duty": DUTY, "cameras_kept_up": round(kept_up, 1), "target_cameras": CAMERAS,
            "keeps_up": kept_up >= CAMERAS, "load_average_before": round(load, 2),
            "media_per_cpu_s": per_cpu, "idle_machine_bound": round(per_cpu * cores, 3)}


if __name__ == "__main__":
    import json

    print(json.dumps(run()))
