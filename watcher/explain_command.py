"""``python -m watcher explain CLIP [--config FILE] [--out FILE] [--json]``: why a clip was recorded.

Replays the watcher's own detector and trigger (watcher.explain) over CLIP with the configuration's
``[detector]`` and ``[trigger]`` (the Pi's ``watcher.toml`` to see what the Pi saw; the defaults without
``--config``), writes the annotated video (default: beside the clip, ``<clip>.explain.mp4``, which the
inspector's report links to from the clip's page; in the current directory for a clip still in a
watcher's data directory) and prints a per-second table and what the replay could
and could not learn (``--json``: the same as one JSON object). Exit 69 if the clip cannot be read, 78 for
a configuration error.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from shared.errors import SourceUnavailable

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger("watcher.explain")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("clip", help="a clip (its manifest beside it is used when there) or any video file")
    p.add_argument("--config", help="watcher.toml whose [detector] and [trigger] to replay (default: defaults)")
    p.add_argument("--out", help="the annotated video (default: <clip>.explain.mp4 beside the clip)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


WATCHER_DIRS = ("recorded_clips", "temp_clips", "transferred")


def out_path(clip: Path) -> Path:
    """Beside the clip (a library's clip: the report links to it), but never into a watcher's own
    folders (the inspector would meet a stranger in recorded_clips/): there, the current directory."""
    name = f"{clip.stem}.explain.mp4"
    return Path(name) if clip.parent.name in WATCHER_DIRS else clip.with_name(name)


def run(args: argparse.Namespace) -> int:
    from shared.manifest import InvalidManifest, parse_manifest
    from shared.replay import Step
    from watcher.config import load_config
    from watcher.explain import annotate, per_second, replay, warmup_note, write_annotated
    from watcher.sources.base import SourceError
    from watcher.sources.opencv_source import OpenCVSource

    cfg = load_config(args.config)
    clip = Path(args.clip)
    manifest = None
    try:
        manifest = parse_manifest(clip.with_suffix(".json").read_bytes())
    except (OSError, InvalidManifest):
        pass  # any video: no manifest to compare with
    source = OpenCVSource(str(clip), live=False)
    try:
        info = source.open()
    except SourceError as e:
        raise SourceUnavailable(f"{clip}: {e}") from e
    steps: list[Step] = []

    def frames() -> Iterator[np.ndarray]:
        for frame, step, fg, boxes in replay(source.frames(), cfg.detector, cfg.trigger):
            steps.append(step)
            yield annotate(frame, step, fg, boxes, cfg.detector)

    out = Path(args.out) if args.out else out_path(clip)
    n = write_annotated(out, frames(), info.fps)
    table = per_second(steps)
    notes = warmup_note(steps, cfg.detector, manifest)
    if args.json:
        print(json.dumps({"clip": str(clip), "video": str(out), "frames": n, "notes": notes,
                          "manifest_motion": None if manifest is None else
                          [manifest.motion_start_s, manifest.motion_end_s, manifest.media_start_s],
                          "seconds": [asdict(s) for s in table]}, indent=1))
        return 0
    print(f"{clip}: {n} frames replayed -> {out}")
    print(" second  frames  motion  max score  boxes  trigger   ")
    for s in table:
        what = "learning" if s.learning else s.state
        print(f"{s.second:7d} {s.frames:7d} {s.motion_frames:7d} {s.max_score:10.4f} {s.max_boxes:6d}  {what:9s} "
              + ",".join(s.actions))
    for line in notes:
        print(line)
    return 0
