"""``python -m inspector catalog check|rebuild --config FILE``: is the catalog sound, and restore it
from the library's files.

    catalog check   --config FILE [--verify] [--json]
        exit 0: sound and in agreement with the library's files; 1: they disagree (each
        difference printed); 65: the catalog is damaged or lost (rebuild it).
        --verify also checks every clip's sha256 (reads the whole library).
    catalog rebuild --config FILE [--wait S] [--json]
        rebuild it (see inspector/rebuild.py); refuses (exit 75) while another inspector process has
        the library open (stop the service first). The old catalog is kept as
        catalog.sqlite3.aside-<time>.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict

from shared.cli import add_common_options

logger = logging.getLogger("inspector.catalog")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """check and rebuild, each with its own options (the common ones included)."""
    sub = p.add_subparsers(dest="action", required=True)
    for name in ("check", "rebuild"):
        s = sub.add_parser(name)
        s.add_argument("--config", required=True)
        s.add_argument("--json", action="store_true")
        if name == "check":
            s.add_argument("--verify", action="store_true", help="also check every clip's sha256")
        else:
            s.add_argument("--wait", type=float, default=10.0, metavar="S",
                           help="wait this long for other inspector processes to let go of the library")
        add_common_options(s)


def run(args: argparse.Namespace) -> int:
    from inspector.config import load_config
    from inspector.rebuild import check_catalog, rebuild_catalog

    cfg = load_config(args.config)
    if args.action == "rebuild":
        rep = rebuild_catalog(cfg.library, wait_s=max(args.wait, 0.0))
    else:
        chk = check_catalog(cfg.library, verify=args.verify)
    if args.action == "rebuild":
        if args.json:
            print(json.dumps(asdict(rep), default=str, sort_keys=True))
        else:
            print("catalog rebuilt: " + (", ".join(f"{k}={v}" for k, v in sorted(rep.states.items())) or "no clips")
                  + f" ({rep.bytes_hashed} bytes verified in {rep.seconds:.1f} s)")
            print(f"old catalog kept as {rep.aside}" if rep.aside else "there was no old catalog")
            print(f"labels restored: {rep.labels}")
            for line in rep.bad_labels:
                print(f"label NOT restored: {line} (label the clip again)")
            for b in rep.quarantined_now:
                print(f"quarantined {b.watcher}/{b.clip_id}: {b.reason}")
            for b in rep.left_untrusted:
                print(f"NOT TRUSTED, left in place (quarantine already holds its id): {b.path}: {b.reason}")
            for stray in rep.strays:
                print(f"left alone: {stray}")
        return 0
    if args.json:
        print(json.dumps(asdict(chk), sort_keys=True))
    elif chk.damaged:
        print(chk.damaged)
    else:
        print(f"catalog sound: {chk.rows} row(s), {chk.clips_on_disk} clip(s) on disk"
              + (", all in agreement" if not chk.mismatches else f", {len(chk.mismatches)} difference(s):"))
        for line in chk.mismatches:
            print(f"  {line}")
        for line in chk.strays:
            print(f"left alone (not the library's): {line}")
    if chk.damaged:
        from inspector.catalog_guard import CatalogError

        return CatalogError.exit_code
    return 1 if chk.mismatches else 0
