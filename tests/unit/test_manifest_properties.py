"""Property-based tests of the two parsers that take a watcher's bytes: manifests and clip ids.

The contract is totality: for *any* input a valid document or the parser's own rejection
(InvalidManifest, InvalidClipId), never another exception; and whatever is accepted satisfies
every documented bound, so a reader can trust it. Generated inputs find the escapes named cases
miss. Runs are derandomized (the same examples on every run, no example database), so CI is
deterministic; the named cases live in test_manifest.py and test_naming.py.
"""

from __future__ import annotations

import json
import math
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.manifest import (
    CODECS,
    DURATION_TOLERANCE_S,
    FRAME_RATE_SLACK,
    MAX_CLIP_BYTES,
    MAX_DIMENSION,
    MAX_DURATION_S,
    MAX_FPS,
    MAX_FRAMES,
    MAX_MEDIA_TIME_S,
    MAX_MOTION_BOXES,
    MIN_DIMENSION,
    MOTION_MARGIN_S,
    WALL_TOLERANCE_S,
    InvalidManifest,
    Manifest,
    parse_manifest,
    parse_utc,
    utc_iso,
)
from shared.naming import CAMERA_RE, MAX_ID_LEN, MAX_SEQ, ClipId, InvalidClipId, make_clip_id, parse_clip_id
from tests.unit.test_manifest import GOOD


def fuzz(n: int) -> settings:
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


# -- generators ---------------------------------------------------------------------------------------------------

# Any character, lone surrogates (valid in JSON escapes and in os.listdir's surrogateescape names) and
# non-ASCII digits included.
any_char = st.characters() | st.characters(categories=["Cs"]) | st.characters(categories=["Nd"])
any_text = st.text(any_char, max_size=80)
# Number literals json.dumps cannot write: long integers, long fractions, huge exponents.
number_literal = (st.from_regex(r"-?(0|[1-9][0-9]{0,60})(\.[0-9]{1,50})?([eE][+-]?[0-9]{1,4})?", fullmatch=True)
                  | st.builds(lambda n, tail: "9" * n + tail, st.integers(4000, 4400),
                              st.sampled_from(["", ".5", "e9"])))
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**30), max_value=10**30)
           | st.floats() | any_text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(any_text, inner, max_size=4), max_leaves=12)

cameras = st.from_regex(CAMERA_RE, fullmatch=True)
starts = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31, 23, 0),
                      timezones=st.just(UTC))
# clips that also end (up to MAX_DURATION_S later) within the sane years
clip_starts = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31, 17, 0),
                           timezones=st.just(UTC))
seqs = st.integers(0, MAX_SEQ)
unit = st.floats(0.0, 1.0)


@st.composite
def valid_manifests(draw: st.DrawFn) -> Manifest:
    """A manifest as the watcher writes one (publish or salvage), across every field's whole range."""
    camera = draw(cameras)
    started = draw(clip_starts)
    clip_id = make_clip_id(camera, started, draw(seqs))
    fps = draw(st.floats(0.01, MAX_FPS))
    media_start = draw(st.floats(-1e6, MAX_MEDIA_TIME_S - MAX_DURATION_S))
    span = draw(st.floats(0.0, MAX_DURATION_S - 1.0 / fps) if 1.0 / fps < MAX_DURATION_S else st.just(0.0))
    media_end = media_start + span
    span = media_end - media_start  # what a reader will compute
    duration = round(span + draw(st.sampled_from([0.0, 1.0 / fps])), 6)  # publish adds a frame, salvage not
    duration = min(duration, MAX_DURATION_S)
    frames = draw(st.integers(1, max(1, min(MAX_FRAMES, int(duration * fps * FRAME_RATE_SLACK) + 2))))
    wall0 = started + timedelta(seconds=draw(st.floats(0.0, 0.999)))
    motion = draw(st.none() | st.tuples(st.floats(media_start - MOTION_MARGIN_S, media_end + MOTION_MARGIN_S),
                                        st.floats(0.0, MOTION_MARGIN_S)))
    motion_start = None if motion is None else motion[0]
    motion_end = None if motion is None else min(motion[0] + motion[1], media_end + MOTION_MARGIN_S)
    boxes = []
    for x, y, w, h in draw(st.lists(st.tuples(unit, unit, unit, unit), max_size=20)):
        boxes.append((x, y, w * (1.0 - x), h * (1.0 - y)))
    other = draw(st.none() | st.builds(lambda t, s: make_clip_id(camera, t, s), starts, seqs))
    return Manifest(
        id=clip_id, camera=camera, file=f"{clip_id}.mp4", size=draw(st.integers(1, MAX_CLIP_BYTES)),
        sha256=draw(st.text("0123456789abcdef", min_size=64, max_size=64)), codec=draw(st.sampled_from(sorted(CODECS))),
        width=draw(st.integers(MIN_DIMENSION, MAX_DIMENSION)), height=draw(st.integers(MIN_DIMENSION, MAX_DIMENSION)),
        fps=fps, frames=frames, started_at=utc_iso(wall0), ended_at=utc_iso(wall0 + timedelta(seconds=span)),
        media_start_s=media_start, media_end_s=media_end, motion_start_s=motion_start, motion_end_s=motion_end,
        peak_motion=draw(unit), salvaged=draw(st.booleans()), duration_s=duration, motion_boxes=tuple(boxes),
        continuation_of=other if other != clip_id else None,
    )


