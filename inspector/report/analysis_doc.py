"""The ``<id>.analysis.json`` beside a clip, parsed totally: an :class:`AnalysisDoc` of bounded,
finite values, or :class:`BadAnalysis` with the reason. Never another exception.

The file is our own analyzer's output, but it sits on a disk that can be damaged, edited or
half-restored, and the report and ``catalog rebuild`` read it for every clip: one garbled file
(cut short, NaN, a 10^9 s duration, 30,000 nested brackets, a still named ``../../etc/passwd``)
must cost that clip its page, never the report or the rebuild. So every field the report draws
is checked here against generous bounds, and the pages only ever see an AnalysisDoc.
"""

from __future__ import annotations

import builtins
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_BYTES = 16 * 1024 * 1024  # a day of 0.1 s activity bins is ~7 MB
MAX_DURATION_S = 86400.0  # clips are minutes long; a day is generous
MAX_LIST = 1_000_000
MAX_SEGMENTS = 10_000
MAX_BOXES = 1_000
MAX_DIMENSION = 16384
MAX_FPS = 1000.0
MAX_FRAMES = 100_000_000
_STILL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.jpg$")  # a plain file name beside the clip


class BadAnalysis(ValueError):
    """The analysis file cannot be used; the message says why."""


@dataclass(frozen=True)
class AnalysisDoc:
    analyzer_version: int
    clip_id: str | None
    sha256: str | None
    codec: str
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    bin_s: float
    activity: tuple[float, ...]
    motion_peak: float
    active_s: float
    segments: tuple[tuple[float, float], ...]
    detector: str
    sampled: int
    people_peak: int
    per_second: tuple[int, ...]
    best_t: float | None
    boxes: tuple[tuple[float, float, float, float, float], ...]
    thumb: str | None  # still file names, beside the clip
    sheet: str | None
    people_still: str | None


