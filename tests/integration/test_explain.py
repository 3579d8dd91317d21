"""``python -m watcher explain`` on real clips: the annotated video decodes (FFmpeg), its per-second table
agrees with the motion times the watcher wrote in the manifest when it recorded the clip, and it is honest
about the replay's warm-up; the report's clip page links to it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from shared.manifest import Manifest, parse_manifest
from tests.clips import decode_frame_count, verify_recorded
from tests.footage import footage_path
from tests.proc import ROOT


def explain(clip: Path, out: Path, *args: str) -> dict[str, Any]:
    r = subprocess.run([sys.executable, "-m", "watcher", "explain", str(clip), "--out", str(out), "--json", *args],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return dict(json.loads(r.stdout))


def _motion_seconds(doc: dict[str, Any]) -> list[int]:
    return [s["second"] for s in doc["seconds"] if s["motion_frames"]]


def test_synthetic_clips_agree_with_their_manifests(watcher_clips: Path, tmp_path: Path) -> None:
    """Recorded with the default settings, replayed with them: the pre-roll (3 s) outlasts the warm-up
    (2 s), so the replay sees each event start when the Pi did and end when it did, to the second."""
    for mp4 in sorted(watcher_clips.glob("*.mp4")):
        m = parse_manifest(mp4.with_suffix(".json").read_bytes())
        out = tmp_path / f"{mp4.stem}.explain.mp4"
        doc = explain(mp4, out)
        assert decode_frame_count(out) == doc["frames"] == m.frames, "every frame, annotated, decodable"
        assert doc["seconds"][0]["learning"] and not doc["seconds"][-1]["learning"]
        if m.motion_start_s is None:
            continue
        start, end = (int(x - m.media_start_s) for x in (m.motion_start_s, m.motion_end_s or m.motion_start_s))
        seen = _motion_seconds(doc)
        assert seen and abs(seen[0] - start) <= 1 and abs(seen[-1] - end) <= 1, (start, end, seen)
        assert any("on the pi, motion was seen" in n.lower() for n in doc["notes"])


def test_real_footage_clip(tmp_path: Path) -> None:
    """vtest.avi: people from the first frame on, in a clip cut from the middle of the run. After its
    warm-up the replay sees motion through the Pi's motion span; the notes say where the warm-up fell."""
    data = tmp_path / "d"
    cfg = tmp_path / "watcher.toml"
    cfg.write_text("[trigger]\nmax_clip_s = 10.0\n")  # rollovers: a clip that starts mid-event, pre-roll and all
    r = subprocess.run([sys.executable, "-m", "watcher", "--config", str(cfg), "--source",
                        f"file:{footage_path('vtest.avi')}", "--data-dir", str(data), "--duration", "40"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    clips = sorted(verify_recorded(data / "recorded_clips", decode=False), key=lambda m: m.media_start_s)
    first: Manifest = next(m for m in clips if m.continuation_of is not None)
    library_dir = tmp_path / "lib"
    library_dir.mkdir()
    clip = library_dir / first.file
    shutil.copy(data / "recorded_clips" / first.file, clip)
    shutil.copy(data / "recorded_clips" / f"{first.id}.json", library_dir)
    doc = explain(clip, clip.with_name(f"{clip.stem}.explain.mp4"))
    assert decode_frame_count(clip.with_name(f"{clip.stem}.explain.mp4")) == first.frames
    assert first.motion_end_s is not None
    if first.motion_start_s is not None and first.motion_start_s - first.media_start_s < 2.0:
        assert any("inside the replay's warm-up" in n for n in doc["notes"]), doc["notes"]
    window = range(3, int(first.motion_end_s - first.media_start_s))  # after the warm-up, within the Pi's span
    seen = set(_motion_seconds(doc))
    assert len(seen & set(window)) >= 0.8 * len(window), (sorted(seen), list(window))
