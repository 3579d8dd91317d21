"""The rules that flag a watcher from its status.json (inspector.fleet_health.assess), one at a time."""

from __future__ import annotations

from typing import Any

from inspector.fleet_health import assess
from shared.status_doc import Status

T0 = 1_764_655_200.0  # 2025-12-02T06:00:00Z
ISO = "2025-12-02T06:00:00Z"


def _status(**kw: Any) -> Status:
    base: dict[str, Any] = dict(
        updated_at=ISO, pid=10, uptime_s=100.0, fps_in=15.0, fps_out=15.0, disk_free_bytes=5_000_000_000,
        disk_total_bytes=30_000_000_000, frames_in=1500, frames_encoded=1500, frames_dropped=0, packets_dropped=0,
        clips_published=3, motion=False, recording=False, current_clip=None, last_clip=None, last_error=None,
        last_error_at=None, source="picamera2", state="running", recording_paused=None, clock_synchronized=True,
        status_interval_s=2.0, last_frame_at="2025-12-02T05:59:59.900Z", min_free_bytes=512_000_000)
    return Status(**(base | kw))


def _flags(status: Status | None, *, fetched: float = T0 + 1, error: str | None = None, last_ok: float | None = T0,
           last_error: str | None = None, last_error_at: float | None = None) -> dict[str, str]:
    return {f.flag: f.rule for f in assess(status, error, fetched, last_ok=last_ok, last_error=last_error,
                                           last_error_at=last_error_at)}


def test_a_healthy_watcher_has_no_flag() -> None:
    assert _flags(_status()) == {}


def test_stale_after_five_intervals_and_says_when_the_pis_clock_is_off() -> None:
    assert _flags(_status(), fetched=T0 + 30) == {}
    rule = _flags(_status(), fetched=T0 + 31)["stale"]
    assert rule == "status.json was 31 s old when read, more than 30 s (5 status intervals of 2 s)"
    assert "not synchronized" in _flags(_status(clock_synchronized=False), fetched=T0 + 600)["stale"]
    assert _flags(_status(status_interval_s=60.0), fetched=T0 + 299) == {}


def test_frames_stopped_by_the_pis_own_clock() -> None:
    assert _flags(_status(last_frame_at="2025-12-02T05:59:50Z")) == {}  # 10 s: the limit
    assert _flags(_status(last_frame_at="2025-12-02T05:59:49Z"))["no_frames"] == \
        "no frame for 11 s while running (the limit is 10 s)"
    assert "no frame yet" in _flags(_status(last_frame_at=None))["no_frames"]
    assert _flags(_status(state="stopped")) == {"stopped": "the watcher says it stopped"}


def test_disk_near_the_floor_or_paused() -> None:
    assert _flags(_status(disk_free_bytes=563_300_000)) == {}  # just over 110 % of the floor (563.2 MB)
    assert _flags(_status(disk_free_bytes=560_000_000))["disk"] == \
        "560 MB free, within 10 % of the retention floor (512 MB)"
    assert _flags(_status(recording_paused="below the floor"))["disk"] == "recording paused: below the floor"
    assert _flags(_status(disk_free_bytes=-1)) == {}, "unknown free space is not flagged as low"


def test_clock_unreachable_and_rejected() -> None:
    assert _flags(_status(clock_synchronized=False))["clock"].startswith("the kernel says the clock is not")
    assert _flags(_status(clock_synchronized=None)) == {}
    gone = _flags(None, last_ok=None, last_error="connection refused", last_error_at=T0)
    assert gone == {"unreachable": "the last pass failed (connection refused); last success: never"}
    recovered = _flags(_status(), last_ok=T0 + 5, last_error="timeout", last_error_at=T0)
    assert recovered == {}, "an error before the last success is history"
    assert _flags(None, error="status.json rejected: state: is required") == \
        {"status_rejected": "status.json rejected: state: is required"}
