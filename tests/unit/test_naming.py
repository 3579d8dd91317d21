from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.naming import MAX_ID_LEN, MAX_SEQ, InvalidClipId, check_camera_name, make_clip_id, parse_clip_id


def test_round_trip_and_sortable() -> None:
    t = datetime(2026, 11, 22, 5, 18, 25, 123000, tzinfo=UTC)
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
        make_clip_id("Front Door", datetime.now(UTC), 1)
    with pytest.raises(InvalidClipId):
        make_clip_id("cam", datetime.now(), 1)


@pytest.mark.parametrize(
    "bad",
    [
        "cam_２０２６1122T051825Z_0001",  # fullwidth digits: \d took them, int() read them
        "cam_٢٠٢٦1122T051825Z_0001",  # Arabic-Indic digits
        "cam_20261122T051825Z_٠٠٠١",
        "cam_20261122T051825Z_０００１",
        "cam_20261122T051825Z_0001\udcff",  # a lone surrogate (os.listdir's surrogateescape)
        "\ud800cam_20261122T051825Z_0001",
        "caｍ_20261122T051825Z_0001",
        "cam_20261122T051825Z_0001" + "1" * 1_000_000,  # huge: bounded before the regex runs
        "a" * 1_000_000,
        "cam_19991231T235959Z_0001",  # before the sane years
        "cam_21010101T000000Z_0001",  # after them
        "cam_00000101T000000Z_0001",  # year 0: datetime cannot hold it
        "cam_20260230T000000Z_0001",  # 30 February
        "cam_20261122T240000Z_0001",
        "cam_20261122T235960Z_0001",  # leap second
        "cam_20261122T051825Z_00003",  # not canonical: the same clip as ..._0003 under another name
        "cam_20261122T051825Z_000003",
        "cam_20261122T051825Z_1234567",
        "cam_20261122T051825z_0001",
        "cam_20261122t051825Z_0001",
        "cam_20261122T051825Z_-001",
        "cam_20261122T051825Z_+001",
        "cam_20261122T051825Z_ 001",
    ],
)
def test_rejects_unicode_digits_surrogates_huge_and_out_of_range(bad: str) -> None:
    with pytest.raises(InvalidClipId) as e:
        parse_clip_id(bad)
    assert str(e.value).isascii() and len(str(e.value)) < 300


@pytest.mark.parametrize("bad", [None, 7, b"cam_20261122T051825Z_0001", ["cam_20261122T051825Z_0001"], 1.5])
def test_rejects_what_is_not_a_str(bad: object) -> None:
    with pytest.raises(InvalidClipId):
        parse_clip_id(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "good", ["cam_20000101T000000Z_0000", "cam_21001231T235959Z_999999", "a_20261122T051825Z_12345",
             "0-_20240229T120000Z_0001", "a" * 32 + "_20261122T051825Z_0001"],
)
def test_accepts_the_edges(good: str) -> None:
    assert str(parse_clip_id(good)) == good
    assert len(good) <= MAX_ID_LEN


def test_make_refuses_what_parse_would_refuse() -> None:
    with pytest.raises(InvalidClipId, match="clock not set"):
        make_clip_id("cam", datetime(1970, 1, 1, tzinfo=UTC), 1)
    with pytest.raises(InvalidClipId, match=r"2000\.\.2100"):
        make_clip_id("cam", datetime(2101, 1, 1, tzinfo=UTC), 1)
    with pytest.raises(InvalidClipId):
        make_clip_id("cam", datetime.now(UTC), MAX_SEQ + 1)
    with pytest.raises(InvalidClipId):
        make_clip_id("a" * 33, datetime.now(UTC), 1)
    # the edges themselves, in another time zone
    assert make_clip_id("cam", datetime(2000, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), 0) == \
        "cam_20000101T000000Z_0000"


def test_check_camera_name_is_total() -> None:
    for bad in (None, 3, "", "-a", "A", "a" * 33, "a\n", "ａ", "a\udcff", "a" * 1_000_000):
        assert check_camera_name(bad) is not None  # type: ignore[arg-type]
    assert check_camera_name("a" * 32) is None
