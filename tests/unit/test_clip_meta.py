"""The clip sidecar (temp_clips/<id>.meta.json) as a model: it reads back; a damaged one is InvalidSidecar."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watcher.publish import ClipMeta, InvalidSidecar

META = ClipMeta(id="cam1_20261122T051825Z_0001", camera="cam1", codec="h264", width=640, height=360, fps=15.0,
                media_start_s=1.5, wall_epoch0=1_700_000_000.0, motion_start_s=2.0, motion_end_s=3.0,
                peak_motion=0.25, motion_boxes=[[0.1, 0.2, 0.3, 0.4]], pending_created=True)


def test_round_trip_and_the_same_bytes_as_before() -> None:
    raw = META.to_json()
    assert ClipMeta.from_json(raw) == META
    assert raw == json.dumps(json.loads(raw), sort_keys=True).encode()  # compact, sorted keys


def test_unknown_keys_are_dropped() -> None:
    assert ClipMeta.from_json(json.dumps(dict(json.loads(META.to_json()), older_field=1)).encode()) == META


@pytest.mark.parametrize("raw, reason", [
    (META.to_json()[:-5], "not JSON"),  # power loss mid-write
    (b"", "not JSON"),
    (b"{}", "id: is required"),
    (META.to_json().replace(b'"fps": 15.0', b'"fps": "15"'), "fps: expected a number"),
    (META.to_json().replace(b'"fps": 15.0', b'"fps": 0'), "fps: must be > 0"),
    (META.to_json().replace(b'"wall_epoch0": 1700000000.0', b'"wall_epoch0": 1e300'), "wall_epoch0: must be <="),
    (b"\xff", "not UTF-8"),
])
def test_a_damaged_sidecar_is_a_rejection_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidSidecar, match=reason):
        ClipMeta.from_json(raw)


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_damage_gives_a_sidecar_or_a_rejection(data: st.DataObject) -> None:
    raw = bytearray(META.to_json())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    try:
        m = ClipMeta.from_json(bytes(raw))
    except InvalidSidecar:
        return
    m.wall(m.media_start_s)  # whatever is accepted gives a wall clock
