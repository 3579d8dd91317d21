"""``python -m watcher.cleanup``: salvage orphaned temp files and enforce retention (also run by a timer).

    python -m watcher.cleanup [--config FILE] [--data-dir DIR] [--dry-run] [--json]

Safe to run while the watcher records and an inspector pulls: a temp file a live writer holds
(flock) is never touched, only finished clips are considered for retention, and every change
happens under the data directory's maintenance lock. Exit status: 0 when everything succeeded,
1 when a removal failed or space is still short, 78 for a configuration error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from shared import cli
from watcher.config import load_config, with_overrides
from watcher.datadir import DataDir
from watcher.maintenance import maintain

logger = logging.getLogger("watcher.cleanup")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config")
    p.add_argument("--data-dir")
    p.add_argument("--dry-run", action="store_true", help="change nothing; report what would be done")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def run(args: argparse.Namespace) -> int:
    cfg = with_overrides(load_config(args.config), data_dir=args.data_dir)
    dirs = DataDir(Path(cfg.watcher.data_dir))
    if not dirs.root.is_dir():
        logger.error("data directory %s does not exist", dirs.root)
        return 66  # EX_NOINPUT
    report = maintain(dirs, cfg.retention, default_fps=cfg.source.fps, dry_run=args.dry_run)
    summary = report.to_dict() | {"dry_run": args.dry_run}
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        verb = "would free" if args.dry_run else "freed"
        print(f"salvaged {len(report.salvage.salvaged)}, removed {len(report.retention.removed)} clip(s) and "
              f"{len(report.salvage.removed)} temp file(s), {verb} {report.retention.freed_bytes} bytes, "
              f"kept {report.retention.kept}")
    if report.retention.short_bytes:
        logger.error("free space is still %d bytes short of the floor", report.retention.short_bytes)
    return 1 if report.failed or report.retention.short_bytes else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m watcher.cleanup", description=__doc__.splitlines()[0])
    cli.wire(p, sys.modules[__name__])
    return p


def main(argv: list[str] | None = None) -> int:
    return cli.main(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
