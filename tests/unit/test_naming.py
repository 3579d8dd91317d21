from datetime import datetime, timedelta, timezone

import pytest

from shared.naming import InvalidClipId, make_clip_id, parse_clip_id


def test_round_trip_and_sortable() -> None:
    t = datetime(2026, 11, 22, 5, 18, 25, 123000, tzinfo=timezone.utc)
    a = make_clip_id("front-door", t, 3)
    assert a == "front-door_20261122T051825Z_0003"
    p = parse_clip_id(a)
    assert (p.camera, p.started, p.seq) == ("front-door", t.replace(microsecond=0), 3)
    later = make_clip_id("front-door", t + timedelta(seconds=1), 1)
    assert sorted([later, a]) == [a, later]


def test_converts_to_utc() -> None:
    t = datetime(2026, 1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    assert make_clip_id("cam", t, 1) == "cam_20251231T230000Z_0001"


@pytest.mark.parametrize(
    "bad",
    ["", "..", "../cam_20261122T051825Z_0001", "cam_20261122T051825Z_0001/../x", "Cam_20261122T051825Z_0001",
     "cam_20261122T051825Z_1", "cam_20261322T051825Z_0001", "cam_20261122T051825Z_0001.mp4",
     "cam_20261122T051825Z_0001\n", "-cam_20261122T051825Z_0001", "a" * 33 + "_20261122T051825Z_0001"],
)
def test_rejects_anything_else(bad: str) -> None:
    with pytest.raises(InvalidClipId):
        parse_clip_id(bad)


def test_make_rejects_bad_camera_and_naive_time() -> None:
    with pytest.raises(InvalidClipId):
        make_clip_id("Front Door", datetime.now(timezone.utc), 1)
    with pytest.raises(InvalidClipId):
        make_clip_id("cam", datetime.now(), 1)
