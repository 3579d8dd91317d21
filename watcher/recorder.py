"""Recorder: turns trigger actions and the encoded packet stream into clips.

Runs on the pipeline thread only. Every packet enters the pre-roll; while a clip is open it
also goes to the ClipWriter. A clip always starts at a keyframe: at START the pre-roll is
drained from the latest keyframe at least ``pre_roll_s`` before the motion began; at ROLLOVER
the current clip ends just before the next keyframe (which the pipeline forces at once) and
the continuation starts with it, so no frame is lost or repeated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from shared.trigger import Action
from watcher.frames import EncodedPacket
from watcher.preroll import PreRollBuffer
from watcher.publish import ClipMeta

logger = logging.getLogger(__name__)


class ClipSink(Protocol):
    def open_clip(self, meta: ClipMeta) -> None: ...
    def write(self, packet: EncodedPacket) -> None: ...
    def close_clip(self, meta: ClipMeta) -> None: ...


class Recorder:
    def __init__(
        self,
        sink: ClipSink,
        preroll: PreRollBuffer,
        *,
        template: ClipMeta,
        pre_roll_s: float,
        new_id: Callable[[datetime], str],
    ) -> None:
        self.sink = sink
        self.preroll = preroll
        self.template = template  # camera, codec, size, fps, wall_epoch0; id and motion fields unused
        self.pre_roll_s = pre_roll_s
        self.new_id = new_id
        self.clip: ClipMeta | None = None
        self._pending_start: float | None = None  # motion start of an event waiting for a keyframe
        self._pending_rollover = False
        self._last_written_t: float | None = None
        self._keyframe_needs = 0  # bumped each time a clip starts waiting for a keyframe
        self._keyframe_asked = 0  # the need the encoder was last asked about

    @property
    def wants_keyframe(self) -> bool:
        """True when the next frame should be encoded as a keyframe."""
        return self._pending_start is not None or self._pending_rollover

    def take_keyframe_request(self) -> bool:
        """True exactly once per need for a keyframe: ask the encoder then, and not on the frames
        after it while the keyframe is on its way (picamera2's V4L2 encoder makes one keyframe
        per request, so asking on every frame would make every frame a keyframe)."""
        if self.wants_keyframe and self._keyframe_asked != self._keyframe_needs:
            self._keyframe_asked = self._keyframe_needs
            return True
        return False

    def _need_keyframe(self) -> None:
        self._keyframe_needs += 1

    def apply(self, actions: list[Action], motion_start: float | None) -> None:
        for action in actions:
            if action is Action.START:
                start = motion_start if motion_start is not None else 0.0
                snap = self.preroll.snapshot(start - self.pre_roll_s, after=self._last_written_t)
                if snap:
                    self._open(snap[0], continuation_of=None, motion_start=motion_start)
                    for p in snap:
                        self._write(p)
                else:
                    self._pending_start = start
                    self._need_keyframe()
            elif action is Action.ROLLOVER:
                self._pending_rollover = self.clip is not None  # a pending start is a fresh clip anyway
                if self._pending_rollover:
                    self._need_keyframe()
            elif action is Action.FINISH:
                self._pending_start = None
                self._pending_rollover = False
                self.close()

    def add(self, packets: list[EncodedPacket], t: float, motion: bool, score: float,
            boxes: tuple[tuple[float, float, float, float], ...]) -> None:
        for p in packets:
            self.preroll.append(p)
            if p.keyframe:
                if self._pending_start is not None:
                    self._open(p, continuation_of=None, motion_start=self._pending_start)
                    self._pending_start = None
                elif self._pending_rollover and self.clip is not None:
                    prev = self.clip.id
                    self.close()
                    self._pending_rollover = False
                    self._open(p, continuation_of=prev)
            if self.clip is not None:
                self._write(p)
        clip = self.clip
        if clip is not None and motion:
            if clip.motion_start_s is None:
                clip.motion_start_s = round(t, 6)
            clip.motion_end_s = round(t, 6)
            if score > clip.peak_motion:
                clip.peak_motion = score
                clip.motion_boxes = [[round(float(x), 4) for x in b] for b in boxes[:16]]

    @property
    def idle(self) -> bool:
        return self.clip is None and self._pending_start is None

    def resume(self, motion_start: float) -> None:
        """Start a clip at the next keyframe (recording was paused in the middle of an event)."""
        if self.idle:
            self._pending_start = motion_start
            self._need_keyframe()

    def pause(self) -> None:
        """Close the current clip and forget a pending start (recording is not allowed now)."""
        self._pending_start = None
        self._pending_rollover = False
        self.close()

    def close(self) -> None:
        if self.clip is not None:
            self.sink.close_clip(self.clip.model_copy(update={"motion_boxes": list(self.clip.motion_boxes)}))
            self.clip = None

    def _open(self, first: EncodedPacket, *, continuation_of: str | None, motion_start: float | None = None) -> None:
        meta = self.template.model_copy(update={
            "id": self.new_id(self.template.wall(first.t)),
            "media_start_s": round(first.t, 6),
            "motion_start_s": None if motion_start is None else round(motion_start, 6),
            "motion_end_s": None,
            "peak_motion": 0.0,
            "motion_boxes": [],
            "continuation_of": continuation_of,
        })
        self.clip = meta
        self.sink.open_clip(meta.model_copy())
        logger.debug("clip %s opens at media t=%.3f", meta.id, first.t)

    def _write(self, p: EncodedPacket) -> None:
        self.sink.write(p)
        self._last_written_t = p.t
