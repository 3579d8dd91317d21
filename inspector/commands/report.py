"""``python -m inspector report --config FILE``: rebuild the library's report.

Prints the path of the index (open it in a browser: it works from ``file://``).
"""

from __future__ import annotations

import argparse
import logging
import sys

from shared.errors import AppError
from shared.logsetup import setup_logging

logger = logging.getLogger("inspector.report")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m inspector report", description="Rebuild the library's HTML report.")
    p.add_argument("--config", required=True)
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = p.parse_args(argv)
    setup_logging(args.log_level)
    from inspector.catalog_guard import check_library
    from inspector.config import load_config
    from inspector.report import build_report

    try:
        cfg = load_config(args.config)
        check_library(cfg.library)  # a damaged or lost catalog: one clear error, not a traceback
        if not (cfg.library / "catalog.sqlite3").exists():
            logger.error("%s has no catalog yet: pull some clips first", cfg.library)
            return 1
        print(build_report(cfg.library))
    except AppError as e:  # CatalogError included: a catalog damaged, lost or being rebuilt
        logger.error("%s", e)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
