"""Publishing a recorded temp file as a finished clip; the one path used by the ClipWriter and by salvage.

Sequence (each step durable before the next):
  1. remux ``temp_clips/<id>.mp4.part`` (fragmented) into ``temp_clips/<id>.mp4.tmp`` (standard MP4),
  2. fsync it, hash it, ``os.replace`` it to ``recorded_clips/<id>.mp4``, fsync ``recorded_clips/``,
  3. write the manifest to ``temp_clips/<id>.json.tmp``, fsync, ``os.replace`` to
     ``recorded_clips/<id>.json``, fsync ``recorded_clips/`` -- from here on the clip is finished,
  4. remove the temp file and its sidecar.
A crash before 3 leaves the ``.part`` in place (salvage redoes the publish; step 2 then
replaces an identical or older copy); a crash after 3 leaves only temp files to remove.
The caller holds the ``.part``'s flock throughout.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from shared.atomic import atomic_write_bytes, fsync_dir, fsync_file
from shared.manifest import Manifest, sha256_file, utc_iso
from watcher.container import remux_to_mp4
from watcher.datadir import DataDir

logger = logging.getLogger(__name__)


@dataclass
class ClipMeta:
    """What the recorder knows about a clip; written as a sidecar when the clip opens."""

    id: str
    camera: str
    codec: str
    width: int
    height: int
    fps: float
    media_start_s: float  # media time of the first packet
    wall_epoch0: float  # wall-clock epoch seconds at media time 0
    motion_start_s: float | None = None
    motion_end_s: float | None = None
    peak_motion: float = 0.0
    motion_boxes: list[list[float]] = field(default_factory=list)
    continuation_of: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ClipMeta:
        d = json.loads(raw)
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def wall(self, media_s: float) -> datetime:
        return datetime.fromtimestamp(self.wall_epoch0 + media_s, tz=timezone.utc)


class NothingToPublish(Exception):
    """The temp file holds no decodable frame."""


def publish_clip(dirs: DataDir, meta: ClipMeta, *, salvaged: bool) -> Manifest:
    part = dirs.part(meta.id)
    staged = dirs.tmp(meta.id, "mp4")
    try:
        result = remux_to_mp4(str(part), str(staged))
        if result.frames == 0:
            raise NothingToPublish(f"{part.name}: no decodable frame")
        fsync_file(staged)
        size, sha = sha256_file(staged)
        media_start = meta.media_start_s + result.first_s
        media_end = meta.media_start_s + result.last_s
        manifest = Manifest(
            id=meta.id,
            camera=meta.camera,
            file=f"{meta.id}.mp4",
            size=size,
            sha256=sha,
            codec=result.codec,
            width=result.width,
            height=result.height,
            fps=meta.fps,
            frames=result.frames,
            started_at=utc_iso(meta.wall(media_start)),
            ended_at=utc_iso(meta.wall(media_end)),
            media_start_s=round(media_start, 6),
            media_end_s=round(media_end, 6),
            motion_start_s=meta.motion_start_s,
            motion_end_s=meta.motion_end_s,
            peak_motion=round(meta.peak_motion, 6),
            salvaged=salvaged or result.truncated,
            duration_s=round(media_end - media_start + 1.0 / meta.fps, 6),
            motion_boxes=tuple(tuple(b) for b in meta.motion_boxes),  # type: ignore[misc]
            continuation_of=meta.continuation_of,
        )
        os.replace(staged, dirs.clip(meta.id))
        fsync_dir(dirs.recorded)
        atomic_write_bytes(dirs.manifest(meta.id), manifest.to_json(), tmp_dir=dirs.temp)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    remove_temp_files(dirs, meta.id)
    return manifest


def remove_temp_files(dirs: DataDir, clip_id: str) -> None:
    """Remove a clip's temp files; the .part last, so its lock guards the rest until the end."""
    for p in dirs.temp.glob(f"{clip_id}.*.tmp"):
        p.unlink(missing_ok=True)
    dirs.meta(clip_id).unlink(missing_ok=True)
    dirs.part(clip_id).unlink(missing_ok=True)
    fsync_dir(dirs.temp)
