"""Clip ids: the one function that builds them and the one that parses them.

An id is ``<camera>_<YYYYMMDDTHHMMSSZ>_<seq>``, e.g. ``frontdoor_20261122T051825Z_0003``:
safe as a file name on every filesystem, sortable by time within a camera, and unique per
(camera, second, sequence). Anything :func:`parse_clip_id` rejects is never opened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

CAMERA_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_ID_RE = re.compile(r"^(?P<camera>[a-z0-9][a-z0-9-]{0,31})_(?P<stamp>\d{8}T\d{6}Z)_(?P<seq>\d{4,6})$")
_STAMP = "%Y%m%dT%H%M%SZ"
MAX_SEQ = 999_999


class InvalidClipId(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ClipId:
    camera: str
    started: datetime  # UTC, whole seconds
    seq: int

    def __str__(self) -> str:
        return f"{self.camera}_{self.started.strftime(_STAMP)}_{self.seq:04d}"


def check_camera_name(name: str) -> str | None:
    """Return a problem description, or None if ``name`` is a valid camera name."""
    if not isinstance(name, str) or not CAMERA_RE.fullmatch(name):
        return "must be 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit"
    return None


def make_clip_id(camera: str, started: datetime, seq: int) -> str:
    """Build a clip id. ``started`` must be timezone-aware; it is converted to UTC."""
    problem = check_camera_name(camera)
    if problem:
        raise InvalidClipId(f"camera name {camera!r} {problem}")
    if started.tzinfo is None:
        raise InvalidClipId("started must be timezone-aware")
    if not 0 <= seq <= MAX_SEQ:
        raise InvalidClipId(f"sequence {seq} out of range 0..{MAX_SEQ}")
    utc = started.astimezone(timezone.utc).replace(microsecond=0)
    return str(ClipId(camera, utc, seq))


def parse_clip_id(text: str) -> ClipId:
    """Parse a clip id; raise InvalidClipId for anything that is not exactly one."""
    m = _ID_RE.fullmatch(text) if isinstance(text, str) else None
    if not m:
        raise InvalidClipId(f"not a clip id: {text!r}")
    try:
        started = datetime.strptime(m["stamp"], _STAMP).replace(tzinfo=timezone.utc)
    except ValueError:
        raise InvalidClipId(f"not a clip id (bad time): {text!r}") from None
    return ClipId(m["camera"], started, int(m["seq"]))
