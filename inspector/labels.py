"""Clip labels: a user's verdict on a stored clip (a real event or a false alarm) with a note.

A label lives in a small JSON document beside its clip, ``<id>.label.json`` next to ``<id>.mp4``
(not ``<id>.json``: that is the manifest), and in the catalog's ``labels`` table, which
``catalog rebuild`` restores from these files. The file is written first (durably, atomically:
:func:`shared.atomic.atomic_write_bytes`), the catalog second, so a crash in between leaves the
file and a rebuild keeps the label.

    {"schema": 1, "label": "real", "note": "the postman", "labelled_at": "2026-11-22T05:18:25.123Z"}

:func:`parse_label` is total: any bytes give a :class:`Label` or raise :class:`InvalidLabel` with a
reason, never another exception. The file is size-capped (:data:`MAX_LABEL_BYTES`) and read with
:mod:`shared.bounded_json`; the note is one line of at most :data:`MAX_NOTE_CHARS` characters with no
control characters and no lone surrogates (so it can go into SQLite and a UTF-8 page as it is). The
writer builds its document through the same model, so what it writes always reads back.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from shared.atomic import atomic_write_bytes, fsync_dir
from shared.bounded_json import RejectedJSON, load_json, show
from shared.manifest import parse_utc, utc_iso
from shared.validation import Problem, Strict, checked_by, validate

LABELS = ("real", "false-alarm")
LABEL_WORDS = {"real": "real", "false-alarm": "false alarm", "none": "unlabelled"}  # as the report writes them
SCHEMA_VERSION = 1
MAX_NOTE_CHARS = 500
# The largest document the writer makes is well under this: 500 four-byte characters (the writer keeps
# non-ASCII as UTF-8) or 500 escaped quotes are 2,000 bytes, plus about 100 for the rest.
MAX_LABEL_BYTES = 4096
LABEL_SUFFIX = ".label.json"


class InvalidLabel(ValueError):
    """A label document (or a label about to be written) that is not acceptable; the message says why."""


@dataclass(frozen=True)
class Label:
    label: str  # one of LABELS
    note: str
    labelled_at: str  # UTC ISO 8601 with a Z (shared.manifest.utc_iso)


def _schema_problem(v: int) -> str | None:
    return None if v == SCHEMA_VERSION else f"unsupported schema {v}"


def _note_problem(v: str) -> str | None:
    for ch in v:
        kind = unicodedata.category(ch)
        if kind == "Cc":
            return f"must be one line of text without control characters, got {show(v)}"
        if kind == "Cs":
            return f"must be valid text (no lone surrogates), got {show(v)}"
    return None


def _time_problem(v: str) -> str | None:
    try:
        parse_utc(v)
    except ValueError as e:
        return f"is not an ISO 8601 UTC time in range: {show(v)} ({e})"
    return None


# field types of the label's words and its note, for every document that carries a label (labels.json too)
LabelWord = Literal["real", "false-alarm"]  # LABELS
Note = Annotated[str, Field(max_length=MAX_NOTE_CHARS), checked_by(_note_problem)]


class LabelDoc(Strict):
    """The label file's document (schema 1): the house's strict model, unknown keys refused."""

    schema_version: Annotated[int, checked_by(_schema_problem)] = Field(alias="schema")
    label: LabelWord
    note: Note
    labelled_at: Annotated[str, checked_by(_time_problem)]


def _checked(doc: object) -> Label:
    try:
        d = validate(LabelDoc, doc)
    except Problem as e:
        raise InvalidLabel(str(e).encode("ascii", "backslashreplace").decode("ascii")) from None
    return Label(d.label, d.note, d.labelled_at)


def new_label(label: str, note: str = "", *, now: datetime | None = None) -> Label:
    """A label made now (or at ``now``), checked as a document would be; :class:`InvalidLabel` if not acceptable."""
    when = utc_iso(now if now is not None else datetime.now(UTC))
    return _checked({"schema": SCHEMA_VERSION, "label": label, "note": note, "labelled_at": when})


def label_bytes(label: Label) -> bytes:
    """The document for ``label`` (checked first: :class:`InvalidLabel` if it would not read back)."""
    ok = _checked({"schema": SCHEMA_VERSION, "label": label.label, "note": label.note,
                   "labelled_at": label.labelled_at})
    raw = (json.dumps({"schema": SCHEMA_VERSION, "label": ok.label, "note": ok.note, "labelled_at": ok.labelled_at},
                      ensure_ascii=False, indent=1) + "\n").encode()
    assert len(raw) <= MAX_LABEL_BYTES, "the note's cap keeps every document under the file cap"
    return raw


def parse_label(raw: bytes) -> Label:
    """A label document's bytes as a :class:`Label`, or :class:`InvalidLabel` with the reason (total)."""
    try:
        doc = load_json(raw, max_bytes=MAX_LABEL_BYTES)
    except RejectedJSON as e:
        raise InvalidLabel(str(e)) from None
    if not isinstance(doc, dict):
        raise InvalidLabel("not a JSON object")
    return _checked(doc)


def label_path(clip: Path) -> Path:
    """The label file beside ``<dir>/<id>.mp4``: ``<dir>/<id>.label.json``."""
    return clip.with_name(f"{clip.stem}{LABEL_SUFFIX}")


def is_label_file(name: str) -> bool:
    """Whether a file name is a label file's (``<id>.label.json``), not a manifest or anything else."""
    return name.endswith(LABEL_SUFFIX) and "." not in name[:-len(LABEL_SUFFIX)]


def write_label(clip: Path, label: Label) -> None:
    """Write the clip's label file durably and atomically (a reader sees the old file or the new one)."""
    atomic_write_bytes(label_path(clip), label_bytes(label))


def clear_label(clip: Path) -> None:
    """Remove the clip's label file, durably; nothing to do if there is none."""
    path = label_path(clip)
    path.unlink(missing_ok=True)
    try:
        fsync_dir(path.parent)  # also when it was already gone: an earlier removal may not have been synced
    except FileNotFoundError:
        pass  # no folder, no label


def read_label(clip: Path) -> Label | None:
    """The clip's label from its file; None if there is none; :class:`InvalidLabel` if it is unreadable or
    not a label document."""
    try:
        with open(label_path(clip), "rb") as f:
            raw = f.read(MAX_LABEL_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise InvalidLabel(f"cannot be read: {e.strerror or e}") from None
    return parse_label(raw)
