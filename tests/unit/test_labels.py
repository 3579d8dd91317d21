"""Clip labels (inspector/labels.py): the document's rules, named cases, and totality of the parser.

The contract of :func:`parse_label` is the manifest's: for *any* bytes a :class:`Label` or
:class:`InvalidLabel`, never another exception; and what it accepts can go into SQLite and a UTF-8
page as it is (one line, no control characters, no lone surrogates, capped). Runs are derandomized.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.labels import (
    LABELS,
    MAX_LABEL_BYTES,
    MAX_NOTE_CHARS,
    InvalidLabel,
    Label,
    clear_label,
    label_bytes,
    label_path,
    new_label,
    parse_label,
    read_label,
    write_label,
)
from shared.manifest import parse_utc

WHEN = "2026-11-22T05:18:25.123Z"


def doc(**change: Any) -> bytes:
    d: dict[str, Any] = {"schema": 1, "label": "real", "note": "the postman", "labelled_at": WHEN}
    d.update(change)
    return json.dumps({k: v for k, v in d.items() if v is not ...}).encode()


def test_a_label_reads_back_exactly_as_written() -> None:
    for word in LABELS:
        for note in ("", "the postman", 'a "quoted" \\ note ☃ 😀', "x" * MAX_NOTE_CHARS):
            label = new_label(word, note, now=datetime(2026, 11, 22, 5, 18, 25, 123000, tzinfo=UTC))
            assert label == Label(word, note, WHEN)
            assert parse_label(label_bytes(label)) == label


def test_the_largest_notes_stay_under_the_file_cap() -> None:
    for ch in ('"', "\\", "😀", "☃", "\u2028"):
        assert len(label_bytes(new_label("false-alarm", ch * MAX_NOTE_CHARS))) <= MAX_LABEL_BYTES


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "not JSON"),
    (b"[]", "not a JSON object"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"{" * 40 + b"}" * 40, "nested deeper"),
    (b" " * (MAX_LABEL_BYTES + 1), "byte cap"),
    (doc(schema=2), "schema: unsupported schema 2"),
    (doc(schema=True), "schema: expected an integer"),
    (doc(schema=...), "schema: is required"),
    (doc(label="maybe"), "label: must be one of"),
    (doc(label=...), "label: is required"),
    (doc(note=...), "note: is required"),
    (doc(note=None), "note: expected a string"),
    (doc(note="x" * (MAX_NOTE_CHARS + 1)), "note: must have at most 500 characters"),
    (doc(note="two\nlines"), "note: must be one line"),
    (doc(note="bell\x07"), "note: must be one line"),
    (doc(note="\x85"), "note: must be one line"),
    (b'{"schema":1,"label":"real","note":"\\ud800","labelled_at":"' + WHEN.encode() + b'"}', "note:"),
    (doc(labelled_at="yesterday"), "labelled_at: is not an ISO 8601 UTC time"),
    (doc(labelled_at="0001-01-01T00:00:00Z"), "labelled_at: is not an ISO 8601 UTC time"),
    (doc(labelled_at="2026-11-22T05:18:25+02:00"), "labelled_at: is not an ISO 8601 UTC time"),
    (doc(extra=1), "extra: unknown key"),
    (b'{"schema":1,"schema":1,"label":"real","note":"","labelled_at":"' + WHEN.encode() + b'"}', "appears twice"),
])
def test_bad_documents_are_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidLabel) as e:
        parse_label(raw)
    assert reason in str(e.value)
    assert str(e.value).isascii()


def test_a_label_that_would_not_read_back_is_never_written(tmp_path: Path) -> None:
    clip = tmp_path / "cam1_20261122T051825Z_0001.mp4"
    with pytest.raises(InvalidLabel):
        new_label("maybe")
    with pytest.raises(InvalidLabel):
        new_label("real", "line\nbreak")
    with pytest.raises(InvalidLabel):
        write_label(clip, Label("real", "", "not a time"))
    assert list(tmp_path.iterdir()) == []


def test_label_file_is_beside_the_clip_and_not_its_manifest(tmp_path: Path) -> None:
    clip = tmp_path / "cam1_20261122T051825Z_0001.mp4"
    assert label_path(clip) == tmp_path / "cam1_20261122T051825Z_0001.label.json"
    assert label_path(clip) != clip.with_suffix(".json")
    assert read_label(clip) is None
    label = new_label("real", "cat")
    write_label(clip, label)
    assert read_label(clip) == label and [p.name for p in tmp_path.iterdir()] == [label_path(clip).name]
    write_label(clip, new_label("false-alarm"))
    assert read_label(clip) == Label("false-alarm", "", read_label(clip).labelled_at)  # type: ignore[union-attr]
    clear_label(clip)
    clear_label(clip)  # nothing to clear: no error
    clear_label(tmp_path / "gone" / clip.name)  # not even a folder: no error
    assert read_label(clip) is None and list(tmp_path.iterdir()) == []


def test_an_oversized_label_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    clip = tmp_path / "cam1_20261122T051825Z_0001.mp4"
    label_path(clip).write_bytes(b" " * (10 * MAX_LABEL_BYTES) + doc())
    with pytest.raises(InvalidLabel, match="byte cap"):
        read_label(clip)


# -- totality -------------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)
# Mostly valid fields, each sometimes wrong or missing, so that both outcomes are well exercised.
fields = {"schema": st.sampled_from([1, 1, 1, 2, True, 1.0, "1", None]),
          "label": st.sampled_from([*LABELS, *LABELS, "REAL", "", None, 1]),
          "note": st.text(max_size=40) | st.text(min_size=MAX_NOTE_CHARS - 2, max_size=MAX_NOTE_CHARS + 2) | st.none(),
          "labelled_at": st.sampled_from([WHEN, "2026-11-22T05:18:25Z", "2026-11-22T05:18:25.5+00:00", "", None,
                                          "9999-12-31T23:59:59Z", "2026-02-30T00:00:00Z"])}
near_documents = st.one_of(
    st.fixed_dictionaries(fields),
    st.fixed_dictionaries({}, optional={**fields, "extra": json_values}),
).map(lambda d: json.dumps(d, ensure_ascii=False).encode())
any_bytes = st.one_of(st.binary(max_size=MAX_LABEL_BYTES + 10), near_documents,
                      json_values.map(lambda v: json.dumps(v).encode()))


@settings(max_examples=600, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(any_bytes)
def test_any_bytes_give_a_label_or_invalid_label(raw: bytes) -> None:
    try:
        label = parse_label(raw)
    except InvalidLabel as e:
        assert str(e) and str(e).isascii()
        return
    assert label.label in LABELS
    assert len(label.note) <= MAX_NOTE_CHARS
    label.note.encode("utf-8")  # no lone surrogates: it goes into SQLite and a UTF-8 page as it is
    assert all(ch >= " " and not "\x7f" <= ch <= "\x9f" for ch in label.note)
    parse_utc(label.labelled_at)
    assert parse_label(label_bytes(label)) == label



one_line = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=MAX_NOTE_CHARS)
valid_documents = st.fixed_dictionaries({
    "schema": st.just(1), "label": st.sampled_from(LABELS), "note": one_line,
    "labelled_at": st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31),
                                timezones=st.just(UTC)).map(lambda t: t.isoformat().replace("+00:00", "Z"))})


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(valid_documents, st.booleans())
def test_every_valid_document_is_accepted(d: dict[str, Any], ascii_only: bool) -> None:
    raw = json.dumps(d, ensure_ascii=ascii_only).encode()
    if len(raw) > MAX_LABEL_BYTES:  # only \uXXXX escapes of a long note get here (the writer keeps UTF-8)
        assert ascii_only
        with pytest.raises(InvalidLabel, match="byte cap"):
            parse_label(raw)
        return
    label = parse_label(raw)
    assert label == Label(d["label"], d["note"], d["labelled_at"])
    assert parse_label(label_bytes(label)) == label
