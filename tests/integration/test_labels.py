"""``python -m inspector label``: real clips (the real watcher's, pulled by the real puller), the real CLI in
a subprocess, the label files and the real SQLite catalog; ``catalog rebuild`` and ``catalog check`` with
labels (one crash between the file and the catalog, one corrupt label file, an explain replay beside a
clip); library retention taking a clip's label with it.

The library (test_catalog_rebuild's): pi1's clips pulled and analyzed; pi2's (the same ids) pulled and
acknowledged, and one quarantined for a sha256 mismatch.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from inspector.catalog import Catalog, LabelledClip
from inspector.labels import Label, label_path, parse_label, write_label
from shared.manifest import parse_utc
from tests.integration.test_analysis import copy_library, pull_into_library, synthetic_session
from tests.integration.test_catalog_rebuild import inspector, pulled, rows

__all__ = ["pulled"]  # a fixture


def copy_of(pulled: tuple[Path, Path], tmp: Path) -> tuple[Path, Path]:
    """A copy of the library and a config naming it."""
    library = copy_library(pulled[0], tmp / "library")
    cfg = tmp / "inspector.toml"
    cfg.write_text(pulled[1].read_text().replace(str(pulled[0]), str(library)))
    return library, cfg


def clips_of(library: Path, watcher: str) -> list[Path]:
    return sorted(library.glob(f"clips/{watcher}/*/*/*.mp4"))


def labels_in(library: Path) -> dict[tuple[str, str], Label]:
    cat = Catalog(library / "catalog.sqlite3")
    try:
        return cat.labels()
    finally:
        cat.close()


def labelled_in(library: Path, **where: str) -> list[LabelledClip]:
    cat = Catalog(library / "catalog.sqlite3")
    try:
        return cat.labelled(**where)
    finally:
        cat.close()


def label(cfg: Path, *args: str) -> tuple[int, str, str]:
    r = inspector("label", *args, "--config", str(cfg))
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    return r.returncode, r.stdout, r.stderr


def one_error_line(stderr: str) -> str:
    [line] = stderr.strip().splitlines()
    assert " ERROR inspector.label: " in line, line
    return line


def test_label_a_clip_by_path_or_id_relabel_and_clear_it(pulled, tmp_path: Path) -> None:
    library, cfg = copy_of(pulled, tmp_path)
    a, b = clips_of(library, "pi1")[0], clips_of(library, "pi2")[1]
    t0 = datetime.now(UTC)
    code, out, err = label(cfg, str(a), "real", "--note", "the postman, at 9")
    assert code == 0 and out == f"pi1/{a.stem}: real (the postman, at 9)\n", err
    on_file = parse_label(label_path(a).read_bytes())
    assert (on_file.label, on_file.note) == ("real", "the postman, at 9")
    assert on_file.labelled_at.endswith("Z") and abs((parse_utc(on_file.labelled_at) - t0).total_seconds()) < 60
    assert labels_in(library) == {("pi1", a.stem): on_file}

    code, out, err = label(cfg, b.stem, "false-alarm", "--watcher", "pi2")  # by id: pi1 holds it too
    assert code == 0 and out == f"pi2/{b.stem}: false-alarm\n", err
    [first, second] = labelled_in(library)  # oldest first: a is the earlier clip
    assert (first.watcher, first.clip_id, first.camera, first.state, first.label, first.note) == (
        "pi1", a.stem, "cam1", "analyzed", "real", "the postman, at 9")
    assert first.analysis_path and Path(first.analysis_path).name == f"{a.stem}.analysis.json"
    assert first.local_path and Path(first.local_path).name == a.name and first.started_at
    assert (second.watcher, second.clip_id, second.state, second.label, second.note, second.analysis_path) == (
        "pi2", b.stem, "acked", "false-alarm", "", None)
    assert first.started_at < second.started_at  # type: ignore[operator]
    assert [c.clip_id for c in labelled_in(library, watcher="pi2")] == [b.stem]
    assert labelled_in(library, camera="cam1", watcher="pi1") == [first] and labelled_in(library, camera="yard") == []

    code, _, err = label(cfg, str(a), "false-alarm")  # relabelled: the file and the catalog follow
    assert code == 0, err
    assert parse_label(label_path(a).read_bytes()) == labels_in(library)[("pi1", a.stem)]
    assert labels_in(library)[("pi1", a.stem)].label == "false-alarm"

    for _ in range(2):  # none clears it; clearing again is no error
        code, out, err = label(cfg, a.stem, "none", "--watcher", "pi1")
        assert code == 0 and out == f"pi1/{a.stem}: no label\n", err
        assert not label_path(a).exists() and set(labels_in(library)) == {("pi2", b.stem)}


def test_a_bad_note_is_a_usage_error_and_nothing_is_written(pulled, tmp_path: Path) -> None:
    library, cfg = copy_of(pulled, tmp_path)
    a = clips_of(library, "pi1")[0]
    for args in (["real", "--note", "two\nlines"], ["real", "--note", "x" * 501], ["none", "--note", "why"],
                 ["maybe"]):
        code, _, err = label(cfg, str(a), *args)
        assert code == 2 and "usage:" in err, (args, err)
    assert not list(library.rglob("*.label.json")) and labels_in(library) == {}


def test_what_cannot_be_labelled_is_refused_in_one_line(pulled, tmp_path: Path) -> None:
    library, cfg = copy_of(pulled, tmp_path)
    a = clips_of(library, "pi1")[0]
    quarantined = next(library.glob("quarantine/pi2/*.mp4"))
    outside = tmp_path / a.name
    shutil.copy(a, outside)
    cat = Catalog(library / "catalog.sqlite3")
    downloading = "cam1_20300101T000000Z_0001"
    cat.begin_download("pi1", downloading, "cam1", 1000, "0" * 64, "2030-01-01T00:00:00.000Z",
                       "2030-01-01T00:00:05.000Z")
    cat.close()
    refused = {
        (a.stem,): f"clip id {a.stem} is held by watchers pi1 and pi2: say which with --watcher",
        (quarantined.stem,): f"pi2/{quarantined.stem} is quarantined (",
        (str(quarantined),): f"pi2/{quarantined.stem} is quarantined (",
        (quarantined.stem, "--watcher", "pi1"): f"unknown clip {quarantined.stem} of watcher pi1",
        ("cam1_20990101T000000Z_0001",): "unknown clip cam1_20990101T000000Z_0001: it is not in the catalog",
        (downloading, "--watcher", "pi1"): f"pi1/{downloading} is downloading: only a stored clip can be labelled",
        (str(outside),): f"{outside} is not in the library {library}",
        (str(a), "--watcher", "pi2"): "is watcher pi1's clip, not pi2's",
        (str(library / "catalog.sqlite3"),): "is neither a clip id nor a clip file",
        (str(a.with_name("cam1_20990101T000000Z_0001.mp4")),): "no clip file",
    }
    for args, message in refused.items():
        code, out, err = label(cfg, args[0], "real", *args[1:])
        assert code == 1 and out == "", (args, code, err)
        assert message in one_error_line(err), (args, err)
    assert not list(library.rglob("*.label.json")) and labels_in(library) == {}


def test_rebuild_restores_labels_from_their_files_and_reports_a_corrupt_one(pulled, tmp_path: Path) -> None:
    library, cfg = copy_of(pulled, tmp_path)
    a, d = clips_of(library, "pi1")[:2]
    b, c = clips_of(library, "pi2")[:2]
    assert label(cfg, str(a), "real", "--note", "a fox")[0] == 0
    assert label(cfg, str(b), "false-alarm", "--note", "rain")[0] == 0
    crashed = Label("real", "written, then the catalog was not", "2026-11-22T05:18:25.123Z")
    write_label(c, crashed)  # a crash between the label file and the catalog
    label_path(d).write_bytes(b'{"schema": 1, "label": "real", "no')  # cut short
    shutil.copy(a, a.with_name(f"{a.stem}.explain.mp4"))  # python -m watcher explain's replay beside a clip
    before_rows, before_labels = rows(library), labels_in(library)

    check = inspector("catalog", "check", "--config", str(cfg))
    assert check.returncode == 1, check.stdout + check.stderr[-2000:]
    assert f"pi2/{c.stem}: the catalog's label is none, its label file's real (2026-11-22T05:18:25.123Z)" \
        in check.stdout
    assert f"{d.stem}.label.json: not restored: not JSON" in check.stdout and "label the clip again" in check.stdout
    assert "left alone" not in check.stdout, "labels and explain replays are the library's own files"

    r = inspector("catalog", "rebuild", "--json", "--config", str(cfg))
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    rep = json.loads(r.stdout)
    assert rep["labels"] == 3 and rep["strays"] == [] and rep["quarantined_now"] == []
    [bad] = rep["bad_labels"]
    assert bad.startswith("clips/pi1/cam1/") and f"/{d.stem}.label.json: not restored: not JSON" in bad
    assert f"{d.stem}.label.json" in r.stderr, "and in the log"
    after = labels_in(library)
    assert after == {**before_labels, ("pi2", c.stem): crashed}
    assert rows(library)[("pi1", d.stem)] == before_rows[("pi1", d.stem)], "the clip itself is restored as it was"
    assert label_path(d).read_bytes().startswith(b'{"schema": 1'), "the corrupt file is left alone"
    text = inspector("catalog", "rebuild", "--config", str(cfg))  # what a person reads says so too
    assert text.returncode == 0 and "labels restored: 3" in text.stdout, text.stdout + text.stderr[-3000:]
    assert f"label NOT restored: {bad} (label the clip again)" in text.stdout

    assert label(cfg, str(d), "real")[0] == 0  # labelled again: the file is whole, everything agrees
    check = inspector("catalog", "check", "--config", str(cfg))
    assert check.returncode == 0 and "all in agreement" in check.stdout, check.stdout + check.stderr[-2000:]


def test_an_older_catalog_gains_the_labels_table(pulled, tmp_path: Path) -> None:
    library, cfg = copy_of(pulled, tmp_path)
    db = sqlite3.connect(library / "catalog.sqlite3")
    db.execute("DROP TABLE labels")  # as a catalog made before labels
    db.commit()
    db.close()
    a = clips_of(library, "pi1")[0]
    code, _, err = label(cfg, str(a), "real")
    assert code == 0, err
    assert set(labels_in(library)) == {("pi1", a.stem)}


def test_retention_removes_a_clip_with_its_label(tmp_path_factory, tmp_path: Path) -> None:
    _, _, recorded = synthetic_session(tmp_path_factory)
    library = pull_into_library(tmp_path, recorded)
    cfg = tmp_path / "inspector.toml"
    clips = clips_of(library, "pi1")
    assert len(clips) >= 2
    newest = max(clips, key=lambda p: p.stem)
    for clip in clips:
        assert label(cfg, str(clip), "real" if clip == newest else "false-alarm", "--note", "n")[0] == 0
    cap_gb = (sum(p.stat().st_size for p in newest.parent.glob(f"{newest.stem}.*")) + 2000) / 1024**3
    cfg.write_text(cfg.read_text() + f"\n[cleanup]\nmax_usage_gb = {cap_gb}\n")
    r = inspector("cleanup", "--json", "--config", str(cfg))
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(json.loads(r.stdout)["removed_clips"]) == sorted(p.stem for p in clips if p != newest)
    assert sorted(p.name for p in library.glob("clips/pi1/*/*/*")) == sorted(
        [newest.name, newest.with_suffix(".json").name, label_path(newest).name])
    assert set(labels_in(library)) == {("pi1", newest.stem)}, "a removed clip's label goes with its row"
    check = inspector("catalog", "check", "--config", str(cfg))
    assert check.returncode == 0 and "all in agreement" in check.stdout, check.stdout + check.stderr[-2000:]
