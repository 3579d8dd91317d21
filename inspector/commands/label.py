"""``python -m inspector label CLIP real|false-alarm|none [--note TEXT] [--watcher NAME] --config FILE``.

Label a stored clip as a real event or a false alarm (``none`` clears its label), for ``inspector
tune`` to replay detection settings against. CLIP is a clip id, or the path of a clip file in the
library. The label file ``<id>.label.json`` beside the clip is written first (durably), then the
catalog, so a crash in between leaves the file and ``catalog rebuild`` keeps the label (see
inspector/labels.py). The report shows labels from its next build (``inspector report``, or the
next pull or analysis): it is not rebuilt here, labelling many clips in a row stays quick.

Exit 1, with one line saying why, for a clip that is unknown, not stored (downloading or
quarantined), whose file is missing, or whose id two watchers hold (say which with --watcher).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from inspector.catalog import DONE_STATES, Catalog, ClipRow
from inspector.commands.library import open_library
from inspector.labels import LABELS, InvalidLabel, clear_label, new_label, write_label
from inspector.library import Library
from shared.cli import UsageError
from shared.errors import AppError
from shared.naming import InvalidClipId, parse_clip_id

logger = logging.getLogger("inspector.label")

NONE = "none"


class LabelRefused(AppError):
    """The clip cannot be labelled (unknown, ambiguous, not stored); the message says which and why."""

    exit_code = 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("clip", metavar="CLIP", help="a clip id, or the path of a clip file in the library")
    p.add_argument("label", choices=[*LABELS, NONE], help=f"{NONE} clears the clip's label")
    p.add_argument("--note", default="", help="a line of text kept with the label")
    p.add_argument("--watcher", help="the watcher whose clip it is (when two hold the same id)")
    p.add_argument("--config", required=True)


def run(args: argparse.Namespace) -> int:
    if args.label == NONE and args.note:
        raise UsageError("--note goes with a label (real or false-alarm), not with none")
    label = None
    if args.label != NONE:
        try:
            label = new_label(args.label, args.note)
        except InvalidLabel as e:
            raise UsageError(str(e).replace("note:", "--note:", 1)) from None
    cfg = open_library(args.config)  # CatalogError included: a catalog damaged, lost or being rebuilt
    lib = Library(cfg.library)
    if not lib.catalog_path.exists():
        raise LabelRefused(f"{lib.root} has no catalog yet: pull some clips first")
    catalog = Catalog(lib.catalog_path)
    try:
        row = _clip_row(catalog, lib, args.clip, args.watcher)
        clip = lib.final(row.watcher, row.clip_id)
        if not clip.is_file():
            raise LabelRefused(f"{row.watcher}/{row.clip_id}: its file {clip} is missing "
                               "(python -m inspector catalog check)")
        # the file first (durable), then the catalog: a crash in between leaves the file, which a rebuild keeps
        if label is None:
            clear_label(clip)
        else:
            write_label(clip, label)
        catalog.set_label(row.watcher, row.clip_id, label)
    finally:
        catalog.close()
    what = (label.label + (f" ({label.note})" if label.note else "")) if label else "no label"
    logger.info("%s/%s: %s", row.watcher, row.clip_id, what)
    print(f"{row.watcher}/{row.clip_id}: {what}")
    return 0


def _clip_row(catalog: Catalog, lib: Library, clip: str, watcher: str | None) -> ClipRow:
    """The catalog's row of the clip CLIP names (an id, or a clip file in the library), if it can be labelled."""
    try:
        parse_clip_id(clip)
    except InvalidClipId:
        watcher, clip_id = _from_path(lib, Path(clip), watcher)
    else:
        clip_id = clip
    rows = [r for r in catalog.with_id(clip_id) if watcher is None or r.watcher == watcher]
    if not rows:
        raise LabelRefused(f"unknown clip {clip_id}" + (f" of watcher {watcher}" if watcher else "")
                           + ": it is not in the catalog")
    if len(rows) > 1:
        names = " and ".join(r.watcher for r in rows)
        raise LabelRefused(f"clip id {clip_id} is held by watchers {names}: say which with --watcher")
    row = rows[0]
    if row.state not in DONE_STATES:
        why = f" ({row.reason[:200]})" if row.state == "quarantined" and row.reason else ""
        raise LabelRefused(f"{row.watcher}/{row.clip_id} is {row.state}{why}: only a stored clip can be labelled")
    return row


def _from_path(lib: Library, path: Path, watcher: str | None) -> tuple[str, str]:
    """(watcher, clip id) of a clip file in the library: ``clips/<watcher>/...`` or ``quarantine/<watcher>/``."""
    if not path.name.endswith(".mp4"):
        raise LabelRefused(f"{str(path)[:200]!r} is neither a clip id nor a clip file (<id>.mp4)")
    if not path.is_file():
        raise LabelRefused(f"no clip file {path}")
    try:
        rel = path.resolve().relative_to(lib.root.resolve())
    except (ValueError, OSError):
        raise LabelRefused(f"{path} is not in the library {lib.root}") from None
    clip_id = path.name[:-len(".mp4")]
    try:
        parse_clip_id(clip_id)
    except InvalidClipId:
        raise LabelRefused(f"{path} is not a clip of the library (not named <id>.mp4)") from None
    if len(rel.parts) < 3 or rel.parts[0] not in ("clips", "quarantine"):
        raise LabelRefused(f"{path} is not a clip of the library (not under clips/ or quarantine/)")
    if watcher is not None and watcher != rel.parts[1]:
        raise LabelRefused(f"{path} is watcher {rel.parts[1]}'s clip, not {watcher}'s")
    return rel.parts[1], clip_id
