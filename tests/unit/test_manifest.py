import json

import pytest

from shared.manifest import (
    CODECS,
    DURATION_TOLERANCE_S,
    FRAME_RATE_SLACK,
    MAX_CLIP_BYTES,
    MAX_DIMENSION,
    MAX_FPS,
    MAX_FRAMES,
    MAX_MANIFEST_BYTES,
    MAX_MEDIA_TIME_S,
    MAX_MOTION_BOXES,
    MIN_DIMENSION,
    MOTION_MARGIN_S,
    InvalidManifest,
    Manifest,
    parse_manifest,
)

GOOD = Manifest(
    id="cam1_20261122T051825Z_0001", camera="cam1", file="cam1_20261122T051825Z_0001.mp4", size=1234,
    sha256="a" * 64, codec="h264", width=640, height=360, fps=15.0, frames=150,
    started_at="2026-11-22T05:18:25.000Z", ended_at="2026-11-22T05:18:34.933Z", media_start_s=1.0,
    media_end_s=10.933, motion_start_s=4.0, motion_end_s=6.0, peak_motion=0.02, salvaged=False, duration_s=10.0,
    motion_boxes=((0.1, 0.2, 0.3, 0.4),),
)


def test_round_trip() -> None:
    assert parse_manifest(GOOD.to_json(), expected_id=GOOD.id) == GOOD


def test_has_the_keys_other_tools_depend_on() -> None:
    d = json.loads(GOOD.to_json())
    for key in ("schema", "id", "file", "size", "sha256", "codec", "width", "height", "fps", "frames", "started_at",
                "ended_at", "media_start_s", "media_end_s", "motion_start_s", "motion_end_s", "peak_motion",
                "salvaged"):
        assert key in d
    assert d["schema"] == 1


def mutate(**changes: object) -> bytes:
    d = json.loads(GOOD.to_json())
    for k, v in changes.items():
        if v is KeyError:
            del d[k]
        else:
            d[k] = v
    return json.dumps(d).encode()


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"{", "not JSON"),
        (b"[]", "not a JSON object"),
        (mutate(schema=2), "unsupported schema"),
        (mutate(id="../../etc/passwd"), "not a clip id"),
        (mutate(file="../x.mp4"), "'file'"),
        (mutate(size=-1), "'size'"),
        (mutate(size="12"), "'size': expected an integer"),
        (mutate(size=True), "'size': expected an integer"),
        (mutate(sha256="z" * 64), "sha256"),
        (mutate(frames=KeyError), "'frames': is required"),
        (mutate(started_at="yesterday"), "ISO 8601"),
        (mutate(camera="other"), "camera"),
        (b" " * (MAX_MANIFEST_BYTES + 1), "cap"),
    ],
)
def test_rejects_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidManifest, match=reason):
        parse_manifest(raw)


def test_rejects_id_that_does_not_match_its_file_name() -> None:
    with pytest.raises(InvalidManifest, match="does not match"):
        parse_manifest(GOOD.to_json(), expected_id="cam1_20261122T051825Z_0002")


def with_literal(key: str, literal: bytes) -> bytes:
    """GOOD with ``key``'s value replaced by raw JSON text (for what json.dumps cannot write)."""
    return mutate(**{key: "@@"}).replace(b'"@@"', literal)


