"""Replaying the watcher's detector and trigger over frames that were already recorded.

One copy of the replay both sides run: ``python -m watcher explain`` (why was this clip recorded?) and
``python -m inspector tune`` (what would other settings have recorded?). Pure: frames in, steps out.

:class:`Detection` is the pair of settings the replay needs (``[detector]`` and ``[trigger]``), as the
watcher writes them into each clip's manifest (``settings``) so that a replay knows what the Pi ran.
:meth:`Detection.from_doc` is total (a Detection or :class:`~shared.validation.Problem`): a manifest
comes from a Pi. :meth:`Detection.with_changes` applies ``detector.KEY=VALUE`` edits, validated.

Warm-up: a clip holds only its pre-roll before the event, while the Pi's detector had been learning the
scene for as long as it had run. The replay starts like the Pi after a restart: it learns from the clip's
first ``warmup_s`` seconds and judges nothing meanwhile (:attr:`Step.learning`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.detector import DetectorSettings, MotionDetector, MotionResult
from shared.trigger import EventTrigger, TriggerSettings
from shared.validation import Problem, Strict, validate

SECTIONS = ("detector", "trigger")


class Detection(Strict):
    """What decides whether a clip is recorded: the ``[detector]`` and ``[trigger]`` tables."""

    detector: DetectorSettings = DetectorSettings()
    trigger: TriggerSettings = TriggerSettings()

    def to_doc(self) -> dict[str, Any]:
        """As JSON-ready tables (mask polygons as arrays)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_doc(cls, doc: object) -> Detection:
        """A manifest's ``settings`` (or any document) as a Detection; :class:`Problem` naming the key."""
        return validate(cls, doc)

    def flat(self) -> dict[str, Any]:
        """``{"detector.threshold": 4.0, ...}``: every key with its section, as a candidate's edits are written."""
        return {f"{section}.{key}": value for section, table in self.to_doc().items() for key, value in table.items()}

    def changes(self, base: Detection) -> dict[str, Any]:
        """The keys whose values differ from ``base``'s, flat."""
        mine, theirs = self.flat(), base.flat()
        return {k: v for k, v in mine.items() if theirs.get(k) != v}

    def with_changes(self, changes: dict[str, Any]) -> Detection:
        """These settings with ``{"detector.KEY": value}`` edits, validated; :class:`Problem` names a bad key."""
        doc = self.to_doc()
        for dotted, value in changes.items():
            section, _, key = dotted.partition(".")
            if section not in SECTIONS or not key:
                raise Problem(dotted, f"must be {' or '.join(s + '.KEY' for s in SECTIONS)}")
            if key not in doc[section]:
                raise Problem(dotted, "is not a setting")
            doc[section][key] = value
        return validate(Detection, doc)


@dataclass(frozen=True)
class Step:
    """One frame of the replay."""

    t: float  # seconds from the first frame replayed
    motion: bool
    score: float
    boxes: int
    learning: bool  # the detector is still in its warm-up
    state: str  # the trigger: "idle", "counting" (motion frames towards min_motion_frames) or "event"
    actions: tuple[str, ...]


class Replay:
    """The watcher's own MotionDetector and EventTrigger, fed one luma frame at a time."""

    def __init__(self, settings: Detection) -> None:
        self.settings = settings
        self.detector = MotionDetector(settings.detector)
        self.trigger = EventTrigger(settings.trigger)
        self._t0: float | None = None

    def step(self, t: float, luma: np.ndarray) -> tuple[Step, MotionResult]:
        """Judge the frame at media time ``t``: what the Pi would have done with it."""
        self._t0 = t if self._t0 is None else self._t0
        result = self.detector.process(luma, t)
        actions = self.trigger.update(t, result.motion)
        state = "event" if self.trigger.recording else "counting" if result.motion else "idle"
        step = Step(round(t - self._t0, 3), result.motion, result.score, len(result.boxes), result.warming_up,
                    state, tuple(a.name.lower() for a in actions))
        return step, result

    @property
    def event_start(self) -> float | None:
        """The first motion frame of the event the trigger is recording, seconds from the first frame."""
        start = self.trigger.motion_start
        return None if start is None or self._t0 is None else round(start - self._t0, 3)
