"""Publishing a recorded temp file as a finished clip; the one path used by the ClipWriter and by salvage.

recorded_clips/ is shared with the inspector's SFTP account, which can put things on any name there
(an empty file, another clip renamed onto it). So nothing is ever moved onto an existing name
(watcher.noreplace), and a clip whose own name is taken is published under a fresh id from the
data directory's counter (watcher.clip_seq), with a warning saying why; its manifest names the id
it is published as.

A clip P being written has, in temp_clips/ (watcher.clip_writer creates them in this order):
  P.mp4.part       the recording (fragmented MP4), flocked by its writer
  P.pending.json   empty until the publish; then the manifest of the id F it is being published as
  P.meta.json      the sidecar; its ``pending_created`` says the file above existed before it
Publish, each step durable before the next:
  1. remux P.mp4.part into P.mp4.tmp (a standard MP4), fsync it, hash it;
  2. pick F (P itself unless one of its names is taken anywhere), write F's manifest into
     P.pending.json, move P.mp4.tmp to recorded_clips/F.mp4 without replacing (taken: next F);
     fsync recorded_clips/;
  3. the commit: move P.pending.json to recorded_clips/F.json without replacing, fsync recorded_clips/.
     If F.json was taken in between, F.mp4 is taken back (if it still holds our bytes) and step 2
     is done again with a fresh F;
  4. remove P.mp4.part (fsync), then the other temp files.
The commit *moves* P.pending.json out of temp_clips/, so temp_clips/ alone tells whether it
happened, whatever the inspector does in recorded_clips/ afterwards (archive, delete, rename):
  * P.mp4.part and P.pending.json: not committed. If the pending manifest is complete and
    recorded_clips/F.mp4 has its size and sha256, step 2 was done: resume at step 3; otherwise
    start again at step 1. A partial file is never visible: the mp4 is complete before its move.
  * P.mp4.part, no P.pending.json, a sidecar saying it had been created: committed; salvage only
    does step 4 (:func:`committed_before`), never a second copy of the clip.
  * anything else (a crash before the sidecar, temp files of an older version): start at step 1.
The caller holds the .part's flock throughout.
"""

from __future__ import annotations

import json
import logging
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from shared.atomic import atomic_write_bytes, fsync_dir, fsync_file
from shared.bounded_json import RejectedJSON, load_json
from shared.manifest import (
    MAX_FPS,
    MAX_MOTION_BOXES,
    InvalidManifest,
    Manifest,
    MediaTime,
    parse_manifest,
    sha256_file,
    utc_iso,
)
from shared.naming import MAX_YEAR, parse_clip_id
from shared.validation import Problem, Strict, validate
from watcher.clip_seq import ClipIds, NoFreeId
from watcher.container import remux_to_mp4
from watcher.datadir import DataDir
from watcher.noreplace import describe, rename_noreplace

logger = logging.getLogger(__name__)


MAX_SIDECAR_BYTES = 64 * 1024
_MAX_EPOCH_S = datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC).timestamp()


class InvalidSidecar(ValueError):
    """A sidecar that cannot be read back (power loss mid-write, a hand edit); the message says why."""


