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

Unknown keys are tolerated and dropped (the one document whose model says ``extra="ignore"``
rather than the house's ``"forbid"``): a newer watcher may add fields within schema 1 without
cutting off older inspectors; anything that changes the meaning of a known key needs a new
schema number. The JSON itself is read by :mod:`shared.bounded_json` (size, UTF-8, depth, number
length, finite numbers, no duplicate keys), then validated by the :class:`Manifest` model
(:mod:`shared.validation`): per-field bounds in its annotations, the rules between fields in its
model validators. Reasons are ASCII and name the key (``'size': must be >= 1, got 0``).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from shared.bounded_json import RejectedJSON, load_json, show
from shared.naming import MAX_YEAR, MIN_YEAR, InvalidClipId, parse_clip_id, year_in_range
from shared.validation import Items, Problem, Strict, validate

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


# -- field types: each check raises ValueError with the reason (the key is added by the reader) -------------------

def _clip_id(v: str) -> str:
    parse_clip_id(v)  # InvalidClipId (a ValueError) says why not
    return v


def _sha256(v: str) -> str:
    if not _SHA256_RE.fullmatch(v):
        raise ValueError("must be 64 lowercase hex digits")
    return v


def _codec(v: str) -> str:
    if v not in CODECS:
        raise ValueError(f"{show(v)} is not one of {', '.join(sorted(CODECS))}")
    return v


def _utc_time(v: str) -> str:
    try:
        parse_utc(v)
    except ValueError as e:
        raise ValueError(f"is not an ISO 8601 UTC time in range: {show(v)} ({e})") from None
    return v


def _box(b: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x, y, w, h = b
    if not (all(0.0 <= v <= 1.0 for v in b) and x + w <= 1 + BOX_SLACK and y + h <= 1 + BOX_SLACK):
        raise ValueError(f"{show(list(b))} is not a normalized [x, y, w, h] box inside the frame")
    return b


ClipIdText = Annotated[str, AfterValidator(_clip_id)]
UtcTime = Annotated[str, AfterValidator(_utc_time)]
MediaTime = Annotated[float, Field(ge=-MAX_MEDIA_TIME_S, le=MAX_MEDIA_TIME_S)]
Dimension = Annotated[int, Field(ge=MIN_DIMENSION, le=MAX_DIMENSION)]
# a JSON array of four numbers (the tuple accepts a list; its numbers stay strict)
Box = Annotated[tuple[float, float, float, float], Field(strict=False), AfterValidator(_box)]


class Manifest(Strict):
    """A finished clip's manifest (schema 1). Built by the watcher, read back by :func:`parse_manifest`.

    The field order is the order problems are reported in (schema first); ``to_json`` sorts the keys.
    """

    # Unknown keys are dropped, not refused: schema 1's forward compatibility (see the module docstring).
    model_config = ConfigDict(extra="ignore")

    # the constructor's default; a document must state it (parse_manifest checks that it is there)
    schema_version: int = Field(SCHEMA_VERSION, alias="schema")
    id: ClipIdText
    file: str
    camera: str  # when absent from a document: the id's camera
    size: int = Field(ge=1, le=MAX_CLIP_BYTES)
    sha256: Annotated[str, AfterValidator(_sha256)]
    codec: Annotated[str, AfterValidator(_codec)]
    width: Dimension
    height: Dimension
    fps: float = Field(gt=0.0, le=MAX_FPS)
    frames: int = Field(ge=1, le=MAX_FRAMES)
    media_start_s: MediaTime  # source timeline of the first frame
    media_end_s: MediaTime  # source timeline of the last frame
    duration_s: float = Field(ge=0.0, le=MAX_DURATION_S)  # when absent from a document: the media span
    started_at: UtcTime  # UTC ISO 8601 of the first frame
    ended_at: UtcTime  # UTC ISO 8601 of the last frame
    motion_start_s: float | None = None
    motion_end_s: float | None = None
    peak_motion: float = Field(ge=0.0, le=1.0)
    salvaged: bool
    motion_boxes: Items[Box] = Field((), max_length=MAX_MOTION_BOXES)
    continuation_of: ClipIdText | None = None
    # the [detector] and [trigger] tables the clip was recorded with (shared.replay.Detection's document), kept
    # as a plain table: a newer watcher's new key must not cut the clip off from an older inspector; readers
    # that replay check it with Detection.from_doc. None: an older watcher, or a clip salvaged without a sidecar.
    settings: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _derived_defaults(cls, data: Any) -> Any:
        """A document may leave out ``camera`` (the id's) and ``duration_s`` (the media span)."""
        if not isinstance(data, dict) or ("camera" in data and "duration_s" in data):
            return data
        data = dict(data)
        if "camera" not in data and isinstance(data.get("id"), str):
            try:
                data["camera"] = parse_clip_id(data["id"]).camera
            except InvalidClipId:
                pass  # the id's own check says why
        start, end = data.get("media_start_s"), data.get("media_end_s")
        if "duration_s" not in data and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                            for v in (start, end)):
            data["duration_s"] = round(max(end - start, 0.0), 6)  # (a negative span is refused below)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """The rules between fields, checked in the order a reader would look (the old reasons kept)."""
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema {self.schema_version}")
        cid = parse_clip_id(self.id)
        if self.file != f"{self.id}.mp4":
            raise ValueError("'file' must be '<id>.mp4'")
        if self.camera != cid.camera:
            raise ValueError(f"'camera' {show(self.camera)} does not match the id")
        self._check_times()
        if self.continuation_of is not None and (
                parse_clip_id(self.continuation_of).camera != cid.camera or self.continuation_of == self.id):
            raise ValueError(f"'continuation_of' {show(self.continuation_of)} is not another clip of camera "
                             f"{show(cid.camera)}")
        return self

    def _check_times(self) -> None:
        start, end, fps, duration = self.media_start_s, self.media_end_s, self.fps, self.duration_s
        span = end - start
        if span < 0:
            raise ValueError(f"'media_end_s' {end:g} is before 'media_start_s' {start:g}")
        if not span - DURATION_TOLERANCE_S <= duration <= span + 1.0 / fps + DURATION_TOLERANCE_S:
            raise ValueError(f"'duration_s' {duration:g} does not match the media times ({start:g}..{end:g} "
                             f"at {fps:g} fps)")
        if self.frames > duration * fps * FRAME_RATE_SLACK + 2:
            raise ValueError(f"'frames' {self.frames} is far more than {duration:g} s at {fps:g} fps")
        wall_s = (parse_utc(self.ended_at) - parse_utc(self.started_at)).total_seconds()
        if wall_s < 0:
            raise ValueError("'ended_at' is before 'started_at'")
        if abs(wall_s - span) > WALL_TOLERANCE_S:
            raise ValueError(f"'started_at'..'ended_at' spans {wall_s:g} s, the media times {span:g} s")
        lo, hi = start - MOTION_MARGIN_S, end + MOTION_MARGIN_S
        for key, t in (("motion_start_s", self.motion_start_s), ("motion_end_s", self.motion_end_s)):
            if t is not None and not lo <= t <= hi:
                raise ValueError(f"'{key}' is {t:.10g}, outside {lo:.10g}..{hi:.10g}")
        first, last = self.motion_start_s, self.motion_end_s
        if first is not None and last is not None and last < first:
            raise ValueError("'motion_end_s' is before 'motion_start_s'")

    def to_json(self) -> bytes:
        """The document as the watcher has always written it: sorted keys, indent 2, boxes as arrays."""
        return (json.dumps(self.model_dump(by_alias=True), indent=2, sort_keys=True) + "\n").encode()


def _reason(p: Problem) -> str:
    """A Problem as a manifest reason: the top-level key quoted (``'motion_boxes'[0][3]: ...``), ASCII only."""
    if p.key:
        cut = min((i for i in (p.key.find("["), p.key.find(".")) if i >= 0), default=len(p.key))
        text = f"'{p.key[:cut]}'{p.key[cut:]}: {p.message}"
    else:
        text = p.message
    return text.encode("ascii", "backslashreplace").decode("ascii")


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
    if "schema" not in d:
        raise InvalidManifest("'schema': is required")
    try:
        m = validate(Manifest, d)
    except Problem as e:
        raise InvalidManifest(_reason(e)) from None
    if expected_id is not None and m.id != expected_id:
        raise InvalidManifest(f"id {m.id!r} does not match file name {show(expected_id)}")
    return m


def read_manifest(path: Path, *, expected_id: str | None = None) -> Manifest:
    """The manifest file at ``path``, read with the size cap and parsed: OSError if it cannot be read,
    InvalidManifest (with the reason) for anything else."""
    with open(path, "rb") as f:
        raw = f.read(MAX_MANIFEST_BYTES + 1)
    try:
        return parse_manifest(raw, expected_id=expected_id)
    except RecursionError:  # a last guard: bounded_json caps the depth
        raise InvalidManifest("nested too deeply") from None
