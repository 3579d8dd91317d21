"""``python -m inspector export-labelled DIR --config FILE [--camera NAME] [--watcher W]``: the labelled clips
(each with its manifest and thumbnail) and a ``labels.json`` in DIR, to share or keep as a regression set;
``python -m inspector tune --data DIR`` replays such a folder. Layout: :mod:`inspector.tuning.labelled_set`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from shared.errors import ConfigError

logger = logging.getLogger("inspector.export")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="the folder to write (new, empty, or an earlier export to update)")
    p.add_argument("--config", required=True)
    p.add_argument("--camera", help="only this camera's clips")
    p.add_argument("--watcher", help="only this watcher's clips")


def run(args: argparse.Namespace) -> int:
    from inspector.commands.library import open_library
    from inspector.tuning.labelled_set import BadLabelledSet, export, from_library

    cfg = open_library(args.config)
    clips = from_library(cfg.library, args.camera, args.watcher)
    try:
        n = export(clips, Path(args.dir))
    except BadLabelledSet as e:
        raise ConfigError("command line", "DIR", str(e)) from None
    print(f"{n} labelled clips in {args.dir}")
    return 0
