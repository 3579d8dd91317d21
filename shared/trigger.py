"""EventTrigger: a pure state machine deciding when clips start, roll over and finish.

Time is injected (seconds on the source's media timeline), so it is tested without clocks.
Each :meth:`EventTrigger.update` returns the actions to apply *before* the frame at ``t`` is
recorded: a ``START`` means the frame at ``t`` is the first one recorded after the pre-roll,
a ``FINISH`` means the frame at ``t`` is no longer part of the clip, a ``ROLLOVER`` means the
current clip reached its maximum length and a continuation starts at this frame.
"""

from __future__ import annotations

import enum

from pydantic import Field

from shared.validation import Strict


class Action(enum.Enum):
    START = "start"
    ROLLOVER = "rollover"
    FINISH = "finish"


class TriggerSettings(Strict):
    pre_roll_s: float = Field(default=3.0, ge=0.0, le=60.0, description="seconds kept before motion")
    post_roll_s: float = Field(default=5.0, ge=0.0, le=600.0,
                               description="seconds recorded after the last motion (event gap)")
    min_motion_frames: int = Field(default=3, ge=1, le=1000,
                                   description="consecutive motion frames needed to start a clip")
    max_clip_s: float = Field(default=60.0, ge=1.0, le=3600.0,
                              description="longest clip; longer events continue in a new clip")

class EventTrigger:
    """IDLE -> (min_motion_frames consecutive motion frames) -> RECORDING -> (post-roll without motion) -> IDLE.

    While recording, a clip that reaches ``max_clip_s`` (counted from the event start minus the
    pre-roll for the first clip, from the rollover for continuations) rolls over.
    """

    def __init__(self, settings: TriggerSettings | None = None) -> None:
        self.settings = settings or TriggerSettings()
        self.recording = False
        self._run = 0  # consecutive motion frames while idle
        self._run_start: float | None = None
        self._clip_start = 0.0
        self._last_motion: float | None = None
        self.motion_start: float | None = None  # first motion frame of the current event

    def update(self, t: float, motion: bool) -> list[Action]:
        s = self.settings
        if not self.recording:
            if not motion:
                self._run, self._run_start = 0, None
                return []
            if self._run == 0:
                self._run_start = t
            self._run += 1
            if self._run < s.min_motion_frames:
                return []
            self.recording = True
            self.motion_start = self._run_start
            self._last_motion = t
            self._clip_start = (self._run_start if self._run_start is not None else t) - s.pre_roll_s
            self._run, self._run_start = 0, None
            return [Action.START]
        if motion:
            self._last_motion = t
        assert self._last_motion is not None
        if t - self._last_motion > s.post_roll_s:
            self.recording = False
            return [Action.FINISH]
        if t - self._clip_start >= s.max_clip_s:
            self._clip_start = t
            return [Action.ROLLOVER]
        return []