def read_analysis(path: Path) -> AnalysisDoc:
    """Read and parse ``path``; raises BadAnalysis (missing, unreadable, oversized, invalid)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise BadAnalysis("analysis file is missing") from None
    except OSError as e:
        raise BadAnalysis(f"analysis file cannot be read: {e.strerror or e}") from None
    return parse_analysis(raw)


def parse_analysis(raw: bytes) -> AnalysisDoc:
    if len(raw) > MAX_BYTES:
        raise BadAnalysis(f"analysis file is over the {MAX_BYTES} byte cap")
    try:
        d = json.loads(raw)
    except RecursionError:
        raise BadAnalysis("analysis is not JSON: nested too deeply") from None
    except ValueError as e:  # UnicodeDecodeError, JSONDecodeError, an integer of too many digits
        raise BadAnalysis(f"analysis is not JSON: {str(e)[:200]}") from None
    obj = _Obj(d, "analysis")
    video, motion, people, stills = (obj.obj(k) for k in ("video", "motion", "people", "stills"))
    duration = video.num("duration_s", 0.0, MAX_DURATION_S)
    bin_s = motion.num("bin_s", 1e-3, 3600.0)
    segments = tuple(
        (s.num("start_s", 0.0, MAX_DURATION_S), s.num("end_s", 0.0, MAX_DURATION_S))
        for s in motion.objs("segments", MAX_SEGMENTS))
    boxes = []
    for b in people.lists("boxes", MAX_BOXES):
        if len(b) != 5:
            raise BadAnalysis("analysis.people.boxes entries must be [x, y, w, h, score]")
        boxes.append(tuple(_number(v, "analysis.people.boxes", -1.0, 2.0) for v in b))
    best_t = people.get("best_t")
    return AnalysisDoc(
        analyzer_version=obj.int("analyzer_version", 0, 1_000_000),
        clip_id=obj.optstr("clip_id"), sha256=obj.optstr("sha256"),
        codec=video.str("codec"), width=video.int("width", 1, MAX_DIMENSION),
        height=video.int("height", 1, MAX_DIMENSION), fps=video.num("fps", 0.0, MAX_FPS),
        frames=video.int("frames", 0, MAX_FRAMES), duration_s=duration, bin_s=bin_s,
        activity=motion.nums("activity", 0.0, 1.0e6), motion_peak=motion.num("peak", 0.0, 1.0e6),
        active_s=motion.num("active_s", 0.0, MAX_DURATION_S), segments=segments,
        detector=people.optstr("detector") or "", sampled=people.int("sampled", 0, MAX_FRAMES),
        people_peak=people.int("peak", 0, 100_000),
        per_second=tuple(int(v) for v in people.nums("per_second", 0.0, 100_000.0, integers=True)),
        best_t=None if best_t is None else _number(best_t, "analysis.people.best_t", 0.0, MAX_DURATION_S),
        boxes=tuple(boxes),  # type: ignore[arg-type]
        thumb=stills.still("thumb"), sheet=stills.still("sheet"), people_still=stills.still("people"))


def _number(v: Any, where: str, lo: float, hi: float, *, integer: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
        raise BadAnalysis(f"{where} must be {'an integer' if integer else 'a number'}")
    try:
        f = float(v)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f) or not lo <= f <= hi:
        raise BadAnalysis(f"{where} = {str(v)[:40]} is out of range ({lo:g}..{hi:g})")
    return f


class _Obj:
    """A JSON object and where it is, with typed getters that raise BadAnalysis."""
    # Its methods str() and int() shadow the builtins in this class body: annotations say builtins.str/int.

    def __init__(self, d: Any, where: builtins.str) -> None:
        if not isinstance(d, dict):
            raise BadAnalysis(f"{where} is not a JSON object")
        self.d, self.where = d, where

    def get(self, key: builtins.str) -> Any:
        return self.d.get(key)

    def _need(self, key: builtins.str) -> Any:
        if key not in self.d:
            raise BadAnalysis(f"{self.where}.{key} is missing")
        return self.d[key]

    def obj(self, key: builtins.str) -> _Obj:
        return _Obj(self._need(key), f"{self.where}.{key}")

    def num(self, key: builtins.str, lo: float, hi: float) -> float:
        return _number(self._need(key), f"{self.where}.{key}", lo, hi)

    def int(self, key: builtins.str, lo: builtins.int, hi: builtins.int) -> builtins.int:
        return int(_number(self._need(key), f"{self.where}.{key}", lo, hi, integer=True))

    def str(self, key: builtins.str) -> builtins.str:
        v = self._need(key)
        if not isinstance(v, str) or len(v) > 200:
            raise BadAnalysis(f"{self.where}.{key} must be a short string")
        return v

    def optstr(self, key: builtins.str) -> builtins.str | None:
        return None if self.d.get(key) is None else self.str(key)

    def _list(self, key: builtins.str, cap: builtins.int) -> list[Any]:
        v = self._need(key)
        if not isinstance(v, list) or len(v) > cap:
            raise BadAnalysis(f"{self.where}.{key} must be a list of at most {cap} entries")
        return v

    def nums(self, key: builtins.str, lo: float, hi: float, *, integers: bool = False) -> tuple[float, ...]:
        where = f"{self.where}.{key}"
        return tuple(_number(v, where, lo, hi, integer=integers) for v in self._list(key, MAX_LIST))

    def objs(self, key: builtins.str, cap: builtins.int) -> list[_Obj]:
        return [_Obj(v, f"{self.where}.{key}[]") for v in self._list(key, cap)]

    def lists(self, key: builtins.str, cap: builtins.int) -> list[list[Any]]:
        out = self._list(key, cap)
        if not all(isinstance(v, list) for v in out):
            raise BadAnalysis(f"{self.where}.{key} entries must be lists")
        return out

    def still(self, key: builtins.str) -> builtins.str | None:
        v = self.d.get(key)
        if v is None:
            return None
        if not isinstance(v, str) or not _STILL_RE.match(v) or ".." in v:
            raise BadAnalysis(f"{self.where}.{key} is not a still's file name")
        return v
