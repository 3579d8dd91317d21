"""Clip ids: the one function that builds them and the one that parses them.

An id is ``<camera>_<YYYYMMDDTHHMMSSZ>_<seq>``, e.g. ``frontdoor_20261122T051825Z_0003``:
safe as a file name on every filesystem, sortable by time within a camera, and unique per
(camera, second, sequence). Anything :func:`parse_clip_id` rejects is never opened.

Ids arrive from remotes (SFTP listings, manifests), so :func:`parse_clip_id` is total: for any
value it returns a :class:`ClipId` or raises :class:`InvalidClipId`, nothing else. It takes ASCII
digits only (``\\d`` would also take Arabic-Indic or fullwidth digits), bounds the length before
any regex runs, keeps dates within :data:`MIN_YEAR`..:data:`MAX_YEAR`, and accepts only the
canonical spelling (``str(parse_clip_id(s)) == s``), so two different file names can never
stand for the same clip.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime

CAMERA_MAX_LEN = 32
CAMERA_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}", re.ASCII)
_ID_RE = re.compile(r"(?P<camera>[a-z0-9][a-z0-9-]{0,31})_(?P<stamp>[0-9]{8}T[0-9]{6}Z)_(?P<seq>[0-9]{4,6})", re.ASCII)
_STAMP = "%Y%m%dT%H%M%SZ"
MAX_SEQ = 999_999
MAX_ID_LEN = CAMERA_MAX_LEN + len("_YYYYMMDDTHHMMSSZ_") + len(str(MAX_SEQ))
# The sane range of clip times, shared with the manifest's timestamps. Before 2000 means a clock that was never
# set (systemd moves a clock forward to its own build date at boot, so a Pi never records that far back).
MIN_YEAR = 2000
MAX_YEAR = 2100


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
    if not isinstance(name, str) or len(name) > CAMERA_MAX_LEN or not CAMERA_RE.fullmatch(name):
        return "must be 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit"
    return None


def year_in_range(t: datetime) -> bool:
    """True if ``t`` lies in the years clips may have (:data:`MIN_YEAR`..:data:`MAX_YEAR`)."""
    return MIN_YEAR <= t.year <= MAX_YEAR


def make_clip_id(camera: str, started: datetime, seq: int) -> str:
    """Build a clip id. ``started`` must be timezone-aware; it is converted to UTC.

    Refuses what :func:`parse_clip_id` would refuse (a start outside the sane years included), so no
    clip is ever written under a name that its own watcher's cleanup and the inspector would reject.
    """
    problem = check_camera_name(camera)
    if problem:
        raise InvalidClipId(f"camera name {camera!r} {problem}")
    if started.tzinfo is None:
        raise InvalidClipId("started must be timezone-aware")
    if not 0 <= seq <= MAX_SEQ:
        raise InvalidClipId(f"sequence {seq} out of range 0..{MAX_SEQ}")
    utc = started.astimezone(UTC).replace(microsecond=0)
    if not year_in_range(utc):
        raise InvalidClipId(f"start {utc.isoformat()} is outside the years {MIN_YEAR}..{MAX_YEAR} (clock not set?)")
    return str(ClipId(camera, utc, seq))


def _show(value: object) -> str:
    """A short, ASCII-only rendering of a rejected value, safe in logs and in the catalog."""
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    shown = ascii(value[:80])  # escapes make it longer than the text: cut again
    return shown if len(shown) <= 80 else f"{shown[:80]}... ({len(value)} characters)"


def _stamp_time(stamp: str) -> datetime:
    """``YYYYMMDDTHHMMSSZ`` (already matched as ASCII digits) as a UTC datetime; ValueError if no such time."""
    return datetime(int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]), int(stamp[11:13]),
                    int(stamp[13:15]), tzinfo=UTC)


def parse_clip_id(text: str) -> ClipId:
    """Parse a clip id; raise InvalidClipId for anything that is not exactly one (see the module docstring)."""
    if not isinstance(text, str) or len(text) > MAX_ID_LEN:
        raise InvalidClipId(f"not a clip id: {_show(text)}")
    return _parse(text)


@functools.lru_cache(maxsize=4096)  # a pull asks for the same ids' paths several times each; ClipId is frozen
def _parse(text: str) -> ClipId:
    m = _ID_RE.fullmatch(text)
    if not m:
        raise InvalidClipId(f"not a clip id: {_show(text)}")
    try:
        started = _stamp_time(m["stamp"])
    except ValueError:
        raise InvalidClipId(f"not a clip id (bad time): {_show(text)}") from None
    if not year_in_range(started):
        raise InvalidClipId(f"not a clip id (year outside {MIN_YEAR}..{MAX_YEAR}): {_show(text)}")
    cid = ClipId(m["camera"], started, int(m["seq"]))
    if str(cid) != text:
        raise InvalidClipId(f"not a clip id (not its canonical spelling {str(cid)!r}): {_show(text)}")
    return cid