def assert_trustworthy(m: Manifest) -> None:
    """Every documented bound holds for whatever parse_manifest accepted."""
    cid = parse_clip_id(m.id)
    assert m.file == f"{m.id}.mp4" and m.camera == cid.camera
    assert 1 <= m.size <= MAX_CLIP_BYTES and len(m.sha256) == 64 and m.codec in CODECS
    assert MIN_DIMENSION <= m.width <= MAX_DIMENSION and MIN_DIMENSION <= m.height <= MAX_DIMENSION
    assert 0 < m.fps <= MAX_FPS and 1 <= m.frames <= MAX_FRAMES
    nums = [m.fps, m.media_start_s, m.media_end_s, m.duration_s, m.peak_motion]
    nums += [v for v in (m.motion_start_s, m.motion_end_s) if v is not None]
    nums += [v for b in m.motion_boxes for v in b]
    assert all(isinstance(v, float) and math.isfinite(v) for v in nums)
    span = m.media_end_s - m.media_start_s
    assert span >= 0 and 0 <= m.duration_s <= MAX_DURATION_S
    assert span - DURATION_TOLERANCE_S <= m.duration_s <= span + 1 / m.fps + DURATION_TOLERANCE_S
    assert m.frames <= m.duration_s * m.fps * FRAME_RATE_SLACK + 2
    started, ended = parse_utc(m.started_at), parse_utc(m.ended_at)
    assert started <= ended and abs((ended - started).total_seconds() - span) <= WALL_TOLERANCE_S
    assert 0.0 <= m.peak_motion <= 1.0 and len(m.motion_boxes) <= MAX_MOTION_BOXES
    if m.continuation_of is not None:
        assert parse_clip_id(m.continuation_of).camera == cid.camera and m.continuation_of != m.id
    for s in (m.id, m.file, m.camera, m.sha256, m.codec, m.started_at, m.ended_at, m.continuation_of or ""):
        assert s.isascii() and len(s) < 100


def parse_or_reject(raw: bytes, expected_id: str | None = None) -> Manifest | None:
    """The contract: a trustworthy Manifest, or InvalidManifest with an ASCII reason. Anything else fails the test."""
    try:
        m = parse_manifest(raw, expected_id=expected_id)
    except InvalidManifest as e:
        assert str(e) and str(e).isascii() and len(str(e)) < 500, str(e)
        return None
    assert_trustworthy(m)
    return m


GOOD_DICT = json.loads(GOOD.to_json())


# -- manifests ----------------------------------------------------------------------------------------------------

@fuzz(400)
@given(st.binary(max_size=2048))
def test_any_bytes_give_a_manifest_or_a_rejection(raw: bytes) -> None:
    parse_or_reject(raw)


@fuzz(400)
@given(st.data())
def test_damaged_manifests_give_a_manifest_or_a_rejection(data: st.DataObject) -> None:
    """Byte-level damage to a valid manifest: flips, cuts, insertions (much nearer the parser's edges than noise)."""
    raw = bytearray(GOOD.to_json())
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(raw)))
        op = data.draw(st.sampled_from(["set", "cut", "insert"]))
        if op == "set" and i < len(raw):
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[i:i + data.draw(st.integers(1, 40))]
        else:
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=8) | st.sampled_from(
                [b"[", b"{", b"\\u", b"\\ud800", b'"', b"1e400", b"9" * 5000, b"NaN", b"-", b"\xed\xa0\x80"]))
    parse_or_reject(bytes(raw))


