"""``python -m inspector status --config FILE [--json]``: the catalog's clip states per watcher."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from inspector.commands.library import open_library

logger = logging.getLogger("inspector")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True)
    p.add_argument("--json", action="store_true")


def summary_text(summary: dict[str, Any]) -> str:
    lines = ["state counts: " + (", ".join(f"{k}={v}" for k, v in sorted(summary["states"].items())) or "none")]
    for name, d in sorted(summary["watchers"].items()):
        states = ", ".join(f"{k}={v}" for k, v in sorted(d.get("states", {}).items())) or "no clips"
        line = f"  {name}: {states}"
        if d.get("skipped"):
            line += f"; skipped {d['skipped']}"
        if d.get("last_error"):
            current = (d.get("last_error_at") or 0) >= (d.get("last_ok") or 0)
            line += f"; {'FAILING' if current else 'recovered; last error'}: {d['last_error']}"
        lines.append(line)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from inspector.catalog import Catalog

    cfg = open_library(args.config)
    if not (cfg.library / "catalog.sqlite3").exists():
        summary: dict[str, Any] = {"states": {}, "watchers": {}}
    else:
        cat = Catalog(cfg.library / "catalog.sqlite3")
        summary = cat.summary()
        cat.close()
    print(json.dumps(summary, indent=2, sort_keys=True) if args.json else summary_text(summary))
    return 0
