"""Replaying every clip: one clip per worker process at a time, ``jobs`` at once."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Callable

from inspector.tuning.labelled_set import TuneClip
from inspector.tuning.replayer import ClipReplay, replay_clip
from shared.replay import Detection

Progress = Callable[[str, ClipReplay], None]


def _pixels(c: TuneClip) -> int:
    """FFmpeg refuses frames larger than the clip's manifest declares."""
    assert c.manifest is not None
    return c.manifest.width * c.manifest.height


def replay_all(clips: list[TuneClip], candidates: list[Detection], *, jobs: int = 1,
               progress: Progress | None = None) -> dict[str, ClipReplay]:
    """clip key -> its replay, for the clips that have no ``problem``. ``jobs=1`` runs in this process."""
    todo = [c for c in clips if c.problem is None and c.manifest is not None]
    out: dict[str, ClipReplay] = {}
    if jobs <= 1 or len(todo) <= 1:
        for c in todo:
            out[c.key] = replay_clip(c.video, candidates, max_pixels=_pixels(c))
            if progress:
                progress(c.key, out[c.key])
        return out
    # forkserver/spawn: workers do not inherit this process's threads and open files
    ctx = multiprocessing.get_context("forkserver")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = {pool.submit(replay_clip, c.video, candidates, max_pixels=_pixels(c)): c.key for c in todo}
        for f in concurrent.futures.as_completed(futures):
            try:
                out[futures[f]] = f.result()
            except Exception as e:  # a worker that died (out of memory, a crash in a decoder): that clip only
                out[futures[f]] = ClipReplay((), 0, 0.0, 0.0, error=f"its replay failed: {type(e).__name__}: {e}"[:300])
            if progress:
                progress(futures[f], out[futures[f]])
    return out
