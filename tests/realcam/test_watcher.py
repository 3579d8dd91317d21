"""``python -m watcher --source picamera2`` on the real picamera2 (Pi 5 encoder path), recording real
footage played into libcamera's virtual camera: 3 s of an empty street, 9 s of people walking, 3 s
empty (see conftest.footage), at 640x360 + 320x180 lores, 10 fps, in real time.

Every run has a hard deadline: a watcher that hangs is killed and the test fails saying so.
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import av
import cv2
import numpy as np

from shared.manifest import Manifest
from tests.clips import verify_recorded
from tests.proc import WatcherProcess
from tests.realcam.conftest import FPS, LORES, MAIN, Footage
from tests.realcam.env import VirtualCamera, child_env

FRAME = 1 / FPS


def write_config(path: Path, data: Path, *, gop_s: float, max_clip_s: float, pre_roll_s: float = 1.0) -> Path:
    path.write_text(f"""
[watcher]
camera = "realcam"
data_dir = "{data}"
status_interval_s = 0.5

[source]
spec = "picamera2"
width = {MAIN[0]}
height = {MAIN[1]}
fps = {FPS}
lores_width = {LORES[0]}

[encoder]
bitrate = 1000000
gop_s = {gop_s}

[trigger]
pre_roll_s = {pre_roll_s}
post_roll_s = 1.0
min_motion_frames = 2
max_clip_s = {max_clip_s}

