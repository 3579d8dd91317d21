"""The analysis result of one clip (``<id>.analysis.json`` beside it): one model to build, write and read it.

The analyzer builds an :class:`AnalysisResult` (so what it writes is checked and typed), the child process
sends it to the supervisor, :func:`write_artifacts <inspector.analysis.analyzer.write_artifacts>` writes it
last beside the clip, and the report and ``catalog rebuild`` read it back with :func:`parse_analysis`.

Reading is total: an AnalysisResult of bounded, finite values, or :class:`BadAnalysis` with the reason
(``analysis.video.duration_s: must be <= 86400.0, got 1000000000.0``), never another exception. The
file is our own analyzer's output, but it sits on a disk that can be damaged, edited or half-restored,
and the report reads it for every clip: one garbled file (cut short, NaN, a 10^9 s duration, 30,000
nested brackets, a still named ``../../etc/passwd``) must cost that clip its page, never the report or
the rebuild. The bounds are generous: far above any real clip, far below what breaks a page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field

from shared.validation import Items, Problem, Strict, validate

MAX_BYTES = 16 * 1024 * 1024  # a day of 0.1 s activity bins is ~7 MB
MAX_DURATION_S = 86400.0  # clips are minutes long; a day is generous
MAX_LIST = 1_000_000
MAX_SEGMENTS = 10_000
MAX_BOXES = 1_000
MAX_DIMENSION = 16384
MAX_FPS = 1000.0
MAX_FRAMES = 100_000_000
MAX_PEOPLE = 100_000
_STILL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.jpg", re.ASCII)  # a plain file name beside the clip


class BadAnalysis(ValueError):
    """The analysis file cannot be used; the message says why."""


def _still(v: str) -> str:
    if not _STILL_RE.fullmatch(v) or ".." in v:
        raise ValueError("is not a still's file name")
    return v


ShortText = Annotated[str, Field(max_length=200)]
Seconds = Annotated[float, Field(ge=0.0, le=MAX_DURATION_S)]
Still = Annotated[str, AfterValidator(_still)]
Fraction = Annotated[float, Field(ge=-1.0, le=2.0)]  # of the frame; generous: boxes may overhang a little
# [x, y, w, h] of a motion segment, [x, y, w, h, score] of a person: fractions of the frame
SegmentBox = Annotated[tuple[Fraction, Fraction, Fraction, Fraction], Field(strict=False)]
Score = Annotated[float, Field(ge=-1.0e6, le=1.0e6)]  # the detector's (an SVM margin: not a fraction)
PersonBox = Annotated[tuple[Fraction, Fraction, Fraction, Fraction, Score], Field(strict=False)]


class Video(Strict):
    """What the decoder saw."""

    codec: ShortText
    width: int = Field(ge=1, le=MAX_DIMENSION)
    height: int = Field(ge=1, le=MAX_DIMENSION)
    fps: float = Field(ge=0.0, le=MAX_FPS)  # 0: unknown (a single frame)
    frames: int = Field(ge=0, le=MAX_FRAMES)
    duration_s: Seconds


class Segment(Strict):
    """A stretch of motion: when, how strong at most, where (the union of its boxes)."""

    start_s: Seconds
    end_s: Seconds
    peak: float = Field(ge=0.0, le=1.0e6)
    box: SegmentBox


class Motion(Strict):
    bin_s: float = Field(ge=1e-3, le=3600.0)
    activity: Items[Annotated[float, Field(ge=0.0, le=1.0e6)]] = Field(max_length=MAX_LIST)  # per bin
    peak: float = Field(ge=0.0, le=1.0e6)
    peak_t: Seconds
    active_s: Seconds
    segments: Items[Segment] = Field(max_length=MAX_SEGMENTS)


class People(Strict):
    detector: ShortText
    sampled: int = Field(ge=0, le=MAX_FRAMES)  # frames looked at
    peak: int = Field(ge=0, le=MAX_PEOPLE)
    per_second: Items[Annotated[int, Field(ge=0, le=MAX_PEOPLE)]] = Field(max_length=MAX_LIST)
    best_t: Seconds | None = None  # the frame with the most people, None if there was none
    boxes: Items[PersonBox] = Field((), max_length=MAX_BOXES)  # the people in that frame


class Stills(Strict):
    """When the stills were taken and, once written beside the clip, their file names."""

    thumb_t: Seconds
    sheet_t: Items[Seconds] = Field(max_length=MAX_BOXES)
    thumb: Still | None = None
    sheet: Still | None = None
    people: Still | None = None


class AnalysisResult(Strict):
    """``<id>.analysis.json``."""

    analyzer_version: int = Field(ge=0, le=1_000_000)
    file: str = Field(max_length=4096)  # the analyzed file's name
    clip_id: ShortText | None = None  # with sha256: which library clip (absent for a loose file)
    sha256: ShortText | None = None
    video: Video
    motion: Motion
    people: People
    stills: Stills
    elapsed_s: float = Field(ge=0.0)
    cpu_s: float = Field(ge=0.0)

    def to_json(self) -> bytes:
        return (json.dumps(self.model_dump(mode="json"), indent=1, sort_keys=True) + "\n").encode()


def read_analysis(path: Path) -> AnalysisResult:
    """Read and parse ``path``; raises BadAnalysis (missing, unreadable, oversized, invalid)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise BadAnalysis("analysis file is missing") from None
    except OSError as e:
        raise BadAnalysis(f"analysis file cannot be read: {e.strerror or e}") from None
    return parse_analysis(raw)


def parse_analysis(raw: bytes) -> AnalysisResult:
    """``raw`` as an AnalysisResult, or BadAnalysis with the reason."""
    if len(raw) > MAX_BYTES:
        raise BadAnalysis(f"analysis file is over the {MAX_BYTES} byte cap")
    try:
        d = json.loads(raw)
    except RecursionError:
        raise BadAnalysis("analysis is not JSON: nested too deeply") from None
    except ValueError as e:  # UnicodeDecodeError, JSONDecodeError, an integer of too many digits
        raise BadAnalysis(f"analysis is not JSON: {str(e)[:200]}") from None
    return result_of(d)


def result_of(d: object) -> AnalysisResult:
    """A decoded JSON value (from the file, or from a child process) as an AnalysisResult, or BadAnalysis."""
    try:
        return validate(AnalysisResult, d, prefix="analysis")
    except Problem as e:
        raise BadAnalysis(str(e)) from None
    except RecursionError:  # a value nested near the decoder's own limit
        raise BadAnalysis("analysis: nested too deeply") from None