class ClipMeta(Strict):
    """What the recorder knows about a clip; written as a sidecar when the clip opens.

    Mutable: the recorder (its thread only) updates the motion fields as the clip records; assignments
    are not re-validated (typed code, the hot path). A sidecar read back is validated: unknown keys are
    dropped, as before, so a sidecar of another version still gives its wall clock and motion.
    """

    model_config = ConfigDict(frozen=False, extra="ignore")

    id: str  # empty in the recorder's template
    camera: str
    codec: str
    width: int = Field(ge=0)  # 0: unknown (salvage without a sidecar)
    height: int = Field(ge=0)
    fps: float = Field(gt=0.0, le=MAX_FPS)
    media_start_s: MediaTime  # media time of the first packet
    # wall-clock epoch seconds at media time 0; bounded so that wall() of any media time is a datetime
    wall_epoch0: float = Field(ge=-_MAX_EPOCH_S, le=_MAX_EPOCH_S)
    motion_start_s: MediaTime | None = None
    motion_end_s: MediaTime | None = None
    peak_motion: float = Field(0.0, ge=0.0, le=1.0)
    motion_boxes: list[list[float]] = Field(default_factory=list, max_length=MAX_MOTION_BOXES)
    continuation_of: str | None = None
    settings: dict[str, Any] | None = None  # the [detector] and [trigger] recording it (shared.replay.Detection)
    pending_created: bool = False  # the clip's pending manifest file was created before this sidecar

    def to_json(self) -> bytes:
        return json.dumps(self.model_dump(), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ClipMeta:
        """The sidecar's bytes as a ClipMeta, or :class:`InvalidSidecar` with the reason (never another exception)."""
        try:
            return validate(cls, load_json(raw, max_bytes=MAX_SIDECAR_BYTES))
        except (RejectedJSON, Problem) as e:
            raise InvalidSidecar(str(e)) from None

    def wall(self, media_s: float) -> datetime:
        return datetime.fromtimestamp(self.wall_epoch0 + media_s, tz=UTC)


class NothingToPublish(Exception):
    """The temp file holds no decodable frame."""


MAX_ATTEMPTS = 1000  # names tried for one clip before giving up for now (it stays in temp_clips/)


def publish_clip(dirs: DataDir, meta: ClipMeta, *, salvaged: bool, ids: ClipIds) -> Manifest:
    """Publish ``temp_clips/<meta.id>.mp4.part``; see the module docstring. Returns the manifest
    as published (its id differs from ``meta.id`` when that name was taken)."""
    part_id = meta.id
    staged = dirs.tmp(part_id, "mp4")
    started = parse_clip_id(part_id).started
    placed = _placed_earlier(dirs, part_id)  # its clip is in recorded_clips/, its commit is not done
    base: Manifest | None = None  # describes the bytes in `staged`
    candidate: str | None = placed.id if placed else part_id
    try:
        for _ in range(MAX_ATTEMPTS):
            if placed is not None:
                if rename_noreplace(dirs.pending(part_id), dirs.manifest(placed.id)):
                    fsync_dir(dirs.recorded)
                    break
                logger.warning("%s: recorded_clips/%s.json was taken (%s) before the clip was committed; "
                               "publishing it under a fresh id", part_id, placed.id, describe(dirs.manifest(placed.id)))
                base = placed if _take_back(dirs, placed, staged) else None
                placed, candidate = None, None
                continue
            if base is None:
                base = _stage(dirs, meta, staged, salvaged=salvaged)
            if candidate is None:
                candidate = ids.new_id(meta.camera, started)
            if ids.taken(candidate, own_part=candidate == part_id):
                logger.warning("%s: the name %s is taken (%s); publishing the clip under a fresh id", part_id,
                               candidate, _what_takes(dirs, candidate))
                candidate = None
                continue
            m = base.model_copy(update={"id": candidate, "file": f"{candidate}.mp4"})
            atomic_write_bytes(dirs.pending(part_id), m.to_json(), tmp_dir=dirs.temp)
            if rename_noreplace(staged, dirs.clip(candidate)):
                fsync_dir(dirs.recorded)
                placed = m
            else:
                logger.warning("%s: recorded_clips/%s.mp4 was taken (%s) as the clip was moved there; "
                               "publishing it under a fresh id", part_id, candidate, describe(dirs.clip(candidate)))
                candidate = None
        else:
            raise NoFreeId(f"{part_id}: no free name after {MAX_ATTEMPTS} tries; kept in temp_clips/")
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    assert placed is not None  # the loop ends by its break, right after the commit
    if placed.id != part_id:
        logger.warning("published %s as %s (its own name was taken)", part_id, placed.id)
    remove_temp_files(dirs, part_id)
    return placed


def committed_before(dirs: DataDir, meta: ClipMeta) -> bool:
    """True if an earlier publish of this temp file committed (see the module docstring): only
    its temp files are left to remove. ``meta`` must come from the clip's own sidecar."""
    return meta.pending_created and not dirs.pending(meta.id).exists()


def _stage(dirs: DataDir, meta: ClipMeta, staged: Path, *, salvaged: bool) -> Manifest:
    """Step 1: the standard MP4 in ``staged``, durable, and the manifest describing it (id = the part's)."""
    part = dirs.part(meta.id)
    result = remux_to_mp4(str(part), str(staged))
    if result.frames == 0:
        raise NothingToPublish(f"{part.name}: no decodable frame")
    fsync_file(staged)
    size, sha = sha256_file(staged)
    media_start = meta.media_start_s + result.first_s
    media_end = meta.media_start_s + result.last_s
    return Manifest(
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
        settings=meta.settings,
    )


def _holds(path: Path, m: Manifest) -> bool:
    """True if ``path`` is a regular file with the manifest's size and sha256 (our clip's bytes)."""
    try:
        st = path.lstat()
        return stat.S_ISREG(st.st_mode) and st.st_size == m.size and sha256_file(path) == (m.size, m.sha256)
    except OSError:
        return False


def _placed_earlier(dirs: DataDir, part_id: str) -> Manifest | None:
    """The pending manifest of an earlier, interrupted publish whose clip is already in place."""
    try:
        raw = dirs.pending(part_id).read_bytes()
    except FileNotFoundError:
        return None
    if not raw:
        return None
    try:
        m = parse_manifest(raw)
    except InvalidManifest as e:
        logger.warning("%s: pending manifest unusable (%s); publishing again", part_id, e)
        return None
    return m if _holds(dirs.clip(m.id), m) else None


def _take_back(dirs: DataDir, m: Manifest, staged: Path) -> bool:
    """Move our uncommitted clip from recorded_clips/ back to ``staged``; False if it is not ours any more."""
    staged.unlink(missing_ok=True)
    try:
        if not rename_noreplace(dirs.clip(m.id), staged):
            return False
    except FileNotFoundError:
        return False
    if _holds(staged, m):
        fsync_dir(dirs.recorded)
        return True
    try:  # someone else's file had been put on our name: give it back
        rename_noreplace(staged, dirs.clip(m.id))
    except OSError:
        pass
    staged.unlink(missing_ok=True)
    return False


def _what_takes(dirs: DataDir, clip_id: str) -> str:
    for p in (dirs.clip(clip_id), dirs.manifest(clip_id), dirs.part(clip_id),
              dirs.transferred / f"{clip_id}.mp4", dirs.transferred / f"{clip_id}.json"):
        if p.is_symlink() or p.exists():
            return f"{p.parent.name}/{p.name} is {describe(p)}"
    return "gone again"


def remove_temp_files(dirs: DataDir, clip_id: str) -> None:
    """Remove a clip's temp files, the .part first (made durable before the others go): a .part
    with no pending manifest is read as committed only while its sidecar is still there."""
    dirs.part(clip_id).unlink(missing_ok=True)
    fsync_dir(dirs.temp)
    for p in dirs.temp.glob(f"{clip_id}.*.tmp"):
        p.unlink(missing_ok=True)
    dirs.pending(clip_id).unlink(missing_ok=True)
    dirs.meta(clip_id).unlink(missing_ok=True)
    fsync_dir(dirs.temp)
