"""The watcher's composition: source -> detector -> trigger -> encoder -> recorder -> ClipWriter.

Threads and who touches what:
  * capture thread (watcher.capture): iterates the source and puts frames on a bounded queue.
    A live source never waits for us: when the queue is full the frame is dropped and counted.
    A file or synthetic source blocks instead (nothing is lost, a run is reproducible).
  * pipeline thread (the caller of :func:`run_watcher`): takes frames off the queue and runs each
    through :class:`watcher.frame_step.FrameStep` (detection, trigger, disk gate, encoding,
    pre-roll, recording, status); it is the only user of the detector, encoder, trigger, recorder
    and pre-roll.
  * clip-writer thread: owns the open clip file (see watcher.clip_writer).
  * disk-guard thread: makes room and says whether recording is allowed (see watcher.diskguard).
Stopping (signal, --duration, end of file) finishes and publishes the open clip first. A camera
that cannot be stopped raises CameraHung out of :func:`run_watcher` after that clip is published.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from shared.detector import MotionDetector
from shared.manifest import Manifest, utc_iso
from shared.replay import Detection
from shared.trigger import EventTrigger
from watcher.capture import END, Capture
from watcher.clip_seq import ClipIds
from watcher.clip_writer import ClipWriter
from watcher.config import WatcherConfig
from watcher.datadir import DataDir
from watcher.diskguard import MB, DiskGuard
from watcher.encoder import VideoEncoder
from watcher.frame_step import FrameStep
from watcher.frames import Frame
from watcher.maintenance import maintain
from watcher.preroll import PreRollBuffer
from watcher.publish import ClipMeta
from watcher.recorder import Recorder
from watcher.sdnotify import Watchdog
from watcher.sources import FrameSource, SourceInfo, create_source
from watcher.status import Counters, StatusReporter
from watcher.wear import ClipBytes

if TYPE_CHECKING:
    from watcher.events import WatcherEvents
    from watcher.live import LiveView

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    clips: list[Manifest]
    frames: int
    counters: Counters
    source_error: str | None = None  # the source failed (the clip in progress was still published)


def run_watcher(
    cfg: WatcherConfig,
    *,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    on_published: Callable[[Manifest, DataDir], None] | None = None,
    source: FrameSource | None = None,
    wall_clock: Callable[[], float] = time.time,
) -> RunResult:
    """Run until the source ends, ``duration_s`` of media time passed, or ``stop`` is set.

    ``wall_clock`` (epoch seconds) names and dates the clips; tests step it back or hold it still."""
    dirs = DataDir(Path(cfg.watcher.data_dir))
    dirs.create()
    with _data_dir_lock(dirs):
        _salvage_on_start(dirs, cfg)
        src = source or _create_source(cfg, duration_s)
        info = src.open()
        logger.info("source %s: %dx%d @ %.2f fps%s", cfg.source.spec, info.width, info.height, info.fps,
                    " (encoded by the camera library)" if info.encoded else "")
        pipeline = Pipeline(cfg, dirs, src, info, on_published=on_published, wall_clock=wall_clock)
        return pipeline.run(stop or threading.Event(), duration_s)


@contextmanager
def _data_dir_lock(dirs: DataDir) -> Iterator[None]:
    """One watcher per data directory, held for the whole run."""
    lock_fd = dirs.lock()
    try:
        yield
    finally:
        os.close(lock_fd)


def _salvage_on_start(dirs: DataDir, cfg: WatcherConfig) -> None:
    """Publish or remove what a crash left in temp_clips/, then apply retention, before recording."""
    s = maintain(dirs, cfg.retention, default_fps=cfg.source.fps).salvage
    if s.salvaged or s.removed or s.manifests_rebuilt:
        logger.warning("start-up salvage: %d published, %d removed, %d manifests rebuilt",
                       len(s.salvaged), len(s.removed), len(s.manifests_rebuilt))


def _create_source(cfg: WatcherConfig, duration_s: float | None) -> FrameSource:
    return create_source(cfg.source, duration_s=duration_s,
                         gop_frames=max(1, round(cfg.encoder.gop_s * cfg.source.fps)),
                         bitrate=cfg.encoder.bitrate)


class Pipeline:
    """One run of the watcher on an opened source: its threads, its parts, and how it stops."""

    def __init__(self, cfg: WatcherConfig, dirs: DataDir, src: FrameSource, info: SourceInfo, *,
                 on_published: Callable[[Manifest, DataDir], None] | None,
                 wall_clock: Callable[[], float]) -> None:
        self.cfg, self.dirs, self.src, self.info = cfg, dirs, src, info
        self.on_published, self.wall_clock = on_published, wall_clock
        self.counters = Counters(source=cfg.source.spec)
        self.published: list[Manifest] = []
        self.encoder = None if info.encoded else VideoEncoder(info.width, info.height, info.fps, cfg.encoder)
        self.codec = info.codec if self.encoder is None else self.encoder.codec_name
        self.guard = DiskGuard(dirs, cfg.retention, self.counters, fps=info.fps)
        self.ids = ClipIds(dirs)  # never reuses an id in this data directory, across restarts and clock steps
        self.writer = ClipWriter(dirs, on_published=self._clip_published, on_error=self._clip_failed, ids=self.ids)
        self.events: WatcherEvents | None = None
        if cfg.mqtt.enabled or cfg.webhook:
            from watcher.events import WatcherEvents

            self.events = WatcherEvents.create(cfg.mqtt, cfg.webhook, cfg.watcher.camera,
                                               config_path=cfg.path or "<defaults>",
                                               status_interval_s=cfg.watcher.status_interval_s)
        self.live: LiveView | None = None
        if cfg.live.enabled:
            from watcher.live import LiveView

            self.live = LiveView.create(cfg.live, config_path=cfg.path or "<defaults>", mask=cfg.detector.mask,
                                        status_file=dirs.status_file)
        self.clip_bytes = ClipBytes(dirs.root / "wear.json")  # clip bytes published: today, since install
        self.clip_bytes.roll(datetime.now(UTC))
        self.counters.clip_bytes_today, self.counters.clip_bytes_total = self.clip_bytes.today, self.clip_bytes.total
        self.status = StatusReporter(dirs.status_file, self.counters, interval_s=cfg.watcher.status_interval_s,
                                     started_mono=time.monotonic(), listener=self.events,
                                     min_free_bytes=round(cfg.retention.min_free_mb * MB))
        self.watchdog = Watchdog()  # systemd: READY at the first frame, WATCHDOG only while frames flow

    def run(self, stop: threading.Event, duration_s: float | None) -> RunResult:
        if self.events is not None:
            self.events.start()  # connects in the background: a broker away is not an error
        if self.live is not None:
            self.live.start()
        self.writer.start()
        self.guard.start()
        try:
            source_error = self._capture_and_process(stop, duration_s)
        finally:
            self._shut_down()
        return RunResult(self.published, self.counters.frames_in, self.counters, source_error)

    def _capture_and_process(self, stop: threading.Event, duration_s: float | None) -> str | None:
        """Returns why the source failed, or None when it ended or was stopped."""
        capture_stop = threading.Event()  # set only by this thread, when the loop ends
        capture = Capture(self.src, self.info, capture_stop, self.counters, realtime=self.cfg.source.realtime)
        self.counters.state = "running"
        capture.start()
        try:
            step, source_error = self._process_frames(capture, stop, duration_s)
            if step is not None:
                step.finish()
        finally:
            capture_stop.set()
            self._close_source(capture)
        return source_error

    def _process_frames(self, capture: Capture, stop: threading.Event,
                        duration_s: float | None) -> tuple[FrameStep | None, str | None]:
        """Until stopped, ``duration_s`` of media time, or the end of the source: the step built at
        the first frame (None if none came) and why the source failed (None if it did not)."""
        step: FrameStep | None = None
        while not stop.is_set():
            try:
                item = capture.queue.get(timeout=0.5)
            except queue.Empty:
                self.status.maybe_write(time.monotonic())
                continue
            if item is END:
                return step, self._source_failure(capture)
            assert isinstance(item, Frame)
            if step is None:
                step = self._first_frame(item)
            if duration_s is not None and item.t - step.t_first >= duration_s:
                break
            step.process(item)
        return step, None

    def _first_frame(self, frame: Frame) -> FrameStep:
        """Clips are dated from the wall clock at the first frame; systemd hears READY now."""
        cfg, info = self.cfg, self.info
        wall0 = self.wall_clock() - frame.t  # wall clock of media time 0 (names and display only)
        template = ClipMeta(id="", camera=cfg.watcher.camera, codec=self.codec, width=info.width,
                            height=info.height, fps=info.fps, media_start_s=0.0, wall_epoch0=wall0,
                            settings=Detection(detector=cfg.detector, trigger=cfg.trigger).to_doc())
        preroll = PreRollBuffer(cfg.trigger.pre_roll_s + cfg.trigger.min_motion_frames / info.fps + 1.0)
        recorder = Recorder(self.writer, preroll, template=template, pre_roll_s=cfg.trigger.pre_roll_s,
                            new_id=functools.partial(self.ids.new_id, cfg.watcher.camera))
        self.watchdog.ready(f"{cfg.source.spec}: {info.width}x{info.height} @ {info.fps:.3g} fps")
        return FrameStep(t_first=frame.t, detector=MotionDetector(cfg.detector), detector_width=cfg.detector.width,
                         trigger=EventTrigger(cfg.trigger), guard=self.guard, recorder=recorder,
                         encoder=self.encoder, request_keyframe=getattr(self.src, "request_keyframe", None),
                         writer=self.writer, status=self.status, watchdog=self.watchdog, events=self.events,
                         live=self.live)

    def _source_failure(self, capture: Capture) -> str | None:
        """The capture thread ended: None at the end of the source, else the error, counted and logged."""
        if capture.error is None:
            return None
        message = f"source failed: {capture.error}"
        self.counters.error(message)
        logger.error("%s", message)
        return message

    def _close_source(self, capture: Capture) -> None:
        """Close the source, then wait for the capture thread. Closing may raise (CameraHung: a camera
        that cannot be stopped); the caller's shutdown still publishes the open clip."""
        try:
            self.src.close()
        finally:
            capture.join(timeout=30)
            if capture.is_alive():
                logger.error("capture thread did not stop")

    def _shut_down(self) -> None:
        """Publish the open clip, stop the disk guard, and leave status.json saying so."""
        self.watchdog.stopping("publishing the open clip")
        if self.live is not None:
            self.live.stop()
        self.writer.stop()
        self.guard.stop()
        c = self.counters
        c.state = "stopped"
        c.recording, c.current_clip, c.motion = False, None, False
        self.status.write(time.monotonic())  # its health message is the last event
        if self.events is not None:
            self.events.stop()  # motion OFF, what is queued, then offline (each within the link's deadline)
            self.events.before(c)  # status.json keeps what was sent and dropped, the last events included
            self.status.listener = None
            self.status.write(time.monotonic())

    def _clip_published(self, m: Manifest) -> None:  # on the clip-writer thread
        self.published.append(m)
        self.counters.clips_published += 1
        self.counters.last_clip = m.id
        now = datetime.now(UTC)
        self.counters.last_clip_at = utc_iso(now)
        self.clip_bytes.add(m.size, now)
        self.counters.clip_bytes_today, self.counters.clip_bytes_total = self.clip_bytes.today, self.clip_bytes.total
        if self.events is not None:
            self.events.clip(m)
        if self.on_published is not None:
            self.on_published(m, self.dirs)

    def _clip_failed(self, message: str) -> None:  # on the clip-writer thread; the clip stays in temp_clips/
        self.counters.error(message)
        self.guard.request_salvage()
