"""``python -m inspector cleanup --config FILE [--dry-run] [--json]``: stale downloads, old quarantine,
library retention (inspector/cleanup.py). Exit 1 when a removal failed."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict

from inspector.commands.library import open_library

logger = logging.getLogger("inspector")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--dry-run", action="store_true")


def run(args: argparse.Namespace) -> int:
    from inspector.cleanup import cleanup_library

    cfg = open_library(args.config)
    rep = cleanup_library(cfg, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(asdict(rep) | {"dry_run": args.dry_run}, sort_keys=True))
    else:
        print(f"removed {len(rep.removed_parts)} stale download(s), {len(rep.removed_quarantine)} quarantined "
              f"file(s), {len(rep.removed_clips)} clip(s); freed {rep.freed_bytes} bytes"
              + (" (dry run: nothing changed)" if args.dry_run else ""))
    return 1 if rep.failed else 0
