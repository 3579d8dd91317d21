"""ClipWriter: the one thread that owns the open clip file.

Threads: the pipeline thread calls :meth:`open_clip`, :meth:`write`, :meth:`close_clip` and
:meth:`stop`; they only put commands on a bounded queue. The writer thread alone opens,
writes, flocks, closes and publishes files, so a rollover can never race with an append.
Results (published manifests, errors) come back through the ``on_published`` / ``on_error``
callbacks, called on the writer thread.

If the writer falls behind and the queue is full, a packet is dropped and counted, and the
writer skips to the next keyframe (a gap inside a GOP would not decode).
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from shared.atomic import atomic_write_bytes
from shared.flock import try_flock
from shared.manifest import Manifest
from watcher.clip_seq import ClipIds
from watcher.container import FragmentedMp4Writer
from watcher.datadir import DataDir
from watcher.frames import EncodedPacket
from watcher.publish import ClipMeta, publish_clip

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Open:
    meta: ClipMeta


@dataclass(frozen=True)
class _Close:
    meta: ClipMeta


_STOP = object()


class _OpenClip:
    """The writer thread's state for the clip being written."""

    def __init__(self, dirs: DataDir, meta: ClipMeta) -> None:
        self.meta = meta
        self.path = dirs.part(meta.id)
        # The .part is created and locked first, so its other temp files are only ever seen without
        # a locked .part once its writer is gone or done. Then the (empty) pending manifest, then the
        # sidecar saying so, whose directory fsync makes all three durable (see watcher.publish).
        self.file: BinaryIO = open(self.path, "xb")  # noqa: SIM115 - held until finish()/release()
        try:
            if not try_flock(self.file.fileno()):  # held until release(): cleanup tells a live clip by it
                raise BlockingIOError(errno.EWOULDBLOCK, f"{self.path} is locked by another writer")
            os.close(os.open(dirs.pending(meta.id), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
            atomic_write_bytes(dirs.meta(meta.id), meta.model_copy(update={"pending_created": True}).to_json())
            self.mp4 = FragmentedMp4Writer(
                self.file, codec=meta.codec, width=meta.width, height=meta.height, fps=meta.fps
            )
        except BaseException:
            self.file.close()
            raise

    def finish(self) -> None:
        """Write the trailer, flush and fsync; the flock stays held (the fd stays open)."""
        self.mp4.close()
        self.file.flush()
        os.fsync(self.file.fileno())

    def release(self) -> None:
        self.file.close()  # releases the flock


class ClipWriter:
    def __init__(
        self,
        dirs: DataDir,
        *,
        on_published: Callable[[Manifest], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        max_queue: int = 2048,
        ids: ClipIds | None = None,
    ) -> None:
        self.dirs = dirs
        self.ids = ids or ClipIds(dirs)  # a fresh name when a clip's own is taken in recorded_clips/
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._on_published = on_published or (lambda m: None)
        self._on_error = on_error or (lambda e: None)
        self._thread = threading.Thread(target=self._run, name="clip-writer", daemon=True)
        self._clip: _OpenClip | None = None
        self._skip_to_keyframe = False
        self.packets_dropped = 0  # written by the pipeline thread only

    # --- pipeline thread -------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def open_clip(self, meta: ClipMeta) -> None:
        self._queue.put(_Open(meta))

    def write(self, packet: EncodedPacket) -> None:
        if self._skip_to_keyframe and not packet.keyframe:
            self.packets_dropped += 1
            return
        try:
            self._queue.put_nowait(packet)
            self._skip_to_keyframe = False
        except queue.Full:
            self.packets_dropped += 1
            self._skip_to_keyframe = True
            logger.warning("clip writer is behind: dropped a packet, skipping to the next keyframe")

    def close_clip(self, meta: ClipMeta) -> None:
        self._queue.put(_Close(meta))

    def stop(self) -> None:
        """Finish whatever is queued (an open clip is closed and published), then end the thread."""
        self._queue.put(_STOP)
        self._thread.join()

    # --- writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                if self._clip is not None:
                    self._close(self._clip.meta)
                return
            try:
                if isinstance(item, EncodedPacket):
                    if self._clip is not None:
                        self._clip.mp4.write(item)
                elif isinstance(item, _Open):
                    if self._clip is not None:
                        self._close(self._clip.meta)
                    self._clip = _OpenClip(self.dirs, item.meta)
                    logger.info("recording %s", item.meta.id)
                elif isinstance(item, _Close) and self._clip is not None:
                    self._close(item.meta)
            except Exception as e:
                self._fail(e)

    def _close(self, meta: ClipMeta) -> None:
        clip, self._clip = self._clip, None
        assert clip is not None
        try:
            clip.finish()
            manifest = publish_clip(self.dirs, meta, salvaged=False, ids=self.ids)
        except Exception as e:
            self._fail(e, clip)
            return
        finally:
            clip.release()
        logger.info("published %s (%d frames, %.1f s, %d bytes)", manifest.id, manifest.frames, manifest.duration_s,
                    manifest.size)
        self._on_published(manifest)

    def _fail(self, e: Exception, clip: _OpenClip | None = None) -> None:
        """A clip that cannot be written or published stays in temp_clips/ for salvage."""
        clip = clip or self._clip
        self._clip = None
        if clip is not None:
            try:
                clip.release()
            except OSError:
                pass
        logger.error("clip writer: %s: %s", type(e).__name__, e, exc_info=not isinstance(e, OSError))
        self._on_error(f"{type(e).__name__}: {e}")
