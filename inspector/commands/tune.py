"""``python -m inspector tune``: which detector settings would keep every real event and drop the false alarms?

    python -m inspector tune --config FILE --camera NAME [--watcher W] [--set KEY=VALUE ...]... [--grid FILE]
                             [--current WATCHER_TOML] [--jobs N] [--json]
    python -m inspector tune --data DIR [--camera NAME] ...        a folder written by export-labelled

Replays the watcher's own detector and trigger (``shared.detector``, ``shared.trigger``) over the camera's
labelled clips (``python -m inspector label``) for the current settings and each candidate: each
``--set`` group is one candidate (``--set detector.threshold=6 detector.shake_px=2``), a ``--grid`` TOML
file gives every combination of its lists. The current settings are the Pi's ``watcher.toml`` given with
``--current``, else those recorded in the newest labelled clip's manifest, else the defaults.

Prints per candidate which real events it keeps from their start (and how late it sees them), which false
alarms it drops and its cost per frame; how well the replay agrees with what the Pi decided live; the
recommendation and the ``[detector]`` table to paste. With a library, the result is also kept for the
report's tune page. Rules: :mod:`inspector.tuning.judge`. Exit 0 with a recommendation, 1 without one,
78 for a bad candidate or configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from shared.errors import AppError, ConfigError
from shared.manifest import utc_iso

if TYPE_CHECKING:
    from inspector.tuning.labelled_set import TuneClip
    from shared.replay import Detection

logger = logging.getLogger("inspector.tune")


class NoLabelledClips(AppError):
    exit_code = 66  # EX_NOINPUT


def add_arguments(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", help="the inspector's configuration: the library's labelled clips")
    where.add_argument("--data", help="a folder written by export-labelled instead of the library")
    p.add_argument("--camera", help="the camera whose clips to replay (required with --config)")
    p.add_argument("--watcher", help="only this watcher's clips of the camera")
    p.add_argument("--set", nargs="+", action="append", default=[], metavar="KEY=VALUE",
                   help="one candidate: detector.KEY=VALUE or trigger.KEY=VALUE edits of the current settings")
    p.add_argument("--grid", help="TOML: [detector]/[trigger] tables with a list of values per key")
    p.add_argument("--current", help="the Pi's watcher.toml: its [detector] and [trigger] are the current settings")
    p.add_argument("--jobs", type=int, default=0, help="worker processes (default: the cores, at most the clips)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _current(args: argparse.Namespace, clips: list[TuneClip]) -> tuple[Detection, str]:
    from inspector.tuning.judge import recorded_with
    from shared.config import read_toml, validate_config
    from shared.replay import Detection

    if args.current:
        doc = read_toml(Path(args.current))
        tables = {k: v for k, v in doc.items() if k in ("detector", "trigger")}  # the rest is the watcher's own
        return validate_config(Detection, tables, args.current), args.current
    for clip in sorted(clips, key=lambda c: c.manifest.started_at if c.manifest else "", reverse=True):
        recorded = recorded_with(clip)
        if recorded is not None:
            return recorded, f"the manifest of {clip.key} (the newest labelled clip that records them)"
    return Detection(), "the watcher's defaults (no labelled clip records its settings)"


def _clips(args: argparse.Namespace) -> tuple[list[TuneClip], Path | None, str]:
    from inspector.tuning.labelled_set import BadLabelledSet, from_folder, from_library

    if args.data:
        try:
            clips = from_folder(Path(args.data))
        except BadLabelledSet as e:
            raise ConfigError("--data", args.data, str(e)) from None
        clips = [c for c in clips if (not args.camera or c.camera == args.camera)
                 and (not args.watcher or c.watcher == args.watcher)]
        cameras = sorted({c.camera for c in clips})
        if len(cameras) > 1:
            raise ConfigError("command line", "--camera", f"{args.data} holds the cameras {', '.join(cameras)}: "
                              "say which (settings are tuned per camera)")
        return clips, None, args.data
    if not args.camera:
        raise ConfigError("command line", "--camera", "is required with --config")
    from inspector.commands.library import open_library

    cfg = open_library(args.config)
    return from_library(cfg.library, args.camera, args.watcher), cfg.library, str(cfg.library)


def run(args: argparse.Namespace) -> int:
    from inspector.tuning import output
    from inspector.tuning.candidates import build, parse_set, read_grid
    from inspector.tuning.judge import judge
    from inspector.tuning.run import replay_all
    from inspector.tuning.store import save_result

    clips, library, source = _clips(args)
    if not clips:
        raise NoLabelledClips(f"no labelled clips of camera {args.camera or '(any)'} in {source}: "
                              "label some with python -m inspector label")
    current, settings_from = _current(args, clips)
    sets = [parse_set(group) for group in args.set]
    grid = read_grid(Path(args.grid)) if args.grid else []
    candidates = build(current, sets, grid, args.grid or "--grid")
    jobs = args.jobs or min(os.cpu_count() or 1, len(clips))
    logger.info("replaying %d clips x %d candidates with %d worker(s)", len(clips), len(candidates), jobs)
    replays = replay_all(clips, [c.detection for c in candidates], jobs=jobs)
    j = judge(clips, candidates, replays)
    camera = args.camera or ", ".join(sorted({c.camera for c in clips}))
    doc = output.to_json(j, camera=camera, source=source, settings_from=settings_from)
    if library is not None:  # kept for the report's tune page, which is rebuilt now
        from inspector.report import build_report

        doc["tuned_at"] = utc_iso(datetime.now(UTC))
        doc["watcher"] = args.watcher
        doc["thumbs"] = {c.key: c.thumb.relative_to(library).as_posix() for c in clips
                         if c.thumb is not None and c.thumb.is_relative_to(library)}
        save_result(library, args.watcher, camera, doc)
        logger.info("report: %s", build_report(library))
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        print(output.text(j, camera=camera, settings_from=settings_from))
    return 0 if j.recommended is not None else 1
