"""Replay speed of ``python -m inspector tune``: clip-seconds replayed per second, per candidate, and how it
scales with the number of candidates and of worker processes; side by side with the way one would do it
without tune: running the watcher itself over each clip once per candidate (``python -m watcher --source
file:CLIP``, in process: decode, detect, trigger, and encode what it records).

The clips are the street scene's (tests/street_scene.py: people, shake, rain, shadows; 384x288, 10 fps)
as the real watcher records them with its defaults. Each configuration runs ``ROUNDS`` times,
interleaved; medians are reported, with the load average before the runs (the machine is shared).

``candidate_clip_s_per_s`` = clip-seconds x candidates / wall seconds: how many seconds of footage one
candidate's judgement costs, inverted.

Also the replay's agreement with the Pi (what ``tune`` reports, :mod:`inspector.tuning.judge`) on three
recordings made with the watcher's defaults: the street scene, the synthetic scene (45 s, a walker every
14 s) and the whole of vtest.avi (people all the time: a long event, so continuations that are not
judged). Run: ``python -m tests.bench tune [--rounds N]``; JSON last.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from inspector.tuning.candidates import build, parse_set
from inspector.tuning.judge import judge, recorded_with
from inspector.tuning.labelled_set import TuneClip
from inspector.tuning.run import replay_all
from shared.manifest import parse_manifest
from shared.replay import Detection
from tests import street_scene
from tests.footage import footage_path
from watcher.config import load_config
from watcher.pipeline import run_watcher
from watcher.sources.synthetic import SyntheticSource

CANDIDATES = (1, 4, 16)
JOBS = (1, 2)
ROUNDS = 3
TRIGGER = "[trigger]\npre_roll_s = 3.0\npost_roll_s = 2.0\nmax_clip_s = 30.0\n"


def _clips(recorded: Path) -> list[TuneClip]:
    clips = []
    for path in sorted(recorded.glob("*.json")):
        m = parse_manifest(path.read_bytes())
        clips.append(TuneClip("pi1", m.id, m.camera, "real", "", path.with_suffix(".mp4"), m, None))
    return clips


def _record(tmp: Path, name: str, spec: str, trigger: str = TRIGGER,
            source: SyntheticSource | None = None) -> list[TuneClip]:
    config = tmp / f"{name}.toml"
    config.write_text(f'[watcher]\ncamera = "{name}"\ndata_dir = "{tmp / name}"\n{trigger}[source]\nspec = "{spec}"\n')
    run_watcher(load_config(str(config)), source=source)
    return _clips(tmp / name / "recorded_clips")


def _agreement(clips: list[TuneClip]) -> dict[str, Any]:
    """The replay of the current settings against the Pi's decisions (every clip counts as real here)."""
    current = recorded_with(clips[0]) or Detection()  # the settings the watcher recorded them with
    cands = build(current, [], [])
    j = judge(clips, cands, replay_all(clips, [c.detection for c in cands], jobs=2))
    a = j.agreement
    off = a.offsets
    return {"clips": len(clips), "compared": len(a.compared), "agree": sum(c.agrees for c in a.compared),
            "ratio": a.ratio, "median_offset_s": statistics.median(off) if off else None,
            "max_offset_s": max(off) if off else None, "not_judged": [s.why.split(":")[0] for s in j.skipped]}


def _candidates(n: int) -> list[Detection]:
    """The current settings and n - 1 others (thresholds and shake tolerances)."""
    sets = [parse_set([f"detector.threshold={4 + k % 8}", f"detector.shake_px={1 + k // 8}"]) for k in range(1, n)]
    return [c.detection for c in build(Detection(), sets, [])][:n]


def _watcher_rerun(clips: list[TuneClip], candidates: list[Detection], tmp: Path) -> float:
    """Wall seconds to run the watcher over every clip once per candidate."""
    t0 = time.perf_counter()
    for i, cand in enumerate(candidates):
        for c in clips:
            data = tmp / f"rerun-{i}-{c.clip_id}"
            config = tmp / f"rerun-{i}.toml"
            det = "".join(f"{k} = {v!r}\n" for k, v in cand.to_doc()["detector"].items() if k != "mask")
            config.write_text(f'[watcher]\ncamera = "street"\ndata_dir = "{data}"\n{TRIGGER}'
                              f'[source]\nspec = "file:{c.video}"\n[detector]\n{det}')
            run_watcher(load_config(str(config)))
    return time.perf_counter() - t0


