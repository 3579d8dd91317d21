"""FrameStep: what the pipeline thread does with each frame, in order.

    detect -> trigger -> disk gate -> record (start/stop clips) -> encode -> add to the clip -> report

One object per run, built at the first frame (the recorder dates clips from the first frame's
wall clock). It runs on the pipeline thread only, which is the sole user of the detector, trigger,
recorder, pre-roll and encoder. It reads the disk guard's ``recording_allowed`` event (set by the
guard thread) and the clip writer's ``packets_dropped`` count (a plain int written by the writer
thread).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from shared.detector import MotionDetector, MotionResult, luma_from_bgr
from shared.trigger import Action, EventTrigger
from watcher.clip_writer import ClipWriter
from watcher.diskguard import DiskGuard
from watcher.encoder import VideoEncoder
from watcher.frames import EncodedPacket, Frame
from watcher.recorder import Recorder
from watcher.sdnotify import Watchdog
from watcher.snapshot import PeakFrame
from watcher.status import StatusReporter

if TYPE_CHECKING:  # paho is imported only when [mqtt] is enabled
    from watcher.events import WatcherEvents
    from watcher.live import LiveView

logger = logging.getLogger(__name__)


class FrameStep:
    def __init__(
        self,
        *,
        t_first: float,
        detector: MotionDetector,
        detector_width: int,
        trigger: EventTrigger,
        guard: DiskGuard,
        recorder: Recorder,
        encoder: VideoEncoder | None,
        request_keyframe: Callable[[], None] | None,
        writer: ClipWriter,
        status: StatusReporter,
        watchdog: Watchdog,
        events: WatcherEvents | None = None,
        live: LiveView | None = None,
    ) -> None:
        """``encoder`` is None when the source delivers encoded packets; ``request_keyframe`` then
        asks the source (camera) for a keyframe, if it can."""
        self.t_first = t_first
        self.detector, self.detector_width, self.trigger = detector, detector_width, trigger
        self.guard, self.recorder, self.encoder = guard, recorder, encoder
        self.request_keyframe = request_keyframe
        self.writer, self.status, self.watchdog = writer, status, watchdog
        self.events = events
        self.live = live
        self._peak = PeakFrame()  # the event's most active frame (used when events are on)
        self.counters = status.counters
        self._paused_shown: str | None = None  # the pause reason status.json last showed

    def process(self, frame: Frame) -> None:
        self.counters.frames_in += 1
        luma = self._luma(frame)
        result = self.detector.process(luma, frame.t)
        actions = self.trigger.update(frame.t, result.motion)
        if self.events is not None:
            self._tell_events(frame, result)
        if self.live is not None:  # a reference handed over: the live view draws and encodes on its own thread
            self.live.offer(frame.image if frame.image is not None else luma, result.boxes)
        actions = self._disk_gate(actions, frame.t)
        self.recorder.apply(actions, self.trigger.motion_start)
        packets = self._encode(frame)
        self.recorder.add(packets, frame.t, result.motion, result.score, result.boxes)
        self._report(result)

    def _tell_events(self, frame: Frame, result: MotionResult) -> None:
        """The event as the trigger sees it (recorded or not), and its most active frame: the
        snapshot goes out when the event ends."""
        assert self.events is not None
        in_event = self.trigger.recording
        if in_event and result.motion:
            image = frame.image if frame.image is not None else frame.luma
            if image is not None:
                self._peak.offer(image, result.score)
        ended = self.events.motion_on and not in_event
        self.events.motion(in_event)
        if ended:
            self._send_snapshot()

    def _send_snapshot(self) -> None:
        jpeg = self._peak.take_jpeg()
        if jpeg is not None and self.events is not None:
            self.events.snapshot(jpeg)

    def finish(self) -> None:
        """The run is over: the encoder's last packets go into the open clip, which is then closed
        (the clip writer publishes it); an event still on gets its snapshot."""
        if self.events is not None and self.events.motion_on:
            self.events.motion(False)  # the run ends the event
            self._send_snapshot()
        if self.encoder is not None:
            self.recorder.add(self.encoder.flush(), self.t_first, False, 0.0, ())
        self.recorder.close()

    def _luma(self, frame: Frame) -> np.ndarray:
        if frame.luma is not None:
            return frame.luma
        assert frame.image is not None, "a frame carries luma, an image, or both"
        return luma_from_bgr(frame.image, self.detector_width)

    def _disk_gate(self, actions: list[Action], t: float) -> list[Action]:
        """Apply the disk guard's verdict: when recording is not allowed only FINISH passes and the
        open clip is closed; when it is allowed again in the middle of an event, recording resumes."""
        if Action.START in actions and self.guard.below_floor():
            self.guard.wake()  # make room before the clip grows
        if self.counters.recording_paused != self._paused_shown:  # tell status.json now, not at the next interval
            self._paused_shown = self.counters.recording_paused
            self.status.write(time.monotonic())
        if not self.guard.recording_allowed.is_set():
            actions = [a for a in actions if a is Action.FINISH]
            if not self.recorder.idle:
                logger.warning("recording paused: %s", self.counters.recording_paused)
                self.recorder.pause()
        elif self.trigger.recording and self.recorder.idle and Action.START not in actions:
            self.recorder.resume(t)  # space came back in the middle of an event
        return actions

    def _encode(self, frame: Frame) -> list[EncodedPacket]:
        """This frame's packets; a keyframe is forced (or asked of the camera) when a clip waits for one."""
        if self.encoder is not None:
            assert frame.image is not None, "a source that does not encode delivers images"
            packets = self.encoder.encode(frame.image, frame.t,
                                          force_keyframe=self.recorder.take_keyframe_request())
        else:
            packets = frame.packets
            if self.recorder.take_keyframe_request() and self.request_keyframe is not None:
                self.request_keyframe()  # once per need: it arrives some frames later
        self.counters.frames_encoded += len(packets)
        return packets

    def _report(self, result: MotionResult) -> None:
        c = self.counters
        c.motion = result.motion
        c.recording = self.recorder.clip is not None
        c.current_clip = self.recorder.clip.id if self.recorder.clip else None
        c.packets_dropped = self.writer.packets_dropped
        c.last_frame_wall = time.time()  # wall clock for display (status.json's last_frame_at)
        now = time.monotonic()
        self.status.maybe_write(now)
        self.watchdog.frame_flowed(now)