# Each of these escaped the old checks as another exception (ValueError, RecursionError, TypeError, OverflowError).
@pytest.mark.parametrize(
    "raw, reason",
    [
        (with_literal("size", b"9" * 5000), "integer of 5000 characters"),  # int-digits limit: ValueError
        (b"[" * 30000 + b"]" * 30000, "nested deeper"),  # RecursionError
        (b'{"a": ' + b"[" * 30000, "nested deeper"),  # the same, unterminated
        (b'{"a": ' + b'{"b": ' * 5000 + b"1" + b"}" * 5000 + b"}", "nested deeper"),  # under the size cap
        (with_literal("fps", b"1e400"), "out of range"),  # inf
        (with_literal("media_end_s", b"-1e400"), "out of range"),
        (with_literal("fps", b"NaN"), "NaN"),
        (with_literal("fps", b"Infinity"), "Infinity"),
        (with_literal("peak_motion", b"-Infinity"), "Infinity"),
        (mutate(fps=[15]), "'fps': expected a number"),  # TypeError in float()
        (mutate(fps={"v": 15}), "'fps': expected a number"),
        (mutate(fps="15"), "'fps': expected a number"),
        (mutate(fps=True), "'fps': expected a number"),
        (mutate(media_start_s=None), "'media_start_s': expected a number"),
        (mutate(media_end_s=10**39), "'media_end_s': must be <= 1000000000.0"),  # big int: float() fine, bound not
        (with_literal("media_end_s", b"1" * 400 + b".0"), "number of 402 characters"),  # float(): OverflowError-ish
        (GOOD.to_json().replace(b"{", b"\xff{", 1), "not UTF-8"),
        (GOOD.to_json().replace(b"h264", b"h\xed\xa0\x80", 1), "not UTF-8"),  # an encoded surrogate
        (mutate(codec="\ud800"), "'codec'"),  # a JSON-escaped lone surrogate: valid JSON, not a codec
        (mutate(camera="\udcff"), "'camera'"),
        ("\ufeff".encode() + GOOD.to_json(), "not JSON"),  # a BOM
        (GOOD.to_json().decode().encode("utf-16"), "not UTF-8"),  # json.loads(bytes) would guess UTF-16
        (b'{"schema": 1, "schema": 1}', "appears twice"),
        (GOOD.to_json()[:-3], "not JSON"),
        (b"", "not JSON"),
        (b"null", "not a JSON object"),
    ],
)
def test_rejects_what_used_to_escape(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidManifest, match=reason):
        parse_manifest(raw)


def test_rejects_what_is_not_bytes() -> None:
    for raw in (None, 12, GOOD.to_json().decode(), [GOOD.to_json()]):
        with pytest.raises(InvalidManifest, match="expected bytes"):
            parse_manifest(raw)  # type: ignore[arg-type]


def test_takes_bytearray_and_memoryview() -> None:
    assert parse_manifest(bytearray(GOOD.to_json())) == GOOD
    assert parse_manifest(memoryview(GOOD.to_json())) == GOOD


def test_depth_and_number_guards_leave_ordinary_documents_alone() -> None:
    boxes = [[0.1, 0.1, 0.1, 0.1]] * MAX_MOTION_BOXES  # 257 opening brackets, depth 3
    assert parse_manifest(mutate(motion_boxes=boxes)).motion_boxes == tuple((0.1, 0.1, 0.1, 0.1) for _ in boxes)
    tricky = mutate(note="[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[[[[[[")
    assert parse_manifest(tricky) == GOOD  # brackets inside a string are not nesting
    assert parse_manifest(mutate(note=[[[[[[[[[[[1]]]]]]]]]]] * 10)) == GOOD  # depth 12, 110 brackets
    assert parse_manifest(mutate(size=MAX_CLIP_BYTES, note=-0.0, other=1e-400)).size == MAX_CLIP_BYTES


def test_unknown_keys_are_tolerated_and_dropped() -> None:
    m = parse_manifest(mutate(future_field={"anything": [1, "two", None]}, another="x"))
    assert m == GOOD and not hasattr(m, "future_field")


def test_missing_optional_keys_take_their_defaults() -> None:
    m = parse_manifest(mutate(camera=KeyError, motion_boxes=KeyError, continuation_of=KeyError, duration_s=KeyError,
                              motion_start_s=KeyError, motion_end_s=KeyError))
    assert (m.camera, m.motion_boxes, m.continuation_of, m.motion_start_s) == ("cam1", (), None, None)
    assert m.duration_s == pytest.approx(GOOD.media_end_s - GOOD.media_start_s)


NO_MOTION = {"motion_start_s": None, "motion_end_s": None}