def main(argv: list[str]) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m tests.bench tune")
    p.add_argument("--rounds", type=int, default=ROUNDS, help="timed rounds; 0: measure the agreement only")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        video = tmp / "street.mp4"
        street_scene.build(video)
        clips = _record(tmp, "street", f"file:{video}")
        agreement = {"street": _agreement(clips),
                     "synthetic": _agreement(_record(tmp, "synthetic", "synthetic", "", SyntheticSource(
                         seed=11, duration_s=45.0, first_event_s=2.0, event_period_s=14.0))),
                     "vtest": _agreement(_record(tmp, "vtest", f"file:{footage_path('vtest.avi')}", ""))}
        for name, a in agreement.items():
            print(f"agreement, {name}: {a['agree']}/{a['compared']} of {a['clips']} clips; offsets median "
                  f"{a['median_offset_s']} s, max {a['max_offset_s']} s; not judged: {a['not_judged']}")
        clip_s = sum(c.manifest.duration_s for c in clips if c.manifest)
        print(f"{len(clips)} clips, {clip_s:.1f} clip-seconds; load average {os.getloadavg()[0]:.2f}")
        walls: dict[tuple[int, int], list[float]] = {}
        decode_share: list[float] = []
        rerun: dict[int, list[float]] = {}
        for _ in range(args.rounds):
            for jobs in JOBS:
                for n in CANDIDATES:
                    t0 = time.perf_counter()
                    replays = replay_all(clips, _candidates(n), jobs=jobs)
                    walls.setdefault((jobs, n), []).append(time.perf_counter() - t0)
                    if jobs == 1 and n == 1:
                        dec = sum(r.decode_s for r in replays.values())
                        cpu = sum(o.cpu_s for r in replays.values() for o in r.outcomes)
                        decode_share.append(dec / (dec + cpu))
            for n in (1, 4):
                rerun.setdefault(n, []).append(_watcher_rerun(clips, _candidates(n), tmp))
    result: dict[str, Any] = {"clips": len(clips), "clip_s": round(clip_s, 1), "rounds": args.rounds,
                              "agreement": agreement}
    if walls:
        print(f"{'jobs':>4} {'candidates':>10} {'wall s':>8} {'candidate clip-s/s':>19}")
    for (jobs, n), ws in sorted(walls.items()):
        wall = statistics.median(ws)
        rate = clip_s * n / wall
        result[f"jobs{jobs}_cand{n}_wall_s"] = round(wall, 2)
        result[f"jobs{jobs}_cand{n}_candidate_clip_s_per_s"] = round(rate, 1)
        print(f"{jobs:4d} {n:10d} {wall:8.2f} {rate:19.1f}")
    for n, ws in sorted(rerun.items()):
        wall = statistics.median(ws)
        result[f"watcher_rerun_cand{n}_candidate_clip_s_per_s"] = round(clip_s * n / wall, 1)
        result[f"tune_vs_watcher_rerun_cand{n}"] = round(wall / result[f"jobs1_cand{n}_wall_s"], 2)
        print(f"watcher re-run, {n} candidate(s): {wall:.2f} s, {clip_s * n / wall:.1f} candidate clip-s/s; "
              f"tune (1 job) is {result[f'tune_vs_watcher_rerun_cand{n}']}x faster")
    result["decode_share_1_candidate"] = round(statistics.median(decode_share), 3) if decode_share else None
    if walls:  # --rounds 0: the agreement only
        result["scaling_16_vs_1_candidate"] = round(result["jobs1_cand16_wall_s"] / result["jobs1_cand1_wall_s"], 2)
        result["scaling_2_jobs_vs_1_at_16"] = round(result["jobs1_cand16_wall_s"] / result["jobs2_cand16_wall_s"], 2)
    return result
