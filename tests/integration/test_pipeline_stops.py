"""How a run ends, in process: a stop in the middle of an event and a source that fails in the middle
of one both publish the clip in progress, and status.json is left saying the watcher stopped."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

from shared.trigger import TriggerSettings
from tests.clips import verify_recorded
from watcher.config import GeneralSettings, WatcherConfig
from watcher.frames import Frame
from watcher.pipeline import run_watcher
from watcher.sources.base import SourceError, SourceInfo
from watcher.sources.synthetic import SceneObject, SyntheticSource

WALKER = SceneObject(2.0, 18.0, 0.1, 0.5, 0.9, 0.6)  # in view from 2 s to 18 s of a 20 s scene
CUT_AT_FRAME = 180  # 12 s at 15 fps: an event is being recorded
QUEUE = 64  # frames the capture thread may be ahead of the pipeline (watcher.capture)


class CutSource:
    """The synthetic scene, cut at CUT_AT_FRAME: by setting ``stop`` (a signal) or by failing (a camera
    unplugged). A file-like source: the capture thread waits for the pipeline, so the cut is exact."""

    def __init__(self, *, stop: threading.Event | None = None) -> None:
        self.scene = SyntheticSource(width=320, height=180, duration_s=20.0, objects=[WALKER])
        self.stop = stop

    def open(self) -> SourceInfo:
        return self.scene.open()

    def frames(self) -> Iterator[Frame]:
        for i, frame in enumerate(self.scene.frames()):
            if i == CUT_AT_FRAME:
                if self.stop is None:
                    raise SourceError("camera unplugged")
                self.stop.set()
            yield frame

    def close(self) -> None:
        self.scene.close()


def config(tmp_path: Path) -> WatcherConfig:
    return WatcherConfig(watcher=GeneralSettings(data_dir=str(tmp_path / "data")),
                         trigger=TriggerSettings(pre_roll_s=1.0, post_roll_s=2.0, max_clip_s=60.0))


def status(tmp_path: Path) -> dict[str, object]:
    return json.loads((tmp_path / "data" / "status.json").read_text())


def test_a_stop_in_the_middle_of_an_event_publishes_the_open_clip(tmp_path: Path) -> None:
    stop = threading.Event()
    result = run_watcher(config(tmp_path), source=CutSource(stop=stop), stop=stop)
    assert result.source_error is None
    # The pipeline sees the stop before its next frame; up to QUEUE frames may still wait on the queue
    # (and the frame yielded with the stop may slip in while the pipeline waits on an empty queue).
    assert CUT_AT_FRAME - QUEUE - 1 <= result.frames <= CUT_AT_FRAME + 1, "the pipeline stopped at the signal"
    [m] = verify_recorded(tmp_path / "data" / "recorded_clips")
    assert [m] == result.clips and not m.salvaged
    assert m.media_start_s <= WALKER.start_s
    last = (result.frames - 1) / 15
    assert abs(m.media_end_s - last) < 1e-3, "every processed frame (the encoder's last ones too) is in the clip"
    assert m.motion_end_s is not None and abs(m.motion_end_s - last) < 1e-3, "the manifest has the event so far"
    assert not any((tmp_path / "data" / "temp_clips").iterdir())
    s = status(tmp_path)
    assert (s["state"], s["recording"], s["current_clip"], s["last_clip"]) == ("stopped", False, None, m.id)
    assert s["last_error"] is None


def test_a_source_failing_in_the_middle_of_an_event_publishes_the_open_clip_and_says_why(tmp_path: Path) -> None:
    result = run_watcher(config(tmp_path), source=CutSource())
    assert result.source_error == "source failed: camera unplugged"
    assert result.frames == CUT_AT_FRAME, "every frame before the failure was processed"
    [m] = verify_recorded(tmp_path / "data" / "recorded_clips")
    assert [m] == result.clips
    last = (CUT_AT_FRAME - 1) / 15
    assert abs(m.media_end_s - last) < 1e-3 and m.motion_end_s is not None and abs(m.motion_end_s - last) < 1e-3
    s = status(tmp_path)
    assert (s["state"], s["recording"], s["last_error"]) == ("stopped", False, "source failed: camera unplugged")
