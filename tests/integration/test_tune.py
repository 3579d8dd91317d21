"""``python -m inspector tune`` end to end, on real footage with known events.

The street scene (tests/street_scene.py): vtest.avi's people twice, the same street with distant people,
and the empty street with simulated shake, rain, cloud shadows, a noise burst and lights switched on. The
real watcher records it with its default detector (a short trigger: 3 s pre-roll, 2 s post-roll), which
keeps the people and also records the shake, the rain and the shadows (noise and lights it ignores). The
clips are pulled through a real sshd and analyzed by the real inspector, labelled with the real CLI from
the segment each clip's motion falls in, and tuned with a grid in which one combination keeps every
person event and drops every nuisance clip, and others lose the distant people.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.tuning.labelled_set import LABELS_FILE
from shared.manifest import Manifest, parse_manifest
from tests import street_scene
from tests.chromium import REPORT_OUT, checked
from tests.proc import ROOT

GRID = """\
[detector]
relative_threshold = [0.05, 0.15]
min_area = [0.00015, 0.003]
[trigger]
min_motion_frames = [3, 6]
"""
WATCHER_TOML = """\
[watcher]
camera = "street"
[trigger]
pre_roll_s = 3.0
post_roll_s = 2.0
max_clip_s = 30.0
"""
CHOSEN = {"detector.relative_threshold": 0.15, "trigger.min_motion_frames": 6}


TUNE_PROBE = """
window.addEventListener('load', function(){
  var imgs=[].slice.call(document.images), rows=[].slice.call(document.querySelectorAll('#clips tr[data-clip]'));
  var out={verdict: document.getElementById('verdict').textContent, images: imgs.length,
           broken: imgs.filter(function(i){return !(i.complete && i.naturalWidth>0);}).map(function(i){return i.src;}),
           recommended: [].slice.call(document.querySelectorAll('#candidates tr.recommended'))
                          .map(function(r){return r.dataset.name;}),
           clips: rows.map(function(r){return r.dataset.clip;}),
           linked: rows.filter(function(r){return r.querySelector('a[href$=".html"]');}).length,
           labels: {}, cells: {}, config: document.getElementById('config').textContent};
  rows.forEach(function(r){
    out.labels[r.dataset.clip]=r.cells[1].textContent;
    out.cells[r.dataset.clip]=[].slice.call(r.cells).slice(1).map(function(c){return c.className;});
  });
  """ + REPORT_OUT + "});"
INDEX_PROBE = """
window.addEventListener('load', function(){
  var links=[].slice.call(document.querySelectorAll('#tuning a'));
  var out={tuning: links.map(function(a){return a.textContent;}),
           href: links.map(function(a){return a.getAttribute('href');})};
  """ + REPORT_OUT + "});"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inspector", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[street_scene.Segment]]:
    """The street scene recorded by the real watcher: (recorded_clips, segments)."""
    tmp = tmp_path_factory.mktemp("street")
    video = tmp / "street.mp4"
    segments = street_scene.build(video)
    config = tmp / "watcher.toml"
    config.write_text(WATCHER_TOML)
    r = subprocess.run([sys.executable, "-m", "watcher", "--config", str(config), "--source", f"file:{video}",
                        "--data-dir", str(tmp / "data")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return tmp / "data" / "recorded_clips", segments


def manifests(folder: Path) -> list[Manifest]:
    return sorted((parse_manifest(p.read_bytes()) for p in folder.rglob("*.json")
                   if p.name.count(".") == 1 and p.name != LABELS_FILE), key=lambda m: m.started_at)


def segment_of(m: Manifest, segments: list[street_scene.Segment]) -> street_scene.Segment:
    s = street_scene.segment_at(segments, m.motion_start_s)
    assert s is not None, (m.id, m.motion_start_s, segments)
    return s


def tune(*args: str) -> tuple[int, dict]:
    r = cli("tune", *args, "--json")
    assert r.returncode in (0, 1), r.stderr[-3000:]
    return r.returncode, json.loads(r.stdout)


def test_tune_keeps_every_person_and_drops_the_nuisances(tmp_path: Path, sshd, recorded) -> None:
    clips_dir, segments = recorded
    live = manifests(clips_dir)
    kinds = [segment_of(m, segments).name for m in live]
    # what the watcher's defaults record of the scene: every person event, and three of the five nuisances
    assert kinds == ["people", "shake", "people", "rain", "shadows", "distant people"], kinds
    assert all(m.settings is not None for m in live)

    # pulled through a real sshd, analyzed (thumbnails), then labelled with the CLI
    remote = tmp_path / "pi" / "recorded_clips"
    remote.mkdir(parents=True)
    for f in clips_dir.iterdir():
        (remote / f.name).write_bytes(f.read_bytes())
    library = tmp_path / "library"
    cfg = tmp_path / "inspector.toml"
    cfg.write_text(f'library = "{library}"\n' + sshd.watcher_toml("pi1", remote))
    r = cli("pull", "--config", str(cfg))
    assert r.returncode == 0, r.stderr[-3000:]
    for m in live:
        seg = segment_of(m, segments)
        r = cli("label", m.id, seg.label, "--note", seg.name, "--config", str(cfg))
        assert r.returncode == 0, r.stderr[-2000:]
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)

    r = cli("tune", "--config", str(cfg), "--camera", "street", "--grid", str(grid))
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert "agreement with the Pi: 6/6" in r.stdout and "Paste into the Pi's watcher.toml" in r.stdout, r.stdout
    doc = json.loads((library / "tune" / "street.json").read_text())  # kept for the report's page
    # the replay of the Pi's own settings decides what the Pi decided, on every clip
    assert doc["current_settings_from"].startswith("the manifest of pi1/")
    assert doc["agreement"]["ratio"] == 1.0 and len(doc["agreement"]["compared"]) == 6, doc["agreement"]
    assert max(doc["agreement"]["offsets_s"]) <= 0.2, doc["agreement"]  # measured: 0.0 on every clip
    assert not doc["skipped"]
    by_name = {c["name"]: c for c in doc["candidates"]}
    current = by_name["current"]
    assert current["real_kept"] == 3 and not current["false_dropped"]
    best = by_name[doc["recommended"]]
    assert best["real_kept"] == 3 and len(best["false_dropped"]) == 3 and not best["false_kept"], best
    # of the candidates that do as well, the one that changes the fewest keys
    as_good = [c for c in doc["candidates"] if c["keeps_every_real"] and len(c["false_dropped"]) == 3]
    assert best["changes"] == CHOSEN and all(len(c["changes"]) >= len(CHOSEN) for c in as_good), as_good
    assert not doc["undroppable"]
    # a larger smallest blob loses the distant people, so it is never recommended
    distant = next(f"pi1/{m.id}" for m in live if segment_of(m, segments).name == "distant people")
    big_blobs = [c for c in doc["candidates"] if c["changes"].get("detector.min_area") == 0.003]
    assert big_blobs and all(distant in c["real_lost"] for c in big_blobs)
    # the table to paste
    assert "[detector]" in doc["config"] and "relative_threshold = 0.15  # was 0.05" in doc["config"]
    assert "min_motion_frames = 6  # was 3" in doc["config"]

    # the report's tune page, in real headless Chromium: every clip with its thumbnail and what each candidate
    # does with it; the recommended candidate marked; the index links the page
    out = checked(tmp_path, library / "report" / "tune" / "street.html", TUNE_PROBE)
    assert out["verdict"] == doc["verdict"] and out["recommended"] == [doc["recommended"]]
    assert sorted(out["clips"]) == sorted(f"pi1/{m.id}" for m in live) and out["broken"] == []
    assert out["images"] == 6 and out["linked"] == 6  # thumbnails, and links to the clips' pages
    labels = {f"pi1/{m.id}": segment_of(m, segments).label for m in live}
    assert out["labels"] == {k: {"real": "real", "false-alarm": "false alarm"}[v] for k, v in labels.items()}
    # after the label: the current settings keep every clip (good for the real ones only), the recommended
    # candidate keeps every real clip and drops every false alarm
    assert all(out["cells"][k][1] == ("good" if labels[k] == "real" else "bad") for k in labels), out["cells"]
    assert all(out["cells"][k][2] == "good" for k in labels), out["cells"]
    assert "pi1/" not in out["config"] and "min_motion_frames = 6" in out["config"]
    index = checked(tmp_path, library / "report" / "index.html", INDEX_PROBE)
    assert index == {"tuning": ["street"], "href": ["tune/street.html"]}
    # a damaged or outdated tune result never costs the report: it is left out, the rest is built
    kept = json.loads((library / "tune" / "street.json").read_text())
    (library / "tune" / "old.json").write_text(json.dumps(kept | {"schema": 0, "camera": "old"}))
    (library / "tune" / "bad.json").write_text(json.dumps(kept | {"camera": "bad", "candidates": [{"name": 1}]}))
    (library / "tune" / "junk.json").write_bytes(b"\xff")
    r = cli("report", "--config", str(cfg))
    assert r.returncode == 0, r.stderr[-2000:]
    assert checked(tmp_path, library / "report" / "index.html", INDEX_PROBE)["tuning"] == ["street"]
    assert "the tune page of bad cannot be made" in r.stderr and "old.json is left out" in r.stderr, r.stderr
    for name in ("old", "bad", "junk"):
        (library / "tune" / f"{name}.json").unlink()

    # the labelled set travels: exported, then tuned from the folder alone, with the same answer
    exported = tmp_path / "set"
    r = cli("export-labelled", str(exported), "--config", str(cfg), "--camera", "street")
    assert r.returncode == 0, r.stderr[-2000:]
    labels = json.loads((exported / LABELS_FILE).read_text())
    assert sorted((c["clip_id"], c["label"]) for c in labels["clips"]) == sorted(
        (m.id, segment_of(m, segments).label) for m in live)
    code2, doc2 = tune("--data", str(exported), "--grid", str(grid))
    assert code2 == 0 and doc2["recommended"] == doc["recommended"]
    assert [c["real_kept"] for c in doc2["candidates"]] == [c["real_kept"] for c in doc["candidates"]]
    assert [c["false_dropped"] for c in doc2["candidates"]] == [c["false_dropped"] for c in doc["candidates"]]

    # one watcher's clips of the camera: kept apart, on a page of its own
    code, only = tune("--config", str(cfg), "--camera", "street", "--watcher", "pi1")
    assert code == 1 and only["candidates"][0]["real_kept"] == 3 and len(only["candidates"]) == 1
    assert only["verdict"].startswith("No candidate drops a false alarm")  # the current settings alone
    assert (library / "tune" / "street@pi1.json").is_file()
    assert checked(tmp_path, library / "report" / "index.html", INDEX_PROBE) == {
        "tuning": ["street", "street (pi1)"], "href": ["tune/street.html", "tune/street@pi1.html"]}
    r = cli("tune", "--config", str(cfg), "--camera", "street", "--watcher", "pi2")
    assert r.returncode == 66 and "no labelled clips of camera street" in r.stderr, r.stderr

    # a clip of people labelled a false alarm (the neighbour): no settings drop it and keep the others
    neighbour = next(m for m in live if segment_of(m, segments).name == "people")
    r = cli("label", neighbour.id, "false-alarm", "--note", "the neighbour", "--config", str(cfg))
    assert r.returncode == 0, r.stderr[-2000:]
    code, doc = tune("--config", str(cfg), "--camera", "street", "--grid", str(grid))
    assert code == 0  # the nuisances are still dropped
    assert doc["undroppable"] == [f"pi1/{neighbour.id}"], doc["verdict"]
    assert "no such settings exist" in doc["verdict"]


def test_tune_refuses_bad_candidates_and_a_tampered_set(tmp_path: Path, recorded) -> None:
    clips_dir, segments = recorded
    # a labelled folder made by hand: the clips, their manifests and labels.json
    folder = tmp_path / "set"
    (folder / "pi1").mkdir(parents=True)
    entries = []
    for m in manifests(clips_dir)[:2]:
        for suffix in (".mp4", ".json"):
            (folder / "pi1" / f"{m.id}{suffix}").write_bytes((clips_dir / f"{m.id}{suffix}").read_bytes())
        entries.append({"watcher": "pi1", "clip_id": m.id, "label": segment_of(m, segments).label})
    (folder / "labels.json").write_text(json.dumps({"schema": 1, "clips": entries}))

    r = cli("tune", "--data", str(folder), "--set", "detector.threshold=600")
    assert r.returncode == 78 and "--set: detector.threshold: must be <= 20.0, got 600" in r.stderr, r.stderr
    r = cli("tune", "--data", str(folder), "--set", "detector.nope=1")
    assert r.returncode == 78 and "detector.nope: is not a setting" in r.stderr, r.stderr
    grid = tmp_path / "grid.toml"
    grid.write_text("[detector]\nthreshold = 5\n")
    r = cli("tune", "--data", str(folder), "--grid", str(grid))
    assert r.returncode == 78 and "detector.threshold: must be a list of the values to try" in r.stderr, r.stderr

    # a clip altered after export is said and not replayed; the other is still judged
    victim = folder / "pi1" / f"{entries[0]['clip_id']}.mp4"
    victim.write_bytes(victim.read_bytes()[:-100] + b"\0" * 100)
    code, doc = tune("--data", str(folder))  # left: the shake, a false alarm; no real event to keep
    assert code == 1 and doc["verdict"].startswith("No real event could be judged"), doc["verdict"]
    assert [s["why"] for s in doc["skipped"]] == ["the clip does not match its manifest (size or sha256)"]
    assert len(doc["candidates"][0]["clips"]) == 1

    # a labels.json naming a path outside the folder, or not JSON at all, is refused with the reason
    (folder / "labels.json").write_text(json.dumps({"schema": 1, "clips": [
        {"watcher": "../etc", "clip_id": entries[1]["clip_id"], "label": "real"}]}))
    r = cli("tune", "--data", str(folder))
    assert r.returncode == 78 and "clips[0].watcher" in r.stderr, r.stderr
    (folder / "labels.json").write_text(json.dumps({"schema": 1, "clips": [entries[1], entries[1]]}))
    r = cli("tune", "--data", str(folder))
    assert r.returncode == 78 and "clips[1]: pi1/" in r.stderr and "is listed twice" in r.stderr, r.stderr
    (folder / "labels.json").write_bytes(b"\xff{")
    r = cli("tune", "--data", str(folder))
    assert r.returncode == 78 and "labels.json" in r.stderr, r.stderr
