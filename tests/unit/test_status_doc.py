"""status.json through its model: the writer's document reads back, and any bytes give a Status or InvalidStatus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watcher.status import MAX_STATUS_BYTES, Counters, InvalidStatus, Status, StatusReporter, parse_status


def written(tmp_path: Path) -> bytes:
    c = Counters(frames_in=30, frames_encoded=29, clips_published=2, last_clip="cam1_20261122T051825Z_0001")
    c.error("camera hiccup")
    StatusReporter(tmp_path / "status.json", c, interval_s=5.0, started_mono=100.0).write(101.0)
    return (tmp_path / "status.json").read_bytes()


def test_the_written_document_reads_back(tmp_path: Path) -> None:
    raw = written(tmp_path)
    s = parse_status(raw)
    assert (s.frames_in, s.clips_published, s.state, s.last_error) == (30, 2, "starting", "camera hiccup")
    assert s.to_json() == raw  # the same bytes: sorted keys, indent 2
    assert raw.endswith(b"\n") and list(json.loads(raw)) == sorted(json.loads(raw))


@pytest.mark.parametrize("change, reason", [
    ({"pid": 0}, "pid: must be >= 1"),
    ({"frames_in": -1}, "frames_in: must be >= 0"),
    ({"frames_in": "30"}, "frames_in: expected an integer"),
    ({"state": "exploded"}, "state: must be one of"),
    ({"updated_at": "yesterday"}, "updated_at: "),
    ({"motion": KeyError}, "motion: is required"),
])
def test_rejects_with_the_key(tmp_path: Path, change: dict[str, object], reason: str) -> None:
    d = json.loads(written(tmp_path))
    for k, v in change.items():
        if v is KeyError:
            del d[k]
        else:
            d[k] = v
    with pytest.raises(InvalidStatus, match=reason):
        parse_status(json.dumps(d).encode())


def test_unknown_keys_are_dropped_and_the_size_is_capped(tmp_path: Path) -> None:
    raw = written(tmp_path)
    assert parse_status(json.dumps(dict(json.loads(raw), newer_counter=3)).encode()) == parse_status(raw)
    with pytest.raises(InvalidStatus, match="cap"):
        parse_status(b" " * (MAX_STATUS_BYTES + 1))
    with pytest.raises(InvalidStatus, match="expected a table"):
        parse_status(b"[]")


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=1024) | st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=10).map(lambda v: json.dumps(v).encode()))
def test_any_bytes_give_a_status_or_a_rejection(raw: bytes) -> None:
    try:
        s = parse_status(raw)
    except InvalidStatus as e:
        assert str(e).isascii()
        return
    assert isinstance(s, Status)
