"""``python -m watcher``: run the watcher.

    python -m watcher [--config FILE] [--source SRC] [--data-dir DIR] [--duration SECONDS] [--realtime]
    python -m watcher doctor [--config FILE] [--data-dir DIR] [--source SRC] [--json]

Exit status: 0 after a clean stop (end of file, --duration, SIGTERM/SIGINT) with every clip
published; 78 for a configuration error; 69 if the source cannot be opened or fails while running
(the clip in progress is published first); 73 for an unusable data directory; 75 when the camera
cannot be stopped (the clip in progress is published, then the process ends at once so that
systemd restarts it);
1 for anything else. ``doctor``: see watcher/doctor/cli.py.

Only light modules are imported at the top: ``doctor`` must start when numpy, OpenCV or PyAV
are broken, so the watcher's own modules are imported when the watcher runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

from shared.errors import AppError, ConfigError, SourceHung, SourceUnavailable
from shared.logsetup import setup_logging
from shared.manifest import Manifest
from shared.signals import stop_on_signals
from watcher.datadir import DataDir
from watcher.doctor.cli import add_arguments as add_doctor_arguments

if TYPE_CHECKING:
    from watcher.config import WatcherConfig

logger = logging.getLogger("watcher")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m watcher", description="Motion-triggered clip recorder.")
    p.add_argument("--config", help="TOML config file (every key optional)")
    p.add_argument("--source", help="synthetic | file:PATH | device:N | rtsp://... | picamera2")
    p.add_argument("--data-dir", help="directory for temp_clips/, recorded_clips/ and status.json")
    p.add_argument("--duration", type=float, help="stop after this many seconds of scene/media time")
    p.add_argument("--realtime", action="store_true", help="pace file and synthetic sources in real time")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command", metavar="doctor", help="without a command: run the watcher")
    doctor = sub.add_parser("doctor", help="check that this machine can run the watcher, one line per check",
                            description="Check the Python stack, camera, encoder, data directory, clock and "
                            "service. Exit 0 when nothing failed (warnings allowed), 1 when a check failed.")
    add_doctor_arguments(doctor, suppress=True)
    return p.parse_args(argv)


def build_config(args: argparse.Namespace) -> WatcherConfig:
    from watcher.config import load_config, with_overrides

    cfg = with_overrides(load_config(args.config), source=args.source, realtime=args.realtime, data_dir=args.data_dir)
    if args.duration is not None and args.duration <= 0:
        raise ConfigError("--duration", "duration", "must be positive")
    return cfg


def _print_published(m: Manifest, dirs: DataDir) -> None:
    flag = " (salvaged)" if m.salvaged else ""
    print(f"published {dirs.clip(m.id)}  {m.frames} frames, {m.duration_s:.1f} s, {m.size} bytes{flag}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)
    if args.command == "doctor":
        from watcher.doctor.cli import run as run_doctor

        return run_doctor(args)
    return run(args)


def run(args: argparse.Namespace) -> int:
    from watcher.encoder import EncoderError
    from watcher.sources.base import CameraHung, SourceError

    stop = stop_on_signals("finishing the current clip", logger)
    try:
        cfg = build_config(args)
        from watcher.pipeline import run_watcher  # heavy imports after argument checks

        result = run_watcher(cfg, duration_s=args.duration, stop=stop, on_published=_print_published)
    except CameraHung as e:
        # picamera2's threads (and its atexit handler) would block a normal exit forever.
        logger.error("%s", e)
        logging.shutdown()
        sys.stdout.flush()
        os._exit(SourceHung.exit_code)
    except SourceError as e:
        logger.error("%s", e)
        return SourceUnavailable.exit_code
    except EncoderError as e:
        logger.error("%s", e)
        return ConfigError.exit_code
    except AppError as e:
        logger.error("%s", e)
        return e.exit_code
    print(f"{len(result.clips)} clip(s) published in {cfg.watcher.data_dir}/recorded_clips "
          f"({result.frames} frames processed)", flush=True)
    if result.source_error is not None:  # not a clean stop: systemd's Restart=on-failure starts a new one
        return SourceUnavailable.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
