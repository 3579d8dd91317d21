"""The watcher's composition: source -> detector -> trigger -> encoder -> recorder -> ClipWriter.

Threads and who touches what:
  * capture thread: iterates the source and puts frames on a bounded queue. A live source
    never waits for us: when the queue is full the frame is dropped and counted. A file or
    synthetic source blocks instead (nothing is lost, a run is reproducible).
  * pipeline thread (the caller of :func:`run_watcher`): detection, trigger, encoding, pre-roll,
    status; it is the only user of the detector, encoder, trigger, recorder and pre-roll.
  * clip-writer thread: owns the open clip file (see watcher.clip_writer).
Stopping (signal, --duration, end of file) finishes and publishes the open clip first.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from shared.manifest import Manifest
from watcher.clip_seq import ClipIds
from watcher.clip_writer import ClipWriter
from watcher.config import WatcherConfig
from watcher.datadir import DataDir
from watcher.detector import MotionDetector, luma_from_bgr
from watcher.encoder import VideoEncoder
from watcher.frames import Frame
from watcher.preroll import PreRollBuffer
from watcher.publish import ClipMeta
from watcher.recorder import Recorder
from watcher.sdnotify import Watchdog
from watcher.maintenance import maintain
from watcher.diskguard import DiskGuard
from watcher.sources import FrameSource, SourceInfo, create_source
from watcher.status import Counters, StatusReporter
from watcher.trigger import Action, EventTrigger

logger = logging.getLogger(__name__)

_END = object()


@dataclass
class RunResult:
    clips: list[Manifest]
    frames: int
    counters: Counters
    source_error: str | None = None  # the source failed (the clip in progress was still published)


class _Capture(threading.Thread):
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
        except BaseException as e:  # reported by the pipeline thread
            self.error = e
        finally:
            while True:
                try:
                    self.queue.put(_END, timeout=0.2)
                    break
                except queue.Full:
                    if self.stop.is_set():
                        try:
                            self.queue.get_nowait()
                        except queue.Empty:
                            pass


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
    stop = stop or threading.Event()
    dirs = DataDir(Path(cfg.watcher.data_dir))
    dirs.create()
    lock_fd = dirs.lock()
    counters = Counters(source=cfg.source.spec)
    published: list[Manifest] = []
    try:
        report = maintain(dirs, cfg.retention, default_fps=cfg.source.fps)
        s = report.salvage
        if s.salvaged or s.removed or s.manifests_rebuilt:
            logger.warning("start-up salvage: %d published, %d removed, %d manifests rebuilt",
                           len(s.salvaged), len(s.removed), len(s.manifests_rebuilt))
        src = source or create_source(cfg.source, duration_s=duration_s,
                                      gop_frames=max(1, round(cfg.encoder.gop_s * cfg.source.fps)),
                                      bitrate=cfg.encoder.bitrate)
        info = src.open()
        logger.info("source %s: %dx%d @ %.2f fps%s", cfg.source.spec, info.width, info.height, info.fps,
                    " (encoded by the camera library)" if info.encoded else "")
        encoder = None if info.encoded else VideoEncoder(info.width, info.height, info.fps, cfg.encoder)
        codec = info.codec if encoder is None else encoder.codec_name

        def published_cb(m: Manifest) -> None:
            published.append(m)
            counters.clips_published += 1
            counters.last_clip = m.id
            if on_published is not None:
                on_published(m, dirs)

        guard = DiskGuard(dirs, cfg.retention, counters, fps=info.fps)

        def writer_failed(message: str) -> None:  # the clip stays in temp_clips/ for salvage
            counters.error(message)
            guard.request_salvage()

        ids = ClipIds(dirs)  # never reuses an id in this data directory, across restarts and clock steps
        writer = ClipWriter(dirs, on_published=published_cb, on_error=writer_failed, ids=ids)
        status = StatusReporter(dirs.status_file, counters, interval_s=cfg.watcher.status_interval_s,
                                started_mono=time.monotonic())
        watchdog = Watchdog()  # systemd: READY at the first frame, WATCHDOG only while frames flow
        writer.start()
        guard.start()
        try:
            source_error = _loop(cfg, src, info, encoder, codec, writer, guard, status, stop, duration_s, watchdog,
                                 ids, wall_clock)
        finally:
            watchdog.stopping("publishing the open clip")
            writer.stop()
            guard.stop()
            counters.state = "stopped"
            counters.recording, counters.current_clip, counters.motion = False, None, False
            status.write(time.monotonic())
    finally:
        os.close(lock_fd)
    return RunResult(published, counters.frames_in, counters, source_error)


def _loop(cfg: WatcherConfig, src: FrameSource, info: SourceInfo, encoder: VideoEncoder | None, codec: str,
          writer: ClipWriter, guard: DiskGuard, status: StatusReporter, stop: threading.Event,
          duration_s: float | None, watchdog: Watchdog, ids: ClipIds, wall_clock: Callable[[], float]) -> str | None:
    """Returns why the source failed, or None when it ended or was stopped."""
    counters = status.counters
    detector = MotionDetector(cfg.detector)
    trigger = EventTrigger(cfg.trigger)
    fps = info.fps
    preroll = PreRollBuffer(cfg.trigger.pre_roll_s + cfg.trigger.min_motion_frames / fps + 1.0)

    def new_id(started: datetime) -> str:
        return ids.new_id(cfg.watcher.camera, started)

    capture_stop = threading.Event()  # set only by this thread, when the loop ends
    capture = _Capture(src, info, capture_stop, counters, realtime=cfg.source.realtime)
    recorder: Recorder | None = None
    t_first: float | None = None
    paused_shown: str | None = None
    source_error: str | None = None
    counters.state = "running"
    capture.start()
    try:
        while not stop.is_set():
            try:
                item = capture.queue.get(timeout=0.5)
            except queue.Empty:
                status.maybe_write(time.monotonic())
                continue
            if item is _END:
                if capture.error is not None:
                    source_error = f"source failed: {capture.error}"
                    counters.error(source_error)
                    logger.error("%s", source_error)
                break
            assert isinstance(item, Frame)
            frame = item
            if t_first is None:
                t_first = frame.t
                wall0 = wall_clock() - frame.t  # wall clock of media time 0 (names and display only)
                template = ClipMeta(id="", camera=cfg.watcher.camera, codec=codec, width=info.width,
                                    height=info.height, fps=fps, media_start_s=0.0, wall_epoch0=wall0)
                recorder = Recorder(writer, preroll, template=template, pre_roll_s=cfg.trigger.pre_roll_s,
                                    new_id=new_id)
                watchdog.ready(f"{cfg.source.spec}: {info.width}x{info.height} @ {fps:.3g} fps")
            assert recorder is not None
            if duration_s is not None and frame.t - t_first >= duration_s:
                break
            counters.frames_in += 1
            luma = frame.luma if frame.luma is not None else luma_from_bgr(frame.image, cfg.detector.width)
            result = detector.process(luma, frame.t)
            actions = trigger.update(frame.t, result.motion)
            if Action.START in actions and guard.below_floor():
                guard.wake()  # make room before the clip grows
            if counters.recording_paused != paused_shown:  # tell status.json at once, not at the next interval
                paused_shown = counters.recording_paused
                status.write(time.monotonic())
            if not guard.recording_allowed.is_set():
                actions = [a for a in actions if a is Action.FINISH]
                if not recorder.idle:
                    logger.warning("recording paused: %s", counters.recording_paused)
                    recorder.pause()
            elif trigger.recording and recorder.idle and Action.START not in actions:
                recorder.resume(frame.t)  # space came back in the middle of an event
            recorder.apply(actions, trigger.motion_start)
            if encoder is not None:
                assert frame.image is not None
                packets = encoder.encode(frame.image, frame.t, force_keyframe=recorder.take_keyframe_request())
            else:
                packets = frame.packets
                if recorder.take_keyframe_request() and hasattr(src, "request_keyframe"):
                    src.request_keyframe()  # once per need: it arrives some frames later
            counters.frames_encoded += len(packets)
            recorder.add(packets, frame.t, result.motion, result.score, result.boxes)
            counters.motion = result.motion
            counters.recording = recorder.clip is not None
            counters.current_clip = recorder.clip.id if recorder.clip else None
            counters.packets_dropped = writer.packets_dropped
            status.maybe_write(time.monotonic())
            watchdog.frame_flowed(time.monotonic())
        if encoder is not None and recorder is not None:
            recorder.add(encoder.flush(), t_first or 0.0, False, 0.0, ())
        if recorder is not None:
            recorder.close()
    finally:
        capture_stop.set()
        try:
            src.close()  # may raise (a camera that cannot be stopped): the clip is still published
        finally:
            capture.join(timeout=30)
            if capture.is_alive():
                logger.error("capture thread did not stop")
    return source_error
