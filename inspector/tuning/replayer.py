"""One clip decoded once, every candidate's detector and trigger replayed over it in lockstep.

Runs in a worker process (``tune`` spreads clips over ``--jobs`` processes). Frames are decoded with
FFmpeg (:mod:`inspector.analysis.decode`, at most the manifest's frame size) to BGR and turned into the
detector's luma the way the watcher does for a camera read through OpenCV
(:func:`shared.detector.luma_from_bgr`, once per working width); each candidate then gets the same frames.
The cost per frame is the candidate's own CPU time in the detector and trigger (``time.thread_time``), so
other processes on the machine do not inflate it. Every event a candidate's trigger starts is kept (its
first motion frame and when it finished), since the first may be noise before the event the Pi saw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from inspector.analysis.decode import DecodeError, VideoReader
from shared.detector import luma_from_bgr
from shared.replay import Detection, Replay


@dataclass(frozen=True)
class Event:
    start_s: float  # the event's first motion frame (its clip begins pre_roll_s earlier)
    end_s: float | None  # when the trigger finished it; None: still recording at the clip's end


@dataclass(frozen=True)
class Outcome:
    """What one candidate did over one clip (seconds from the clip's first frame)."""

    events: tuple[Event, ...]  # every event the trigger started
    judged_from_s: float | None  # the end of the replay's warm-up (None: it never ended)
    motion_frames: int
    frames: int
    cpu_s: float

    @property
    def recorded(self) -> bool:
        return bool(self.events)

    @property
    def event_start_s(self) -> float | None:
        return self.events[0].start_s if self.events else None


@dataclass(frozen=True)
class ClipReplay:
    outcomes: tuple[Outcome, ...]  # one per candidate, in order
    frames: int
    duration_s: float
    decode_s: float  # CPU time decoding and converting (shared by the candidates)
    error: str | None = None


class _Tally:
    def __init__(self, detection: Detection) -> None:
        self.run = Replay(detection)
        self.events: list[Event] = []
        self.judged_from: float | None = None
        self.motion = 0
        self.cpu = 0.0

    def outcome(self, frames: int) -> Outcome:
        return Outcome(tuple(self.events), self.judged_from, self.motion, frames, self.cpu)


def replay_clip(path: Path, candidates: list[Detection], *, max_pixels: int | None = None) -> ClipReplay:
    """Every candidate over ``path``; a clip that cannot be read or replayed gives ``error`` and no outcomes."""
    tallies = [_Tally(c) for c in candidates]
    widths = sorted({c.detector.width for c in candidates})
    frames, last_t, decode_s = 0, 0.0, 0.0
    try:
        with VideoReader(path, max_pixels=max_pixels) as reader:
            it = reader.frames()
            while True:
                t0 = time.thread_time()
                frame = next(it, None)
                if frame is None:
                    break
                bgr = frame.bgr()
                lumas = {w: luma_from_bgr(bgr, w) for w in widths}
                decode_s += time.thread_time() - t0
                frames, last_t = frames + 1, frame.t
                for tally in tallies:
                    t1 = time.thread_time()
                    step, _ = tally.run.step(frame.t, lumas[tally.run.settings.detector.width])
                    tally.cpu += time.thread_time() - t1
                    if tally.judged_from is None and not step.learning:
                        tally.judged_from = step.t
                    tally.motion += step.motion
                    if "start" in step.actions:
                        start = tally.run.event_start
                        tally.events.append(Event(step.t if start is None else start, None))
                    elif "finish" in step.actions and tally.events:
                        tally.events[-1] = Event(tally.events[-1].start_s, step.t)
    except DecodeError as e:
        return ClipReplay((), frames, last_t, decode_s, error=str(e))
    except (MemoryError, ValueError, OSError) as e:
        return ClipReplay((), frames, last_t, decode_s, error=f"{type(e).__name__}: {e}"[:300])
    if frames == 0:
        return ClipReplay((), 0, 0.0, decode_s, error="no frame decoded")
    return ClipReplay(tuple(t.outcome(frames) for t in tallies), frames, last_t, decode_s)
