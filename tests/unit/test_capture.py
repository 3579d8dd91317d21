"""The capture thread: a live source drops and counts, a file source loses nothing, and END always
arrives (after the last frame, after a failure, after a stop with nobody reading)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

from tests.proc import wait_until
from watcher.capture import END, Capture
from watcher.frames import Frame
from watcher.sources.base import SourceError, SourceInfo
from watcher.sources.synthetic import SyntheticSource
from watcher.status import Counters

DEADLINE_S = 20.0


class FailingSource:
    """The synthetic scene, failing for good after ``after`` frames (a cable pulled out)."""

    def __init__(self, after: int) -> None:
        self.scene = SyntheticSource(width=64, height=36, duration_s=60.0)
        self.after = after

    def open(self) -> SourceInfo:
        return self.scene.open()

    def frames(self) -> Iterator[Frame]:
        for i, frame in enumerate(self.scene.frames()):
            if i == self.after:
                raise SourceError("camera unplugged")
            yield frame

    def close(self) -> None:
        self.scene.close()


def drain(q: queue.Queue[object]) -> list[object]:
    """Everything up to and including END, waiting at most DEADLINE_S."""
    items: list[object] = []
    deadline = time.monotonic() + DEADLINE_S
    while not items or items[-1] is not END:
        items.append(q.get(timeout=max(0.0, deadline - time.monotonic())))
    return items


def poll(condition: Callable[[], bool], what: str) -> None:
    wait_until(condition, DEADLINE_S, what, poll_s=0.01)


def scene(seconds: float) -> tuple[SyntheticSource, SourceInfo]:
    src = SyntheticSource(width=64, height=36, fps=10.0, duration_s=seconds, objects=[])
    return src, src.open()


def test_a_live_source_never_waits_it_drops_and_counts() -> None:
    src, info = scene(2.0)  # 20 frames
    counters, stop = Counters(source="synthetic"), threading.Event()
    cap = Capture(src, replace(info, live=True), stop, counters, realtime=False, maxsize=4)
    cap.start()
    poll(lambda: counters.frames_dropped == 16, "the source to run past a full queue")
    items = drain(cap.queue)
    cap.join(DEADLINE_S)
    frames = [i for i in items if isinstance(i, Frame)]
    assert [f.t for f in frames] == [0.0, 0.1, 0.2, 0.3], "the first frames stay; later ones are dropped"
    assert len(items) == 5 and cap.error is None and not cap.is_alive()


def test_a_file_source_waits_and_loses_nothing() -> None:
    src, info = scene(2.0)
    counters, stop = Counters(source="synthetic"), threading.Event()
    cap = Capture(src, info, stop, counters, realtime=False, maxsize=2)
    cap.start()
    items = drain(cap.queue)
    cap.join(DEADLINE_S)
    frames = [i for i in items if isinstance(i, Frame)]
    assert len(frames) == 20 and counters.frames_dropped == 0
    assert [f.t for f in frames] == sorted(f.t for f in frames)
    assert cap.error is None and not cap.is_alive()


def test_a_failing_source_ends_with_END_and_its_error() -> None:
    src = FailingSource(after=5)
    info = src.open()
    cap = Capture(src, info, threading.Event(), Counters(source="synthetic"), realtime=False, maxsize=64)
    cap.start()
    items = drain(cap.queue)
    cap.join(DEADLINE_S)
    assert sum(isinstance(i, Frame) for i in items) == 5
    assert isinstance(cap.error, SourceError) and "unplugged" in str(cap.error)


def test_stop_with_a_full_queue_and_nobody_reading_still_ends_with_END() -> None:
    src, info = scene(600.0)  # far more frames than the queue holds
    stop = threading.Event()
    cap = Capture(src, info, stop, Counters(source="synthetic"), realtime=False, maxsize=3)
    cap.start()
    poll(cap.queue.full, "the queue to fill")
    stop.set()
    cap.join(DEADLINE_S)
    assert not cap.is_alive(), "the capture thread did not end after stop"
    items = []
    while not cap.queue.empty():
        items.append(cap.queue.get_nowait())
    assert items and items[-1] is END and cap.error is None