# Each bound: the last value inside is accepted, the first one outside rejected, with the key in the reason.
@pytest.mark.parametrize(
    "changes, ok",
    [
        ({"size": 1}, True),
        ({"size": 0}, False),
        ({"size": MAX_CLIP_BYTES}, True),
        ({"size": MAX_CLIP_BYTES + 1}, False),
        ({"width": MIN_DIMENSION, "height": MIN_DIMENSION}, True),
        ({"width": MIN_DIMENSION - 1}, False),
        ({"height": MIN_DIMENSION - 1}, False),
        ({"width": MAX_DIMENSION, "height": MAX_DIMENSION}, True),
        ({"width": 641, "height": 361}, True),  # odd sizes are fine
        ({"width": MAX_DIMENSION + 1}, False),
        ({"height": MAX_DIMENSION + 1}, False),
        ({"width": 640.0}, False),
        ({"fps": MAX_FPS}, True),
        ({"fps": MAX_FPS + 0.001}, False),
        ({"fps": 0}, False),
        ({"fps": -15}, False),
        ({"frames": 1}, True),  # dropped frames: fewer than duration x fps is fine
        ({"frames": 0}, False),
        ({"frames": -1}, False),
        ({"frames": int(10.0 * 15 * FRAME_RATE_SLACK) + 2}, True),
        ({"frames": int(10.0 * 15 * FRAME_RATE_SLACK) + 3}, False),
        ({"frames": MAX_FRAMES + 1}, False),
        ({"duration_s": 9.933}, True),  # salvage writes the span without the last frame's duration
        ({"duration_s": 9.933 - DURATION_TOLERANCE_S - 0.001}, False),
        ({"duration_s": 9.933 + 1 / 15 + DURATION_TOLERANCE_S - 0.001}, True),
        ({"duration_s": 9.933 + 1 / 15 + DURATION_TOLERANCE_S + 0.001}, False),
        ({"duration_s": -1.0}, False),
        ({"duration_s": 3600.0}, False),
        ({"media_start_s": 10.934}, False),  # after media_end_s
        ({"media_start_s": -5.0, "media_end_s": -5.0 + 9.933, **NO_MOTION}, True),  # a timeline may start below 0
        ({"media_start_s": -MAX_MEDIA_TIME_S * 2, "media_end_s": -MAX_MEDIA_TIME_S * 2 + 9.933, **NO_MOTION}, False),
        ({"media_start_s": MAX_MEDIA_TIME_S - 9.933, "media_end_s": MAX_MEDIA_TIME_S, **NO_MOTION}, True),
        ({"media_start_s": MAX_MEDIA_TIME_S, "media_end_s": MAX_MEDIA_TIME_S + 9.933, **NO_MOTION}, False),
        ({"peak_motion": 0}, True),
        ({"peak_motion": 1}, True),
        ({"peak_motion": 1.000001}, False),
        ({"peak_motion": -0.1}, False),
        ({"motion_start_s": None, "motion_end_s": None}, True),
        ({"motion_start_s": 1.0 - MOTION_MARGIN_S}, True),  # the event began before the clip's first keyframe
        ({"motion_start_s": 1.0 - MOTION_MARGIN_S - 0.1}, False),
        ({"motion_end_s": 10.933 + MOTION_MARGIN_S}, True),  # a salvaged clip cut before the motion ended
        ({"motion_end_s": 10.933 + MOTION_MARGIN_S + 0.1}, False),
        ({"motion_start_s": 7.0, "motion_end_s": 6.0}, False),
        ({"motion_end_s": "6"}, False),
        ({"started_at": "2026-11-22T05:18:25+00:00", "ended_at": "2026-11-22T05:18:34.933000+00:00"}, True),
        ({"started_at": "2026-11-22T05:18:25.000+01:00"}, False),  # not UTC
        ({"started_at": "2026-11-22 05:18:25.000Z"}, False),
        ({"started_at": "2026-11-22T05:18:25.000"}, False),  # naive
        ({"started_at": "2026-W47-7T05:18:25Z"}, False),
        ({"started_at": "2026-02-30T05:18:25.000Z"}, False),
        ({"started_at": "2026-11-22T05:18:25.000Z" + " " * 100}, False),
        ({"started_at": "٢٠٢٦-11-22T05:18:25.000Z"}, False),  # Arabic-Indic digits
        ({"started_at": "1999-12-31T23:59:59.000Z", "ended_at": "2000-01-01T00:00:08.933Z"}, False),
        ({"started_at": "2000-01-01T00:00:00.000Z", "ended_at": "2000-01-01T00:00:09.933Z"}, True),
        ({"started_at": "2100-12-31T23:59:50.000Z", "ended_at": "2100-12-31T23:59:59.933Z"}, True),
        ({"started_at": "2100-12-31T23:59:59.000Z", "ended_at": "2101-01-01T00:00:08.933Z"}, False),
        ({"started_at": "0001-01-01T00:00:00.000Z", "ended_at": "0001-01-01T00:00:09.933Z"}, False),
        ({"ended_at": "2026-11-22T05:18:24.000Z"}, False),  # before started_at
        ({"ended_at": "2026-11-22T05:18:35.933Z"}, True),  # within a second of the media span
        ({"ended_at": "2026-11-22T05:18:36.000Z"}, False),
        ({"ended_at": "2026-11-22T05:18:25.000Z"}, False),  # a 10 s clip does not start and end at once
        ({"codec": "hevc"}, True),
        ({"codec": "H264"}, False),
        ({"codec": "rawvideo"}, False),
        ({"codec": "h264" * 1000}, False),
        ({"sha256": "A" * 64}, False),
        ({"sha256": "a" * 63}, False),
        ({"sha256": "a" * 64 + "\n"}, False),
        ({"salvaged": 1}, False),
        ({"salvaged": True}, True),
        ({"motion_boxes": [[0, 0, 1, 1]]}, True),
        ({"motion_boxes": [[0.5, 0.5, 0.5001, 0.5001]]}, True),  # rounded to 4 decimals by the watcher
        ({"motion_boxes": [[0.5, 0.5, 0.51, 0.1]]}, False),
        ({"motion_boxes": [[-0.1, 0, 0.1, 0.1]]}, False),
        ({"motion_boxes": [[0, 0, 2, 0.1]]}, False),
        ({"motion_boxes": [[0, 0, 0.1]]}, False),
        ({"motion_boxes": [[0, 0, 0.1, True]]}, False),
        ({"motion_boxes": [[0.1, 0.1, 0.1, 0.1]] * (MAX_MOTION_BOXES + 1)}, False),
        ({"motion_boxes": {"x": 0}}, False),
        ({"continuation_of": "cam1_20261122T051725Z_0009"}, True),
        ({"continuation_of": "cam1_20261122T051925Z_0009"}, True),  # ids follow a wall clock that may step back
        ({"continuation_of": "cam2_20261122T051725Z_0009"}, False),  # another camera
        ({"continuation_of": "cam1_20261122T051825Z_0001"}, False),  # itself
        ({"continuation_of": "../cam1_20261122T051725Z_0009"}, False),
        ({"continuation_of": 7}, False),
        ({"schema": True}, False),
        ({"schema": 1.0}, False),
        ({"schema": KeyError}, False),
    ],
)
def test_bounds(changes: dict, ok: bool) -> None:
    raw = mutate(**changes)
    if ok:
        parse_manifest(raw, expected_id=GOOD.id)
    else:
        with pytest.raises(InvalidManifest) as e:
            parse_manifest(raw, expected_id=GOOD.id)
        named = {k for k in changes if f"'{k}'" in str(e.value)}
        assert named or "schema" in changes, f"the reason names none of {sorted(changes)}: {e.value}"


def test_reasons_are_ascii_and_short() -> None:
    for raw in (mutate(codec="\ud800" * 5000), mutate(camera=["x"] * 5000), mutate(id="é" * 10000),
                mutate(continuation_of="\x00" * 100)):
        with pytest.raises(InvalidManifest) as e:
            parse_manifest(raw, expected_id="\udcff" * 1000)
        assert str(e.value).isascii() and len(str(e.value)) < 400, str(e.value)


def test_every_manifest_the_watcher_can_write_has_codec_in_the_allowlist() -> None:
    # watcher/encoder.py reports libx264 as "h264"; the manifest's codec is the demuxer's name (container.py)
    assert {"h264", "hevc", "mpeg4", "mjpeg"} <= CODECS