[detector]
warmup_s = 1.0
""")
    return path


def run_watcher(camera: VirtualCamera, config: Path, *args: str) -> WatcherProcess:
    return WatcherProcess("--config", str(config), *args, module="tests.realcam.run_watcher",
                          env=child_env(camera.yaml))


def finish(w: WatcherProcess, timeout: float, what: str) -> int:
    """Wait for the watcher to exit; past the deadline kill it and fail with its log."""
    try:
        return w.finish(timeout=timeout)
    except subprocess.TimeoutExpired:
        w.proc.kill()
        w.proc.wait(timeout=30)
        while w.next_line(timeout=1) is not None:  # collect the rest of its log
            pass
        raise AssertionError(f"watcher did not exit within {timeout:g} s {what} (killed); log tail:\n"
                             + "\n".join(w.log[-30:])) from None


def force_key_frame_calls(w: WatcherProcess) -> int:
    found = [int(m.group(1)) for line in w.log if (m := re.search(r"realcam: force_key_frame calls=(\d+)", line))]
    assert found, "run_watcher printed no force_key_frame count"
    return found[-1]


def keyframe_flags(clip: Path) -> list[bool]:
    with av.open(str(clip)) as c:
        return [bool(p.is_keyframe) for p in c.demux(video=0) if p.size]


def chain(ms: list[Manifest]) -> list[Manifest]:
    ms = sorted(ms, key=lambda m: m.media_start_s)
    assert all((m.codec, m.width, m.height, m.fps, m.salvaged) == ("h264", *MAIN, FPS, False) for m in ms), ms
    return ms


def frames_show_the_footage(clip: Path, start_s: float, footage: Footage, every: int = 7) -> None:
    """Decoded frames of a clip are the images played at their media time (image i at t = i / FPS).

    Checked where people walk: the empty-street frames all look alike. The decoder's luma differs from
    the JPEGs' by a few levels overall (YUV range, compression), so we look for the closest image, not
    for an exact one.
    """
    lo, hi = footage.motion
    with av.open(str(clip)) as c:
        for k, frame in enumerate(c.decode(video=0)):
            t = start_s + k * FRAME
            if k % every or not lo + FRAME < t < hi - FRAME:
                continue
            luma = cv2.resize(frame.to_ndarray(format="gray"), LORES, interpolation=cv2.INTER_AREA)
            diffs = np.abs(footage.lores_luma.astype(np.int16) - luma.astype(np.int16)).mean(axis=(1, 2))
            index = int(np.argmin(diffs))
            assert abs(index - round(t * FPS)) <= 1, (
                f"{clip.name} frame {k} (t={t:.1f}) looks like image {index} (diff {diffs[index]:.1f})")


def test_real_footage_with_rollovers_becomes_verified_continuous_clips(tmp_path: Path, camera: VirtualCamera,
                                                                       footage: Footage) -> None:
    # max_clip_s 3 s with a keyframe only every 10 s: each rollover needs a keyframe *requested* from
    # picamera2's encoder (request_keyframe -> LibavH264Encoder.force_key_frame); waiting for the GOP
    # would make each continuation ~10 s long.
    data = tmp_path / "d"
    config = write_config(tmp_path / "w.toml", data, gop_s=10.0, max_clip_s=3.0)
    w = run_watcher(camera, config, "--duration", "14")
    rc = finish(w, 60, "for a 14 s run")
    assert rc == 0, w.log[-30:]
    ms = chain(verify_recorded(data / "recorded_clips"))  # sizes, sha256, frame counts decode with FFmpeg
    assert len(ms) >= 3, [(m.media_start_s, m.media_end_s) for m in ms]
    first, rest = ms[0], ms[1:]
    motion_start, motion_end = footage.motion
    assert first.continuation_of is None
    assert first.media_start_s <= motion_start <= first.motion_start_s + 0.5, first
    for a, b in zip(ms, rest, strict=False):  # rest is ms[1:]
        assert b.continuation_of == a.id, (a.id, b)
        assert abs(b.media_start_s - a.media_end_s - FRAME) < 1e-3, "a frame lost or repeated at a rollover"
    # every clip that rolled over did so at max_clip_s (plus the frame or two a requested keyframe takes)
    assert first.media_end_s <= first.motion_start_s - 1.0 + 3.0 + 0.3, first
    for m in rest[:-1]:
        assert m.duration_s <= 3.0 + 0.3, f"continuation {m.id} is {m.duration_s} s long: the keyframe came late"
    assert ms[-1].media_end_s >= motion_end - 0.5
    assert not list((data / "temp_clips").iterdir())
    # a keyframe is asked for once per rollover, not once per frame while one is pending (picamera2's
    # encoders count requests: asking per frame gives a run of keyframes)
    assert force_key_frame_calls(w) <= 2 * len(rest), "force_key_frame called more than once per need"
    flags = [keyframe_flags(data / "recorded_clips" / m.file) for m in ms]
    assert all(f[0] for f in flags), "a clip does not start with a keyframe"
    assert sum(map(sum, flags)) <= len(ms) + 1, f"more keyframes than needs: {[sum(f) for f in flags]}"
    for m in ms[:2]:
        frames_show_the_footage(data / "recorded_clips" / m.file, m.media_start_s, footage)


def test_event_start_with_no_keyframe_in_the_pre_roll_is_not_lost(tmp_path: Path, camera: VirtualCamera,
                                                                  footage: Footage) -> None:
    # GOP 10 s, pre-roll 1 s: when people appear (t = 3 s) the last keyframe (t = 0) is older than the
    # pre-roll, and the next regular one is 7 s away. The clip must still begin by the motion start.
    data = tmp_path / "d"
    config = write_config(tmp_path / "w.toml", data, gop_s=10.0, max_clip_s=60.0)
    w = run_watcher(camera, config, "--duration", "14")
    rc = finish(w, 60, "for a 14 s run")
    assert rc == 0, w.log[-30:]
    ms = chain(verify_recorded(data / "recorded_clips"))
    assert len(ms) == 1, [(m.media_start_s, m.media_end_s) for m in ms]
    clip = ms[0]
    motion_start, motion_end = footage.motion
    assert abs(clip.motion_start_s - motion_start) <= 0.5, clip
    assert clip.media_start_s <= clip.motion_start_s + 2 * FRAME, f"the clip starts after the motion: {clip}"
    assert clip.media_end_s >= motion_end - 0.5, clip
    assert force_key_frame_calls(w) <= 2, "force_key_frame called more than once per need"
    frames_show_the_footage(data / "recorded_clips" / clip.file, clip.media_start_s, footage)


def test_sigterm_while_recording_publishes_the_clip_and_exits_promptly(tmp_path: Path, camera: VirtualCamera) -> None:
    data = tmp_path / "d"
    config = write_config(tmp_path / "w.toml", data, gop_s=1.0, max_clip_s=60.0)
    w = run_watcher(camera, config)  # no --duration: only the signal stops it
    try:
        w.wait_for("recording realcam_", timeout=30)  # a clip is open (people appear at t = 3 s)
    except (TimeoutError, EOFError) as e:
        raise AssertionError(str(e)) from None
    w.proc.send_signal(signal.SIGTERM)
    rc = finish(w, 15, "after SIGTERM")
    assert rc == 0, w.log[-30:]
    ms = chain(verify_recorded(data / "recorded_clips"))
    assert len(ms) == 1 and ms[0].frames >= 1
    assert not list((data / "temp_clips").iterdir())
    assert any("1 clip(s) published" in line for line in w.log), w.log[-10:]


def test_a_dead_camera_thread_ends_the_watcher_within_bounds_with_the_clip_published(
        tmp_path: Path, camera: VirtualCamera) -> None:
    # picamera2's event loop dies at frame 60 (t = 6 s, while people walk and a clip is open): the
    # source notices no frames, the clip is published, the camera is closed (its loop stopped first,
    # so Picamera2.stop() cannot wait for the dead loop) and the process exits 69 so that systemd
    # restarts it.
    data = tmp_path / "d"
    config = write_config(tmp_path / "w.toml", data, gop_s=1.0, max_clip_s=60.0)
    w = WatcherProcess("--config", str(config), module="tests.realcam.run_watcher",
                       env=dict(child_env(camera.yaml), REALCAM_BREAK_CAMERA_THREAD_AT="60"))
    rc = finish(w, 60, "after its camera thread died")
    assert rc == 69, w.log[-30:]
    assert any("breaking the camera thread" in line for line in w.log)
    assert any("picamera2 camera 0 closed" in line for line in w.log), w.log[-30:]
    ms = chain(verify_recorded(data / "recorded_clips"))
    assert len(ms) == 1 and 4.5 <= ms[0].media_end_s <= 6.0, ms
    assert not list((data / "temp_clips").iterdir())
