"""``python -m inspector report --config FILE``: rebuild the library's report.

Prints the path of the index (open it in a browser: it works from ``file://``).
"""

from __future__ import annotations

import argparse
import logging

from inspector.commands.library import open_library

logger = logging.getLogger("inspector.report")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True)


def run(args: argparse.Namespace) -> int:
    from inspector.report import build_report

    cfg = open_library(args.config)  # CatalogError included: a catalog damaged, lost or being rebuilt
    if not (cfg.library / "catalog.sqlite3").exists():
        logger.error("%s has no catalog yet: pull some clips first", cfg.library)
        return 1
    print(build_report(cfg.library))
    return 0
