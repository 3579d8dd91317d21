"""The capture thread: iterates a frame source and hands its frames to the pipeline thread.

A live source never waits for us: when the queue is full the frame is dropped and counted
(``counters.frames_dropped``, written by this thread only). A file or synthetic source blocks
instead, so nothing is lost and a run is reproducible; with ``realtime`` it is paced to its
media time. The pipeline thread reads :attr:`Capture.queue` until it sees :data:`END`, then
:attr:`Capture.error` says whether the source failed; it sets ``stop`` to end this thread.
"""

from __future__ import annotations

import queue
import threading
import time

from watcher.sources import FrameSource, SourceInfo
from watcher.status import Counters

END = object()  # the last item on the queue: the source ended, failed, or capture was stopped


class Capture(threading.Thread):
    def __init__(self, source: FrameSource, info: SourceInfo, stop: threading.Event, counters: Counters,
                 *, realtime: bool, maxsize: int = 64) -> None:
        super().__init__(name="capture", daemon=True)
        self.source, self.info, self.stop, self.counters = source, info, stop, counters
        self.realtime = realtime and not info.live
        self.queue: queue.Queue[object] = queue.Queue(maxsize=maxsize)
        self.error: BaseException | None = None

    def run(self) -> None:
        t0: float | None = None
        mono0 = time.monotonic()
        try:
            for frame in self.source.frames():
                if self.stop.is_set():
                    break
                if self.realtime:
                    t0 = frame.t if t0 is None else t0
                    delay = mono0 + (frame.t - t0) - time.monotonic()
                    if delay > 0 and self.stop.wait(delay):
                        break
                if self.info.live and not self.info.encoded:
                    try:
                        self.queue.put_nowait(frame)
                    except queue.Full:
                        self.counters.frames_dropped += 1
                    continue
                while not self.stop.is_set():
                    try:
                        self.queue.put(frame, timeout=0.2)
                        break
                    except queue.Full:
                        continue
        except BaseException as e:  # noqa: BLE001 - not swallowed: the pipeline thread reports it after END
            self.error = e
        finally:
            self._put_end()

    def _put_end(self) -> None:
        """Always deliver END; once stopped, make room for it (nobody needs the frames any more)."""
        while True:
            try:
                self.queue.put(END, timeout=0.2)
                return
            except queue.Full:
                if self.stop.is_set():
                    try:
                        self.queue.get_nowait()
                    except queue.Empty:
                        pass
