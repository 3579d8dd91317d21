"""``python -m inspector``: pull finished clips from watchers.

    python -m inspector pull   --config FILE     pull everything available once; exit 0 when done,
                                                 1 (with a summary) if a watcher's pass failed,
                                                 75 if SIGTERM/SIGINT stopped it with work left
    python -m inspector run    --config FILE     keep polling until SIGTERM (then exit 0)
    python -m inspector status --config FILE [--json]
    python -m inspector add-watcher NAME HOST [--port N] [--user U] [--remote-dir DIR] [--config FILE]
                                  [--fingerprint SHA256:...]    pin a Pi's host key, add its [[watcher]] table
    python -m inspector cleanup --config FILE [--dry-run] [--json]
                                                 stale downloads, old quarantine, library retention
    python -m inspector analyze VIDEO... [--json] [--out DIR]   analyze any video file, print a summary
    python -m inspector analyze --config FILE [--reanalyze]     the library's pending clips, then the report
    python -m inspector report --config FILE                    rebuild <library>/report/index.html
    python -m inspector catalog check|rebuild --config FILE     is the catalog sound; restore it from the files
    python -m inspector label CLIP real|false-alarm|none [--note TEXT] [--watcher NAME] --config FILE
                                                 label a stored clip (an id or its file) for tune; none clears it
    python -m inspector tune --config FILE --camera NAME [--set KEY=VALUE ...]... [--grid FILE] [--json]
    python -m inspector tune --data DIR ...       replay detector settings over labelled clips; recommend
    python -m inspector export-labelled DIR --config FILE [--camera NAME]   the labelled clips, to share

pull and run also analyze new clips (process pool, apart from transfer) and keep the report
current, unless given --no-analyze.

SIGTERM or SIGINT ends pull and run within a few seconds whatever the remotes do: every open
connection is cut, the workers are joined with a bound, and pull prints its summary (downloads
in progress keep their .part, resumed by the next pull). pull's analysis and report run only
when it was not stopped.

Each command is a module of inspector/commands/; this is their table.
"""

from __future__ import annotations

import argparse
import sys

from inspector.commands import (
    add_watcher,
    analyze,
    catalog,
    cleanup,
    export_labelled,
    label,
    pull,
    report,
    run,
    status,
    tune,
)
from shared import cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m inspector", description="Pull and inspect clips from watchers.")
    sub = p.add_subparsers(dest="command", required=True)
    cli.wire(sub.add_parser("pull"), pull)
    cli.wire(sub.add_parser("run"), run)
    cli.wire(sub.add_parser("status"), status)
    cli.wire(sub.add_parser("cleanup"), cleanup)
    raw = argparse.RawDescriptionHelpFormatter
    cli.wire(sub.add_parser("analyze", help="analyze video files or the library's pending clips (analyze --help)",
                            description=analyze.__doc__, formatter_class=raw), analyze)
    cli.wire(sub.add_parser("report", help="rebuild the library's HTML report (report --help)",
                            description="Rebuild the library's HTML report."), report)
    cli.wire(sub.add_parser("catalog", help="check the catalog, or rebuild it from the library's files "
                            "(catalog --help)", description=catalog.__doc__, formatter_class=raw), catalog,
             log_level=None)  # on check and rebuild
    cli.wire(sub.add_parser("add-watcher", help="trust a Pi's host key and add it to the config"), add_watcher)
    cli.wire(sub.add_parser("label", help="label a stored clip real or false-alarm, for tune (label --help)",
                            description=label.__doc__, formatter_class=raw), label)
    cli.wire(sub.add_parser("tune", help="replay detector settings over a camera's labelled clips (tune --help)",
                            description=tune.__doc__, formatter_class=raw), tune)
    cli.wire(sub.add_parser("export-labelled", help="copy the labelled clips and a labels.json into a folder",
                            description=export_labelled.__doc__, formatter_class=raw), export_labelled)
    return p


def main(argv: list[str] | None = None) -> int:
    return cli.main(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
