"""The clip manifest: the versioned JSON that marks ``<id>.mp4`` as finished.

The watcher builds a :class:`Manifest` after the clip is durable (``watcher/publish.py``,
``watcher/salvage.py``); readers (the inspector, cleanup) use :func:`parse_manifest`, which is
total: for *any* bytes it returns a Manifest or raises :class:`InvalidManifest` with a reason,
never another exception. A manifest comes from the less trusted side, so every field is bounded
and checked against the others (the bounds are exported for the inspector's own limits):

- size in 1..:data:`MAX_CLIP_BYTES`; sha256 64 lowercase hex digits; codec in :data:`CODECS`;
- width and height in :data:`MIN_DIMENSION`..:data:`MAX_DIMENSION`; fps in (0, :data:`MAX_FPS`];
- media times finite (within :data:`MAX_MEDIA_TIME_S`) and ordered; ``duration_s`` is the media
  span, plus at most one frame (the watcher adds the last frame's duration, salvage does not),
  within :data:`DURATION_TOLERANCE_S`, and at most :data:`MAX_DURATION_S`;
- frames at least 1 and at most :data:`FRAME_RATE_SLACK` x duration x fps (+2): dropped frames
  and a variable rate give fewer frames than the nominal rate, never many more;
- started_at/ended_at UTC ISO 8601 (``Z`` or ``+00:00``) in the years of
  :data:`shared.naming.MIN_YEAR`..``MAX_YEAR``, ordered, and as far apart as the media times
  (the watcher derives both from one clock reading, so they agree to the millisecond);
- motion times ordered and within :data:`MOTION_MARGIN_S` of the clip (an event's start may
  precede the clip's first keyframe; a salvaged clip may end before its motion did);
  peak_motion in [0, 1] (the detector's score); motion boxes normalized ``[x, y, w, h]``
  inside the frame, at most :data:`MAX_MOTION_BOXES`;
- continuation_of is null or the id of another clip of the same camera (not necessarily earlier:
  ids follow the wall clock, which may step back).

Unknown keys are tolerated and dropped: a newer watcher may add fields within schema 1 without
cutting off older inspectors; anything that changes the meaning of a known key needs a new
schema number. The JSON itself is read by :mod:`shared.bounded_json` (size, UTF-8, depth, number
length, finite numbers, no duplicate keys).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.bounded_json import RejectedJSON, load_json, show
from shared.naming import MAX_YEAR, MIN_YEAR, InvalidClipId, parse_clip_id, year_in_range

SCHEMA_VERSION = 1
MAX_MANIFEST_BYTES = 64 * 1024
MAX_CLIP_BYTES = 64 * 1024**3  # 64 GiB: far above an hour of 4K H.264, far below "fill the disk"
MAX_FPS = 240.0
MIN_DIMENSION, MAX_DIMENSION = 16, 8192
MAX_DURATION_S = 6 * 3600.0  # the watcher rolls over at max_clip_s <= 1 h (+ pre-roll)
MAX_FRAMES = int(MAX_DURATION_S * MAX_FPS)
MAX_MEDIA_TIME_S = 1e9  # a source timeline (seconds since the source opened) of ~31 years
DURATION_TOLERANCE_S = 0.1
WALL_TOLERANCE_S = 1.0
FRAME_RATE_SLACK = 4.0  # a live source may deliver faster than the rate it reports (RTSP without a rate: 25)
MOTION_MARGIN_S = 3600.0
MAX_MOTION_BOXES = 256
BOX_SLACK = 1e-3  # boxes are rounded to 4 decimals: x + w may pass 1 by that much
# What watcher/container.py's remux reports (the demuxer's codec name) for the encoders the watcher can use.
CODECS = frozenset({"h264", "hevc", "mpeg4", "mjpeg", "vp8", "vp9", "av1"})
_SHA256_RE = re.compile(r"[0-9a-f]{64}", re.ASCII)
_UTC_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?(?:Z|\+00:00)", re.ASCII)
_MAX_TIME_LEN = len("2026-11-22T05:18:25.123456+00:00")


class InvalidManifest(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Manifest:
    id: str
    camera: str
    file: str
    size: int
    sha256: str
    codec: str
    width: int
    height: int
    fps: float
    frames: int
    started_at: str  # UTC ISO 8601 of the first frame
    ended_at: str  # UTC ISO 8601 of the last frame
    media_start_s: float  # source timeline of the first frame
    media_end_s: float  # source timeline of the last frame
    motion_start_s: float | None
    motion_end_s: float | None
    peak_motion: float
    salvaged: bool
    duration_s: float
    motion_boxes: tuple[tuple[float, float, float, float], ...] = ()
    continuation_of: str | None = None
    schema: int = SCHEMA_VERSION

    def to_json(self) -> bytes:
        d = asdict(self)
        d["motion_boxes"] = [list(b) for b in self.motion_boxes]
        return (json.dumps(d, indent=2, sort_keys=True) + "\n").encode()


def utc_iso(ts: datetime) -> str:
    """UTC ISO 8601 with milliseconds and a Z suffix."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text: object) -> datetime:
    """A manifest time (UTC ISO 8601 as :func:`utc_iso` writes it, or with ``+00:00`` and up to 6
    decimals) as an aware datetime in the sane years; ValueError otherwise. Strict on purpose:
    ``datetime.fromisoformat`` also takes year 1, week dates and any offset."""
    if not isinstance(text, str) or len(text) > _MAX_TIME_LEN:
        raise ValueError("not a UTC ISO 8601 time")
    m = _UTC_RE.fullmatch(text)
    if not m:
        raise ValueError("not a UTC ISO 8601 time")
    y, mo, d, h, mi, s, frac = m.groups()
    t = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), int((frac or "0").ljust(6, "0")),
                 tzinfo=UTC)
    if not year_in_range(t):
        raise ValueError(f"year {t.year} is outside {MIN_YEAR}..{MAX_YEAR}")
    return t


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> tuple[int, str]:
    """Return (size, hex sha256) of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


class _Fields:
    """Typed, bounded reads of a decoded manifest object; each failure names the key."""

    def __init__(self, d: dict[str, Any]) -> None:
        self.d = d

    def _get(self, key: str) -> Any:
        if key not in self.d:
            raise InvalidManifest(f"missing key {key!r}")
        return self.d[key]

    def integer(self, key: str, lo: int, hi: int) -> int:
        v = self._get(key)
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidManifest(f"{key!r} has the wrong type: {show(v)} is not an integer")
        if not lo <= v <= hi:
            raise InvalidManifest(f"{key!r} is {v}, outside {lo}..{hi}")
        return v

    def number(self, key: str, lo: float, hi: float, *, default: float | None = None) -> float:
        if default is not None and key not in self.d:
            return default
        v = self._get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InvalidManifest(f"{key!r} has the wrong type: {show(v)} is not a number")
        f = float(v)  # finite: bounded_json allows no infinity and at most 40-digit integers
        if not lo <= f <= hi:
            raise InvalidManifest(f"{key!r} is {f:.10g}, outside {lo:.10g}..{hi:.10g}")
        return f

    def optional_number(self, key: str, lo: float, hi: float) -> float | None:
        return None if self.d.get(key) is None else self.number(key, lo, hi)

    def string(self, key: str) -> str:
        v = self._get(key)
        if not isinstance(v, str):
            raise InvalidManifest(f"{key!r} has the wrong type: {show(v)} is not a string")
        return v

    def boolean(self, key: str) -> bool:
        v = self._get(key)
        if not isinstance(v, bool):
            raise InvalidManifest(f"{key!r} has the wrong type: {show(v)} is not true or false")
        return v

    def time(self, key: str) -> tuple[str, datetime]:
        v = self._get(key)
        try:
            return v, parse_utc(v)
        except ValueError as e:
            raise InvalidManifest(f"{key!r} is not an ISO 8601 UTC time in range: {show(v)} ({e})") from None


def _boxes(raw: Any) -> tuple[tuple[float, float, float, float], ...]:
    if not isinstance(raw, list) or len(raw) > MAX_MOTION_BOXES:
        raise InvalidManifest(f"'motion_boxes' must be a list of at most {MAX_MOTION_BOXES} boxes")
    boxes = []
    for b in raw:
        if not (isinstance(b, list) and len(b) == 4
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in b)):
            raise InvalidManifest(f"'motion_boxes' entries must be [x, y, w, h], not {show(b)}")
        x, y, w, h = (float(v) for v in b)
        if not (all(0.0 <= v <= 1.0 for v in (x, y, w, h)) and x + w <= 1 + BOX_SLACK and y + h <= 1 + BOX_SLACK):
            raise InvalidManifest(f"'motion_boxes' entry {show(b)} is not a normalized box inside the frame")
        boxes.append((x, y, w, h))
    return tuple(boxes)


def _continuation(raw: Any, this: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidManifest(f"'continuation_of' has the wrong type: {show(raw)}")
    try:
        prev = parse_clip_id(raw)
    except InvalidClipId as e:
        raise InvalidManifest(f"'continuation_of': {e}") from None
    camera = parse_clip_id(this).camera
    if prev.camera != camera or raw == this:
        raise InvalidManifest(f"'continuation_of' {raw!r} is not another clip of camera {camera!r}")
    return raw


def parse_manifest(raw: bytes, *, expected_id: str | None = None) -> Manifest:
    """Validate manifest bytes; raise InvalidManifest with a reason for anything off (see the module docstring)."""
    if isinstance(raw, (bytes, bytearray, memoryview)) and len(raw) > MAX_MANIFEST_BYTES:
        raise InvalidManifest(f"manifest is {len(raw)} bytes, over the {MAX_MANIFEST_BYTES} byte cap")
    try:
        d = load_json(raw, max_bytes=MAX_MANIFEST_BYTES)
    except RejectedJSON as e:
        raise InvalidManifest(str(e)) from None
    if not isinstance(d, dict):
        raise InvalidManifest("not a JSON object")
    f = _Fields(d)
    schema = f.integer("schema", -(10**40), 10**40)  # (any integer bounded_json lets through)
    if schema != SCHEMA_VERSION:
        raise InvalidManifest(f"unsupported schema {schema}")
    clip_id = f.string("id")
    try:
        parsed = parse_clip_id(clip_id)
    except InvalidClipId as e:
        raise InvalidManifest(str(e)) from None
    if expected_id is not None and clip_id != expected_id:
        raise InvalidManifest(f"id {clip_id!r} does not match file name {show(expected_id)}")
    if f.string("file") != f"{clip_id}.mp4":
        raise InvalidManifest("'file' must be '<id>.mp4'")
    camera = d.get("camera", parsed.camera)
    if camera != parsed.camera:
        raise InvalidManifest(f"'camera' {show(camera)} does not match the id")
    size = f.integer("size", 1, MAX_CLIP_BYTES)
    sha = f.string("sha256")
    if not _SHA256_RE.fullmatch(sha):
        raise InvalidManifest("'sha256' must be 64 lowercase hex digits")
    codec = f.string("codec")
    if codec not in CODECS:
        raise InvalidManifest(f"'codec' {show(codec)} is not one of {', '.join(sorted(CODECS))}")
    width = f.integer("width", MIN_DIMENSION, MAX_DIMENSION)
    height = f.integer("height", MIN_DIMENSION, MAX_DIMENSION)
    fps = f.number("fps", 0.0, MAX_FPS)
    if fps <= 0:
        raise InvalidManifest("'fps' must be above 0")
    frames = f.integer("frames", 1, MAX_FRAMES)
    media_start = f.number("media_start_s", -MAX_MEDIA_TIME_S, MAX_MEDIA_TIME_S)
    media_end = f.number("media_end_s", -MAX_MEDIA_TIME_S, MAX_MEDIA_TIME_S)
    span = media_end - media_start
    if span < 0:
        raise InvalidManifest(f"'media_end_s' {media_end:g} is before 'media_start_s' {media_start:g}")
    duration = f.number("duration_s", 0.0, MAX_DURATION_S, default=round(span, 6))
    if not span - DURATION_TOLERANCE_S <= duration <= span + 1.0 / fps + DURATION_TOLERANCE_S:
        raise InvalidManifest(f"'duration_s' {duration:g} does not match the media times "
                              f"({media_start:g}..{media_end:g} at {fps:g} fps)")
    if frames > duration * fps * FRAME_RATE_SLACK + 2:
        raise InvalidManifest(f"'frames' {frames} is far more than {duration:g} s at {fps:g} fps")
    started_at, started = f.time("started_at")
    ended_at, ended = f.time("ended_at")
    wall_s = (ended - started).total_seconds()
    if wall_s < 0:
        raise InvalidManifest("'ended_at' is before 'started_at'")
    if abs(wall_s - span) > WALL_TOLERANCE_S:
        raise InvalidManifest(f"'started_at'..'ended_at' spans {wall_s:g} s, the media times {span:g} s")
    lo, hi = media_start - MOTION_MARGIN_S, media_end + MOTION_MARGIN_S
    motion_start = f.optional_number("motion_start_s", lo, hi)
    motion_end = f.optional_number("motion_end_s", lo, hi)
    if motion_start is not None and motion_end is not None and motion_end < motion_start:
        raise InvalidManifest("'motion_end_s' is before 'motion_start_s'")
    return Manifest(
        id=clip_id,
        camera=parsed.camera,
        file=f"{clip_id}.mp4",
        size=size,
        sha256=sha,
        codec=codec,
        width=width,
        height=height,
        fps=fps,
        frames=frames,
        started_at=started_at,
        ended_at=ended_at,
        media_start_s=media_start,
        media_end_s=media_end,
        motion_start_s=motion_start,
        motion_end_s=motion_end,
        peak_motion=f.number("peak_motion", 0.0, 1.0),
        salvaged=f.boolean("salvaged"),
        duration_s=duration,
        motion_boxes=_boxes(d.get("motion_boxes", [])),
        continuation_of=_continuation(d.get("continuation_of"), clip_id),
    )