@fuzz(600)
@given(st.sampled_from([*sorted(GOOD_DICT), "new_key"]), json_values | st.just(KeyError))
def test_any_json_value_at_any_key_gives_a_manifest_or_a_rejection(key: str, value: Any) -> None:
    d = dict(GOOD_DICT)
    if value is KeyError:
        d.pop(key, None)
    else:
        d[key] = value
    parse_or_reject(json.dumps(d).encode(), expected_id=GOOD.id)


@fuzz(300)
@given(st.sampled_from(sorted(GOOD_DICT)), number_literal)
def test_any_number_literal_at_any_key_gives_a_manifest_or_a_rejection(key: str, literal: str) -> None:
    d = dict(GOOD_DICT, **{key: "@@"})
    raw = json.dumps(d).encode().replace(b'"@@"', literal.encode())
    m = parse_or_reject(raw, expected_id=GOOD.id)
    if m is not None and len(literal) > 40:
        raise AssertionError(f"a {len(literal)}-character number was accepted")


@fuzz(300)
@given(st.sampled_from(sorted(GOOD_DICT)), st.sampled_from(["[", "{\"k\": "]), st.integers(20, 20000))
def test_nesting_at_any_key_gives_a_manifest_or_a_rejection(key: str, opener: str, depth: int) -> None:
    closer = "]" if opener == "[" else "}"
    d = dict(GOOD_DICT, **{key: "@@"})
    raw = json.dumps(d).encode().replace(b'"@@"', (opener * depth + "1" + closer * depth).encode())
    parse_or_reject(raw, expected_id=GOOD.id)


@fuzz(300)
@given(valid_manifests())
def test_valid_manifests_round_trip(m: Manifest) -> None:
    assert parse_or_reject(m.to_json(), expected_id=m.id) == m


# -- clip ids -----------------------------------------------------------------------------------------------------

def assert_id_contract(text: object) -> ClipId | None:
    try:
        cid = parse_clip_id(text)  # type: ignore[arg-type]
    except InvalidClipId as e:
        assert str(e).isascii() and len(str(e)) < 300
        return None
    assert isinstance(text, str) and str(cid) == text and text.isascii() and len(text) <= MAX_ID_LEN
    assert 2000 <= cid.started.year <= 2100 and cid.started.tzinfo == UTC and 0 <= cid.seq <= MAX_SEQ
    assert CAMERA_RE.fullmatch(cid.camera)
    return cid


@fuzz(500)
@given(any_text | st.text(any_char, min_size=MAX_ID_LEN - 2, max_size=MAX_ID_LEN + 2))
def test_any_text_gives_a_clip_id_or_a_rejection(text: str) -> None:
    assert_id_contract(text)


@fuzz(500)
@given(st.data())
def test_damaged_clip_ids_give_a_clip_id_or_a_rejection(data: st.DataObject) -> None:
    """Valid ids with characters replaced, inserted or removed: the cases near the pattern's edges."""
    text = list(data.draw(st.builds(make_clip_id, cameras, starts, seqs)))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text) - 1))
        c = data.draw(any_char | st.sampled_from(string.digits + "_TZ-"))
        op = data.draw(st.sampled_from(["set", "insert", "cut"]))
        if op == "set":
            text[i] = c
        elif op == "insert":
            text.insert(i, c)
        elif len(text) > 1:
            del text[i]
    assert_id_contract("".join(text))


@fuzz(300)
@given(cameras, st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2110, 1, 1),
                             timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)),
                                                        timezone(timedelta(hours=-12, minutes=-30))])), seqs)
def test_make_and_parse_round_trip(camera: str, started: datetime, seq: int) -> None:
    try:
        text = make_clip_id(camera, started, seq)
    except InvalidClipId:
        assert not 2000 <= started.astimezone(UTC).year <= 2100
        return
    utc = started.astimezone(UTC).replace(microsecond=0)
    assert assert_id_contract(text) == ClipId(camera, utc, seq)
    if (utc + timedelta(seconds=1)).year <= 2100:
        assert sorted([text, make_clip_id(camera, utc + timedelta(seconds=1), 0)])[0] == text  # sortable by time
