"""The watcher's Picamera2Source on the real picamera2 (Pi 5 encoder path) and the virtual camera."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import av
import numpy as np

from tests.realcam.conftest import FPS, LORES, MAIN, Footage, run_child
from tests.realcam.env import VirtualCamera


def probe(out: Path, camera: VirtualCamera, *args: str, timeout: float = 90.0) -> tuple[dict, list[dict], np.ndarray]:
    r = run_child(["-m", "tests.realcam.source_probe", str(out), *args], camera, timeout)
    assert r.returncode == 0, f"probe failed ({r.returncode})\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    info = json.loads((out / "info.json").read_text())
    return info, json.loads((out / "packets.json").read_text()), np.load(out / "luma.npy")


def decoded_sizes(stream: Path) -> list[tuple[int, int]]:
    """Every frame FFmpeg decodes from the raw H.264 stream (fails on a decode error)."""
    with av.open(str(stream), format="h264") as c:
        return [(f.width, f.height) for f in c.decode(video=0)]


def played_index(luma: np.ndarray, footage: Footage) -> tuple[int, float]:
    """Which footage image a lores luma image shows (closest by mean absolute difference)."""
    diffs = np.abs(footage.lores_luma.astype(np.int16) - luma.astype(np.int16)).mean(axis=(1, 2))
    return int(np.argmin(diffs)), float(diffs.min())


def test_main_and_lores_stream_footage_and_encoded_packets_decode(tmp_path: Path, camera: VirtualCamera,
                                                                  footage: Footage) -> None:
    info, packets, lumas = probe(tmp_path / "out", camera, "--frames", "40", "--gop", "10")
    assert (info["width"], info["height"], info["encoded"], info["codec"]) == (*MAIN, True, "h264")
    # lores: one luma image per frame, the lores size, showing the played footage in order and in time
    assert lumas.shape == (40, LORES[1], LORES[0]) and lumas.dtype == np.uint8
    times = info["times"]
    assert times[0] >= 0 and all(b > a for a, b in pairwise(times))
    for luma, t in zip(lumas, times, strict=False):
        index, diff = played_index(luma, footage)
        assert diff < 6, f"lores at t={t:.2f} matches no footage image (closest {index}, diff {diff:.1f})"
        assert abs(index - round(t * FPS)) <= 1, f"lores at t={t:.2f} shows image {index}"
    # main: H.264 from picamera2's LibavH264Encoder (libx264), a keyframe every 10 frames, 100 ms apart
    assert packets and info["dropped_packets"] == 0
    assert packets[0]["keyframe"] and packets[0]["pts"] == 0
    pts = [p["pts"] for p in packets]
    assert all(b - a == 100_000 for a, b in pairwise(pts)), pts
    assert [i for i, p in enumerate(packets) if p["keyframe"]] == list(range(0, len(packets), 10))
    assert len(packets) >= 38  # the last frame's packet may still be in the encoder when we stop
    assert decoded_sizes(tmp_path / "out" / "stream.h264") == [MAIN] * len(packets)
    assert info["close_s"] < 5


def test_request_keyframe_gives_one_at_once_and_the_camera_keeps_running(tmp_path: Path, camera: VirtualCamera) -> None:
    # GOP of 100 frames: any keyframe after the first within the run is one we asked for
    info, packets, lumas = probe(tmp_path / "out", camera, "--frames", "30", "--gop", "100", "--keyframe-at", "12",
                                 timeout=40.0)
    keys = [p for p in packets if p["keyframe"]]
    asked = info["keyframe_requested_after_t"]
    assert asked is not None
    assert keys[0]["pts"] == 0
    assert len(keys) == 2, f"expected the first keyframe and the requested one, got {[k['t'] for k in keys]}"
    assert asked < keys[1]["t"] <= asked + 3 / FPS, f"keyframe at {keys[1]['t']} for a request after {asked}"
    assert len(lumas) == 30  # frames kept coming after the request
    assert decoded_sizes(tmp_path / "out" / "stream.h264") == [MAIN] * len(packets)
    assert info["close_s"] < 5
