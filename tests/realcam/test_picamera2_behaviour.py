"""How the real picamera2 (the pinned release, Pi 5 encoder path) behaves where our fake models it.

Each scenario runs in its own process (tests/realcam/behaviour_probe.py). When picamera2 is bumped and
one of these changes, tests/fakes/picamera2 and watcher/sources/picamera2_source.py need a look.
"""

from __future__ import annotations

import json

import pytest

from tests.realcam.conftest import run_child
from tests.realcam.env import VirtualCamera


def scenario(name: str, camera: VirtualCamera) -> dict:
    r = run_child(["-m", "tests.realcam.behaviour_probe", name], camera, timeout=60)
    lines = [line for line in r.stdout.splitlines() if line.startswith("result: ")]
    assert r.returncode == 0 and lines, f"{name}: rc {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    return json.loads(lines[-1].removeprefix("result: "))


def test_camera_thread_runs_free_and_calls_outputframe_with_five_positional_arguments(camera):
    r = scenario("free_running", camera)
    assert r["encoder_class"] == "LibavH264Encoder"
    # the encoder (and so our Output) gets every frame though nobody asked for one
    assert r["reached_20"] and r["outputframe_calls_without_asking"] >= 20
    assert r["outputframe_positional_types"] == ["bytes", "bool", "int", "Packet", "bool"]
    assert r["outputframe_kwargs"] == []
    assert r["outputframe_thread"] != "MainThread"  # the camera's event-loop thread
    assert r["timestamps_us"] == [0, 100_000, 200_000, 300_000, 400_000]  # µs since the first encoded frame


def test_force_key_frame_counts_calls(camera):
    # with a PictureType the PyAV in use accepts (scenario-local): three calls, three keyframes in a row
    r = scenario("keyframe_counter", camera)
    assert r["requested_counter_after_3_calls"] == 3 and r["generated"] == 3
    after = r["keyframes_after_3_calls"]
    first = after.index(True)
    assert after[first:first + 4] == [True, True, True, False], after


def test_wait_timeout_raises_and_leaves_the_job_queued_to_take_a_request_later(camera):
    r = scenario("wait_timeout", camera)
    assert r["raised"] == "builtins.TimeoutError"  # concurrent.futures.TimeoutError is TimeoutError
    assert r["job_still_queued_after_timeout"]
    assert r["job_completed_later_with"] == "CompletedRequest"  # someone must release() it


def test_cancel_all_and_flush_fails_the_pending_job_and_frames_keep_flowing(camera):
    r = scenario("cancel", camera)
    assert r["pending_job_raised"] == "concurrent.futures._base.CancelledError"
    assert r["job_list_after"] == 0 and r["frames_keep_flowing_after_cancel"]


def test_stop_with_a_pending_capture_job_returns_and_the_job_takes_a_request(camera):
    r = scenario("stop_pending", camera)
    assert r["stop_returned"] and r["stop_error"] is None
    assert r["pending_job_outcome"] == "CompletedRequest"  # it ran just before stop_(); release() it
    assert r["frames_after_stop"] is False


def test_pyav14_force_key_frame_kills_the_camera_thread_and_stop_never_returns(camera):
    r = scenario("thread_death", camera)
    if int(r["pyav"].split(".")[0]) < 14:
        pytest.skip(f"PyAV {r['pyav']} accepts pict_type = 'I'")
    assert not r["camera_thread_alive"] and r["event_loop_running_flag"]  # dead, and picamera2 doesn't know
    assert r["frames_after_death"] == 0
    assert r["wait"] == "TimeoutError" and r["wait_after_cancel"] == "CancelledError"
    assert r["stop_encoder_returned"] and r["stop_encoder_error"] is None
    assert not r["stop_returned_within_5s"]  # stop() dispatches stop_ to the dead loop and waits forever


def test_stop_preview_first_makes_shutdown_return_even_after_the_camera_thread_died(camera):
    # stop_preview() joins the event-loop thread and detaches it; stop() then runs stop_() on the
    # caller's thread (Picamera2.close() does the same, which is why close() alone does not hang).
    for name in ("thread_death_recovery", "healthy_stop_via_stop_preview"):
        r = scenario(name, camera)
        steps = r["steps"]
        assert list(steps) == ["cancel_all_and_flush", "stop_preview", "stop", "stop_encoder", "close"], (name, r)
        assert all(s["returned"] and s["error"] is None and s["seconds"] < 2 for s in steps.values()), (name, r)
    assert r["pending_job"] == "CancelledError"
