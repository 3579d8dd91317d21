"""``python -m watcher``: run the watcher.

    python -m watcher [--config FILE] [--source SRC] [--data-dir DIR] [--duration SECONDS] [--realtime]
    python -m watcher doctor [--config FILE] [--data-dir DIR] [--source SRC] [--json]
    python -m watcher explain CLIP [--config FILE] [--out FILE] [--json]

Exit status: 0 after a clean stop (end of file, --duration, SIGTERM/SIGINT) with every clip
published; 78 for a configuration error; 69 if the source cannot be opened or fails while running
(the clip in progress is published first); 73 for an unusable data directory; 75 when the camera
cannot be stopped (the clip in progress is published, then the process ends at once so that
systemd restarts it);
1 for anything else. The watcher: watcher/run_command.py; ``doctor``: watcher/doctor/cli.py; ``explain``:
watcher/explain_command.py.

Only light modules are imported at the top: ``doctor`` must start when numpy, OpenCV or PyAV
are broken, so the watcher's own modules are imported when the watcher runs.
"""

from __future__ import annotations

import argparse
import sys

from shared import cli
from watcher import explain_command, run_command
from watcher.doctor import cli as doctor


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m watcher", description="Motion-triggered clip recorder.")
    cli.wire(p, run_command)
    sub = p.add_subparsers(metavar="{doctor,explain}", help="without a command: run the watcher")
    doctor_parser = sub.add_parser("doctor", help="check that this machine can run the watcher, one line per check",
                                   description="Check the Python stack, camera, encoder, data directory, clock and "
                                   "service. Exit 0 when nothing failed (warnings allowed), 1 when a check failed.")
    # --log-level is the main parser's (given before "doctor"); the doctor's options leave its values alone
    cli.wire(doctor_parser, doctor, log_level=None)
    explain_parser = sub.add_parser("explain", help="replay the detector and trigger over a clip: why it was recorded",
                                    description="Replay the watcher's detector and trigger over a clip; write an "
                                    "annotated video and print a per-second table.")
    cli.wire(explain_parser, explain_command, log_level=None)
    return p


def main(argv: list[str] | None = None) -> int:
    return cli.main(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
