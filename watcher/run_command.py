"""The watcher itself: ``python -m watcher [--config FILE] ...`` without a subcommand (see watcher/__main__.py).

Only light modules are imported at the top: the watcher's heavy ones (numpy, OpenCV, PyAV) are
imported when it runs, after the arguments and the configuration are checked.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

from shared.errors import ConfigError, SourceHung, SourceUnavailable
from shared.manifest import Manifest
from shared.signals import stop_on_signals
from watcher.datadir import DataDir

if TYPE_CHECKING:
    from watcher.config import WatcherConfig

logger = logging.getLogger("watcher")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML config file (every key optional)")
    p.add_argument("--source", help="synthetic | file:PATH | device:N | rtsp://... | picamera2")
    p.add_argument("--data-dir", help="directory for temp_clips/, recorded_clips/ and status.json")
    p.add_argument("--duration", type=float, help="stop after this many seconds of scene/media time")
    p.add_argument("--realtime", action="store_true", help="pace file and synthetic sources in real time")


def build_config(args: argparse.Namespace) -> WatcherConfig:
    from watcher.config import load_config, with_overrides

    cfg = with_overrides(load_config(args.config), source=args.source, realtime=args.realtime, data_dir=args.data_dir)
    if args.duration is not None and args.duration <= 0:
        raise ConfigError("--duration", "duration", "must be positive")
    return cfg


def _print_published(m: Manifest, dirs: DataDir) -> None:
    flag = " (salvaged)" if m.salvaged else ""
    print(f"published {dirs.clip(m.id)}  {m.frames} frames, {m.duration_s:.1f} s, {m.size} bytes{flag}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Record until the source ends, --duration or a signal. The source's and the encoder's own errors
    (not AppErrors) map to their exit codes here; AppErrors (configuration, data directory) go to the
    entry-point wrapper."""
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
    print(f"{len(result.clips)} clip(s) published in {cfg.watcher.data_dir}/recorded_clips "
          f"({result.frames} frames processed)", flush=True)
    if result.source_error is not None:  # not a clean stop: systemd's Restart=on-failure starts a new one
        return SourceUnavailable.exit_code
    return 0
