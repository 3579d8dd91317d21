"""SIGTERM/SIGINT -> a stop event, for the entry points (call from the main thread)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType


def stop_on_signals(what_happens: str, logger: logging.Logger) -> threading.Event:
    """Return an event set by SIGTERM or SIGINT; each signal is logged with ``what_happens``."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s: %s", signal.Signals(signum).name, what_happens)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop
