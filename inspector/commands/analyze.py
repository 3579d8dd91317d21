"""``python -m inspector analyze``: analyze video files, or the library's pending clips.

    python -m inspector analyze VIDEO... [--json] [--out DIR] [--workers N]
        any video file FFmpeg reads; prints a summary per file (one JSON document with --json);
        --out DIR also writes each file's stills and <name>.analysis.json into DIR.
        Exit 1 if a file could not be analyzed.
    python -m inspector analyze --config FILE [--reanalyze] [--workers N] [--json]
        the library's stored clips not analyzed yet (--reanalyze: also those analyzed by an older
        analyzer version), then rebuilds the report. Exit 1 if a clip failed (quarantined is not failed).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from inspector.commands.library import open_library
from shared.cli import UsageError

logger = logging.getLogger("inspector.analysis")


def _one(path: str, out: str | None) -> dict[str, Any]:
    """Pool work unit for ad-hoc files: never raises for a bad file, reports it instead."""
    from inspector.analysis.analyzer import ClipRejected, analyze_video, write_artifacts
    p = Path(path)
    try:
        analysis = analyze_video(p)
    except ClipRejected as e:
        return {"file": str(p), "error": str(e)}
    if out:
        write_artifacts(Path(out) / p.name, analysis)
    data = dict(analysis.data, file=str(p))
    data["motion"] = {k: v for k, v in data["motion"].items() if k != "activity"}
    return data


def _text(d: dict[str, Any]) -> str:
    if "error" in d:
        return f"{d['file']}: {d['error']}"
    v, m, p = d["video"], d["motion"], d["people"]
    segs = ", ".join(f"{s['start_s']:.1f}-{s['end_s']:.1f} s" for s in m["segments"]) or "none"
    people = f"up to {p['peak']} (best frame at {p['best_t']:.1f} s)" if p["peak"] else "none found"
    return (f"{d['file']}: {v['width']}x{v['height']} {v['codec']}, {v['fps']:g} fps, {v['frames']} frames, "
            f"{v['duration_s']:.1f} s\n  motion: {m['active_s']:.1f} s in {len(m['segments'])} segment(s): {segs}; "
            f"peak {m['peak']:.2%} at {m['peak_t']:.1f} s\n  people: {people} ({p['sampled']} frames checked)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("videos", nargs="*", metavar="VIDEO")
    p.add_argument("--config", help="analyze the library's pending clips instead of files")
    p.add_argument("--reanalyze", action="store_true", help="also clips analyzed by an older analyzer version")
    p.add_argument("--workers", type=int, default=0, help="analysis processes (default: one per core)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", help="write stills and .analysis.json of each VIDEO here")


def run(args: argparse.Namespace) -> int:
    if bool(args.config) == bool(args.videos):
        raise UsageError("give either VIDEO files or --config FILE")
    from inspector.analysis.pending import default_workers

    workers = args.workers if args.workers > 0 else default_workers()
    if args.config:
        return _library(args.config, workers, args.reanalyze, args.json)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # forkserver, not fork: a forked child of a process whose OpenCV thread pool has started can hang
    ctx = multiprocessing.get_context("forkserver")
    from inspector.analysis.worker import init_worker

    with ProcessPoolExecutor(max_workers=min(workers, len(args.videos)), mp_context=ctx,
                             initializer=init_worker) as pool:
        results = list(pool.map(_one, args.videos, [args.out] * len(args.videos)))
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=1))
    else:
        print("\n".join(_text(d) for d in results))
    return 1 if any("error" in d for d in results) else 0


def _library(config: str, workers: int, reanalyze: bool, as_json: bool) -> int:
    from inspector.analysis.pending import analyze_pending
    from inspector.report import build_report

    cfg = open_library(config)
    summary = analyze_pending(cfg.library, workers, reanalyze, limits=cfg.analysis)
    index = build_report(cfg.library)
    if as_json:
        print(json.dumps(dict(summary.to_json(), report=str(index)), indent=1))
    else:
        print(f"analyzed {len(summary.analyzed)} clip(s) ({summary.media_s:.1f} s of video in {summary.wall_s:.1f} s "
              f"with {summary.workers} worker(s)), quarantined {len(summary.quarantined)}, failed "
              f"{len(summary.failed)}")
        for cid, reason in summary.quarantined.items():
            print(f"  quarantined {cid}: {reason}")
        print(f"report: {index}")
    return 1 if summary.failed else 0

