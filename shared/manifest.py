"""The clip manifest: the versioned JSON that marks ``<id>.mp4`` as finished.

The watcher builds it with :func:`make_manifest` after the clip is durable; readers (the
inspector, cleanup) use :func:`parse_manifest`, which caps the size and checks every key, so
a hostile or corrupt manifest is rejected with a reason instead of trusted.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shared.naming import InvalidClipId, parse_clip_id

SCHEMA_VERSION = 1
MAX_MANIFEST_BYTES = 64 * 1024
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


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
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> tuple[int, str]:
    """Return (size, hex sha256) of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def _need(d: dict[str, Any], key: str, types: type | tuple[type, ...]) -> Any:
    if key not in d:
        raise InvalidManifest(f"missing key {key!r}")
    v = d[key]
    if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise InvalidManifest(f"{key!r} has the wrong type")
    if not isinstance(v, types):
        raise InvalidManifest(f"{key!r} has the wrong type")
    return v


def _time(d: dict[str, Any], key: str) -> str:
    v = _need(d, key, str)
    try:
        datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidManifest(f"{key!r} is not an ISO 8601 time") from None
    return v


def parse_manifest(raw: bytes, *, expected_id: str | None = None) -> Manifest:
    """Validate manifest bytes; raise InvalidManifest with a reason for anything off."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise InvalidManifest(f"manifest is {len(raw)} bytes, over the {MAX_MANIFEST_BYTES} byte cap")
    try:
        d = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidManifest(f"not JSON: {e}") from None
    if not isinstance(d, dict):
        raise InvalidManifest("not a JSON object")
    if _need(d, "schema", int) != SCHEMA_VERSION:
        raise InvalidManifest(f"unsupported schema {d['schema']!r}")
    clip_id = _need(d, "id", str)
    try:
        parsed = parse_clip_id(clip_id)
    except InvalidClipId as e:
        raise InvalidManifest(str(e)) from None
    if expected_id is not None and clip_id != expected_id:
        raise InvalidManifest(f"id {clip_id!r} does not match file name {expected_id!r}")
    if _need(d, "file", str) != f"{clip_id}.mp4":
        raise InvalidManifest("'file' must be '<id>.mp4'")
    camera = d.get("camera", parsed.camera)
    if camera != parsed.camera:
        raise InvalidManifest("'camera' does not match the id")
    size = _need(d, "size", int)
    if size <= 0:
        raise InvalidManifest("'size' must be positive")
    sha = _need(d, "sha256", str)
    if not _SHA256_RE.match(sha):
        raise InvalidManifest("'sha256' must be 64 lowercase hex digits")
    nums = {k: float(_need(d, k, (int, float))) for k in ("fps", "media_start_s", "media_end_s", "peak_motion")}
    if not all(math.isfinite(v) for v in nums.values()):
        raise InvalidManifest("non-finite number")
    motion = {}
    for k in ("motion_start_s", "motion_end_s"):
        v = d.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise InvalidManifest(f"{k!r} has the wrong type")
        motion[k] = None if v is None else float(v)
    boxes_raw = d.get("motion_boxes", [])
    if not isinstance(boxes_raw, list) or len(boxes_raw) > 256:
        raise InvalidManifest("'motion_boxes' must be a list of at most 256 boxes")
    boxes = []
    for b in boxes_raw:
        if not (isinstance(b, list) and len(b) == 4 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in b)):
            raise InvalidManifest("'motion_boxes' entries must be [x, y, w, h]")
        boxes.append(tuple(float(x) for x in b))
    cont = d.get("continuation_of")
    if cont is not None and not isinstance(cont, str):
        raise InvalidManifest("'continuation_of' has the wrong type")
    width, height, frames = (_need(d, k, int) for k in ("width", "height", "frames"))
    if width <= 0 or height <= 0 or frames < 0:
        raise InvalidManifest("width/height/frames out of range")
    return Manifest(
        id=clip_id,
        camera=camera,
        file=d["file"],
        size=size,
        sha256=sha,
        codec=_need(d, "codec", str),
        width=width,
        height=height,
        fps=nums["fps"],
        frames=frames,
        started_at=_time(d, "started_at"),
        ended_at=_time(d, "ended_at"),
        media_start_s=nums["media_start_s"],
        media_end_s=nums["media_end_s"],
        motion_start_s=motion["motion_start_s"],
        motion_end_s=motion["motion_end_s"],
        peak_motion=nums["peak_motion"],
        salvaged=_need(d, "salvaged", bool),
        duration_s=float(d.get("duration_s", nums["media_end_s"] - nums["media_start_s"])),
        motion_boxes=tuple(boxes),  # type: ignore[arg-type]
        continuation_of=cont,
    )
