"""Clip analysis on real files with real FFmpeg: synthetic clips from the real watcher (known ground
truth), real footage with people (vtest.avi) and the same street empty, damaged clips quarantined."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from inspector.__main__ import main as inspector_main
from inspector.analysis import ANALYZER_VERSION, AnalyzerSettings, analyze_pending, analyze_video
from inspector.analysis.worker import init_worker
from inspector.catalog import ANALYSIS_COLUMNS, Catalog
from inspector.config import load_config
from inspector.fleet import pull_all
from inspector.labels import new_label, write_label
from inspector.report import build_report
from shared.manifest import parse_manifest, sha256_file
from tests.clips import write_video
from tests.footage import footage_path
from tests.inspector_env import big_clip, copy_clips, write_config
from tests.nuisance import background_plate, read_frames, sensor_noise
from watcher.config import GeneralSettings, WatcherConfig
from watcher.pipeline import run_watcher
from watcher.sources.synthetic import SceneObject, SyntheticSource

# People detection is not what the synthetic clips are for: look for big people only (no upscaling),
# and not often, so the suite stays quick. The real-footage tests use the defaults but fewer samples.
FAST = AnalyzerSettings(people_interval_s=1.0, idle_people_interval_s=4.0, people_min_frac=0.3)
VTEST_FPS = 10.0


def copy_library(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def local_watcher(name: str, remote: Path) -> str:
    return f'[[watcher]]\nname = "{name}"\ntransport = "local"\nremote_dir = "{remote}"\n'


def pull_into_library(tmp: Path, recorded: Path) -> Path:
    """Pull a recorded_clips/ directory into a new library with the real puller (local transport)."""
    remote = tmp / "pi" / "recorded_clips"
    copy_clips(recorded, remote)
    library = tmp / "library"
    cfg = write_config(tmp / "inspector.toml", library, [local_watcher("pi1", remote)])
    results = pull_all(load_config(str(cfg)))
    assert results[0].error is None and not results[0].stats[0].skipped
    return library


_SESSION: dict[str, object] = {}  # built once per session, shared with the report tests


def synthetic_session(factory: pytest.TempPathFactory) -> tuple[list[SceneObject], list, Path]:
    """The real watcher on a synthetic scene whose walkers we know: (objects, manifests, recorded_clips)."""
    if "run" not in _SESSION:
        data = factory.mktemp("analysis-watcher")
        source = SyntheticSource(seed=5, duration_s=22.0, first_event_s=2.0, event_period_s=11.0)
        cfg = WatcherConfig(watcher=GeneralSettings(data_dir=str(data), camera="cam1"))
        manifests = run_watcher(cfg, source=source).clips
        assert len(manifests) >= 2
        _SESSION["run"] = (source.objects, manifests, data / "recorded_clips")
    return _SESSION["run"]  # type: ignore[return-value]


def analyzed_session(factory: pytest.TempPathFactory) -> Path:
    """A library holding the synthetic clips, pulled and analyzed. Tests that change it work on a copy."""
    if "library" not in _SESSION:
        _, _, recorded = synthetic_session(factory)
        library = pull_into_library(factory.mktemp("analysis-lib"), recorded)
        summary = analyze_pending(library, workers=2, settings=FAST)
        assert not summary.failed and not summary.quarantined
        _SESSION["library"] = library
    return _SESSION["library"]  # type: ignore[return-value]


@pytest.fixture
def synthetic_run(tmp_path_factory) -> tuple[list[SceneObject], list, Path]:
    return synthetic_session(tmp_path_factory)


@pytest.fixture
def analyzed_library(tmp_path_factory) -> Path:
    return analyzed_session(tmp_path_factory)


def test_synthetic_motion_periods_are_where_the_walkers_are(analyzed_library: Path, synthetic_run) -> None:
    objects, manifests, _ = synthetic_run
    cat = Catalog(analyzed_library / "catalog.sqlite3")
    rows = {r.clip_id: r for r in cat.analyzed()}
    cat.close()
    assert set(rows) == {m.id for m in manifests}
    for m in manifests:
        clip = next(analyzed_library.glob(f"clips/*/cam1/*/{m.id}.mp4"))
        data = json.loads(clip.with_name(f"{m.id}.analysis.json").read_text())
        assert data["analyzer_version"] == ANALYZER_VERSION and data["sha256"] == m.sha256
        assert data["video"]["frames"] == m.frames and (data["video"]["width"], data["video"]["height"]) == (640, 360)
        row = rows[m.id]
        assert row.analyzer_version == ANALYZER_VERSION and abs(row.duration_s - m.duration_s) < 0.1
        for name in ("thumb", "sheet"):
            assert (clip.parent / data["stills"][name]).read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG
        # ground truth in clip time: each walker's visible interval, clipped to the clip
        truth = [(max(o.start_s - m.media_start_s, 0.0), min(o.end_s - m.media_start_s, m.duration_s), o)
                 for o in objects if o.end_s > m.media_start_s and o.start_s < m.media_start_s + m.duration_s]
        truth = [t for t in truth if t[1] - t[0] > 0.3]
        segments = data["motion"]["segments"]
        assert truth, "every watcher clip holds a walker"
        for start, end, _ in truth:  # every walker's time is covered by a motion segment
            covered = any(s["start_s"] <= start + 0.3 and s["end_s"] >= end - 0.3 for s in segments)
            assert covered, (start, end, segments)
        for s in segments:  # and every segment is a walker's time, with its box around the walker
            hit = [o for start, end, o in truth if s["start_s"] < end + 0.2 and s["end_s"] > start - 0.2]
            assert hit, (m.id, s, truth)
            t_mid = m.media_start_s + (max(s["start_s"], hit[0].start_s - m.media_start_s)
                                       + min(s["end_s"], hit[0].end_s - m.media_start_s)) / 2
            cx, cy = hit[0].position(t_mid)
            x, y, w, h = s["box"]
            assert x - 0.02 <= cx <= x + w + 0.02 and y - 0.02 <= cy <= y + h + 0.02, (s, cx, cy)
        thumb_t = data["stills"]["thumb_t"]  # the most active frame shows a walker
        assert any(start <= thumb_t <= end for start, end, _ in truth), (thumb_t, truth)


def test_analysis_is_idempotent_and_reanalyzes_old_versions_on_request(analyzed_library: Path, tmp_path: Path) -> None:
    analyzed_library = copy_library(analyzed_library, tmp_path / "library")
    assert analyze_pending(analyzed_library, workers=2, settings=FAST).analyzed == []
    cat = Catalog(analyzed_library / "catalog.sqlite3")
    old = min(cat.analyzed(), key=lambda r: r.duration_s or 0).clip_id  # the shortest: quickest to redo
    cat.close()
    db = sqlite3.connect(analyzed_library / "catalog.sqlite3")  # as if an older analyzer had done this one
    db.execute("UPDATE clips SET analyzer_version=0 WHERE clip_id=?", (old,))
    db.commit()
    db.close()
    assert analyze_pending(analyzed_library, workers=2, settings=FAST).analyzed == []
    again = analyze_pending(analyzed_library, workers=1, reanalyze=True, settings=FAST)
    assert again.analyzed == [old] and again.media_s > 0
    cat = Catalog(analyzed_library / "catalog.sqlite3")
    assert {r.analyzer_version for r in cat.analyzed()} == {ANALYZER_VERSION}
    cat.close()


def test_a_result_on_disk_but_not_in_the_catalog_is_recorded_without_reanalysis(analyzed_library: Path,
                                                                                 tmp_path: Path) -> None:
    """A crash after the workers wrote <id>.analysis.json but before the catalog heard of it."""
    library = copy_library(analyzed_library, tmp_path / "library")
    db = sqlite3.connect(library / "catalog.sqlite3")
    db.execute("UPDATE clips SET state='acked', analyzer_version=NULL")
    db.commit()
    db.close()
    before = {p: p.stat().st_mtime_ns for p in library.glob("clips/*/cam1/*/*.analysis.json")}
    summary = analyze_pending(library, workers=1, settings=FAST)
    assert len(summary.analyzed) == len(before) and summary.media_s > 0
    assert {p: p.stat().st_mtime_ns for p in library.glob("clips/*/cam1/*/*.analysis.json")} == before


@pytest.fixture(scope="module")
def street(tmp_path_factory) -> dict[str, object]:
    """Four seconds of vtest.avi with people walking, and three seconds of the same street empty."""
    tmp = tmp_path_factory.mktemp("street")
    vtest = footage_path("vtest.avi")
    frames = read_frames(vtest, limit=140)[100:]
    plate = background_plate(read_frames(vtest, step=16, limit=50))
    people = write_video(tmp / "people.mp4", frames, VTEST_FPS)
    empty = write_video(tmp / "empty.mp4", list(sensor_noise([plate] * 30, sigma=2.5, seed=3)), VTEST_FPS)
    # analyzed the way the inspector does it: in pool workers (one BLAS thread each), both at once
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver"), initializer=init_worker) as pool:
        busy = pool.submit(analyze_video, people, AnalyzerSettings(people_interval_s=1.0))
        quiet = pool.submit(analyze_video, empty)
        results = {"people_analysis": busy.result(), "empty_analysis": quiet.result()}
    return {"frames": frames, "plate": plate, "people": people, "empty": empty, **results}


def test_people_are_found_where_people_are(street: dict) -> None:
    a = street["people_analysis"]
    video, people = a.data["video"], a.data["people"]
    assert (video["width"], video["height"], video["frames"], video["fps"]) == (768, 576, 40, 10.0)
    assert abs(video["duration_s"] - 4.0) < 0.01
    assert people["peak"] >= 3, people
    assert people["per_second"] and max(people["per_second"]) == people["peak"]
    assert a.stills.people is not None and a.stills.people[:3] == b"\xff\xd8\xff"
    # every box is on something that is not the empty street: a person
    frame = street["frames"][round(people["best_t"] * VTEST_FPS)].astype(np.int16)
    foreground = np.abs(frame - street["plate"].astype(np.int16)).max(axis=2) > 40
    for x, y, w, h, _ in people["boxes"]:
        x0, y0, x1, y1 = int(x * 768), int(y * 576), int((x + w) * 768), int((y + h) * 576)
        assert foreground[y0:y1, x0:x1].mean() > 0.15, (x, y, w, h)
    assert a.data["motion"]["segments"], "people walking are motion"


def test_the_empty_street_has_no_people_and_no_motion(street: dict) -> None:
    a = street["empty_analysis"]
    assert a.data["people"]["peak"] == 0 and a.data["people"]["boxes"] == [] and a.stills.people is None
    assert a.data["people"]["sampled"] >= 2
    assert a.data["motion"]["segments"] == [] and a.data["motion"]["active_s"] == 0


def test_analyze_cli_prints_json_and_fails_for_a_file_that_is_no_video(street: dict, tmp_path: Path, capsys) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(5000))
    assert inspector_main(["analyze", "--json", "--workers", "2", str(street["empty"]), str(junk)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out[0]["video"]["frames"] == 30 and out[0]["people"]["peak"] == 0
    assert "does not decode" in out[1]["error"]


def test_damaged_clips_are_quarantined_with_the_reason(tmp_path: Path, synthetic_run) -> None:
    _, manifests, recorded = synthetic_run
    pi = tmp_path / "recorded"
    pi.mkdir()
    good, short = manifests[0], manifests[1]
    for m in (good, short):
        for suffix in (".mp4", ".json"):
            (pi / f"{m.id}{suffix}").write_bytes((recorded / f"{m.id}{suffix}").read_bytes())
    # a clip cut short, whose manifest the watcher wrote for the cut file (size and sha256 agree)
    data = (pi / f"{short.id}.mp4").read_bytes()
    (pi / f"{short.id}.mp4").write_bytes(data[: len(data) * 6 // 10])
    size, sha = sha256_file(pi / f"{short.id}.mp4")
    (pi / f"{short.id}.json").write_bytes(short.model_copy(update={"size": size, "sha256": sha}).to_json())
    noise = big_clip(pi, "cam2_20260101T000000Z_0001", 200_000)  # random bytes, valid manifest
    library = pull_into_library(tmp_path, pi)
    damaged = next(library.glob(f"clips/*/cam1/*/{good.id}.mp4"))  # the disk corrupts a verified clip
    with open(damaged, "r+b") as f:
        f.seek(100_000)
        f.write(b"\0" * 4096)
    write_label(damaged, new_label("real"))  # labelled before its analysis: the label goes with it
    cat = Catalog(library / "catalog.sqlite3")
    cat.set_label("pi1", good.id, new_label("real"))
    cat.close()
    summary = analyze_pending(library, workers=2, settings=FAST)
    assert summary.analyzed == [] and not summary.failed
    reasons = summary.quarantined
    assert set(reasons) == {good.id, short.id, noise.id}
    assert reasons[noise.id].startswith("does not decode: FFmpeg cannot open the file")
    assert reasons[short.id].startswith(("disagrees with its manifest: decoded", "does not decode")), reasons[short.id]
    assert f"manifest {short.frames}" in reasons[short.id] or "does not decode" in reasons[short.id]
    assert reasons[good.id].startswith("changed since it was verified")
    cat = Catalog(library / "catalog.sqlite3")
    for cid, reason in reasons.items():
        row = cat.get("pi1", cid)
        assert row is not None and row.state == "quarantined" and row.reason == reason
        q = library / "quarantine" / "pi1"
        assert (q / f"{cid}.mp4").exists() and (q / f"{cid}.reason.txt").read_text().strip() == reason
        assert parse_manifest((q / f"{cid}.json").read_bytes(), expected_id=cid)
        assert not list(library.glob(f"clips/*/*/*/{cid}*")), "nothing of it is left in the library"
    assert cat.labels() == {}
    cat.close()
    assert analyze_pending(library, workers=2, settings=FAST).quarantined == {}  # done with them
    index = build_report(library).read_text()
    assert all(reason.split(":")[0] in index for reason in reasons.values()) and "3 quarantined" in index


def test_catalog_migrates_an_old_database_in_place(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE clips (watcher TEXT NOT NULL, clip_id TEXT NOT NULL, camera TEXT NOT NULL, "
               "state TEXT NOT NULL, size INTEGER, sha256 TEXT, started_at TEXT, ended_at TEXT, local_path TEXT, "
               "reason TEXT, attempts INTEGER NOT NULL DEFAULT 0, first_seen REAL NOT NULL, updated REAL NOT NULL, "
               "stored_at REAL, acked_at REAL, PRIMARY KEY (watcher, clip_id))")
    db.execute("INSERT INTO clips (watcher, clip_id, camera, state, first_seen, updated, started_at) "
               "VALUES ('w', 'cam1_20260101T000000Z_0001', 'cam1', 'acked', 0, 0, '2026-01-01T00:00:00Z')")
    db.commit()
    db.close()
    cat, again = Catalog(path), Catalog(path)  # two connections migrating: no duplicate-column error
    cols = {r[1] for r in cat.db.execute("PRAGMA table_info(clips)")}
    assert {name for name, _ in ANALYSIS_COLUMNS} <= cols
    assert [r.clip_id for r in cat.clips_to_analyze(1)] == ["cam1_20260101T000000Z_0001"]
    assert cat.mark_analyzed("w", "cam1_20260101T000000Z_0001", 1, duration_s=5.0, people_peak=2, motion_peak=0.1,
                             motion_s=3.0, analysis_path="x")
    assert cat.clips_to_analyze(1) == [] and cat.clips_to_analyze(1, reanalyze=True) == []
    assert [r.clip_id for r in cat.clips_to_analyze(2, reanalyze=True)] == ["cam1_20260101T000000Z_0001"]
    assert cat.analyzed()[0].people_peak == 2 and cat.summary()["states"] == {"analyzed": 1}
    cat.close()
    again.close()
