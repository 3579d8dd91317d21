"""The OpenCV backend on real files: media timestamps, and the live reconnect/backoff path."""

from __future__ import annotations

import threading
from itertools import pairwise
from pathlib import Path

import numpy as np

from tests.clips import write_video
from watcher.sources import SourceSettings, create_source
from watcher.sources.opencv_source import OpenCVSource


def small_video(tmp_path: Path, n: int = 20, fps: float = 10.0) -> Path:
    frames = [np.full((120, 160, 3), 10 * i % 250, np.uint8) for i in range(n)]
    return write_video(tmp_path / "small.mp4", frames, fps)


def test_file_timestamps_come_from_the_media(tmp_path: Path) -> None:
    src = create_source(SourceSettings(spec=f"file:{small_video(tmp_path)}"))
    info = src.open()
    assert (info.width, info.height, info.fps, info.live) == (160, 120, 10.0, False)
    ts = [f.t for f in src.frames()]
    assert len(ts) == 20
    assert np.allclose(ts, np.arange(20) / 10.0, atol=1e-3)


def test_live_source_reconnects_after_the_stream_ends(tmp_path: Path) -> None:
    src = OpenCVSource(str(small_video(tmp_path)), live=True, backoff_initial_s=0.001, backoff_max_s=0.002)
    src.open()
    ts = []
    for frame in src.frames():
        ts.append(frame.t)
        if len(ts) == 50:  # more than two passes over a 20-frame "stream"
            break
    src.close()
    assert src.reconnects >= 2
    assert all(b > a for a, b in pairwise(ts)), "live timestamps must be monotonic"


def test_close_interrupts_the_backoff_wait(tmp_path: Path) -> None:
    path = small_video(tmp_path, n=5)
    src = OpenCVSource(str(path), live=True, backoff_initial_s=600.0)
    src.open()
    all_read = threading.Event()
    done = threading.Event()

    def consume() -> None:
        for i, _ in enumerate(src.frames()):
            if i == 4:
                path.unlink()  # the stream is gone for good: reading on means backoff
                all_read.set()
        done.set()

    t = threading.Thread(target=consume)
    t.start()
    assert all_read.wait(30)
    src.close()
    assert done.wait(30), "frames() kept waiting after close()"
    t.join()
