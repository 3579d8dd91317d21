"""The report survives any single bad clip, in real headless Chromium.

A library of real analyzed clips (the real watcher's, pulled and analyzed) is grown with copies of
one clip under new ids, each damaged one way: a start time that is valid ISO 8601 but cannot be
shown (year 1, an offset that overflows: the manifest parser now refuses both, so they are
listed as manifests that no longer parse), an analysis that is missing, cut
short, oversized, nested 100,000 deep, NaN, 10^9 s long, a 5,000-digit number or names a still
outside the clip's folder, a manifest that no longer parses, a clip file that is gone, a missing
thumbnail. A second watcher holds a clip with the same id as one of the first's. The report is
built by a real ``python -m inspector report`` (with ``TZ`` west of UTC); every good clip must be
shown with working links, every bad one listed with its watcher, id and what is wrong.

The analysis parser is also driven with generated documents (hypothesis): whatever it is given it
returns a document the pages render, or rejects it with a reason.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC
from html import unescape
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.analysis.result import MAX_BYTES, AnalysisResult, BadAnalysis, parse_analysis
from inspector.catalog import Catalog
from inspector.report.model import ClipEntry
from inspector.report.pages import clip_html, index_html
from shared.manifest import parse_manifest
from tests.inspector_env import write_config
from tests.integration.test_analysis import analyzed_session, copy_library, local_watcher
from tests.integration.test_report import CLIP_PROBE, INDEX_PROBE, checked
from tests.proc import ROOT


def clone(library: Path, src_id: str, watcher: str, new_id: str) -> Path:
    """Copy pi1's clip ``src_id`` (clip, manifest, analysis, stills) to ``watcher`` as ``new_id``,
    as the puller and the analysis would have stored it, and catalog it as analyzed."""
    src = next(library.glob(f"clips/pi1/*/*/{src_id}.mp4"))
    dst_dir = library / "clips" / watcher / src.parent.relative_to(library / "clips" / "pi1")
    dst_dir.mkdir(parents=True, exist_ok=True)
    for f in src.parent.glob(f"{src_id}.*"):
        shutil.copy2(f, dst_dir / f.name.replace(src_id, new_id))
    clip = dst_dir / f"{new_id}.mp4"
    m = parse_manifest(clip.with_suffix(".json").read_bytes()).model_copy(update={"id": new_id, "file": clip.name})
    clip.with_suffix(".json").write_bytes(m.to_json())
    apath = dst_dir / f"{new_id}.analysis.json"
    a = json.loads(apath.read_text())
    a["clip_id"] = new_id
    a["stills"] = {k: v.replace(src_id, new_id) if isinstance(v, str) else v for k, v in a["stills"].items()}
    apath.write_text(json.dumps(a))
    cat = Catalog(library / "catalog.sqlite3")
    try:
        cat.begin_download(watcher, new_id, m.camera, m.size, m.sha256, m.started_at, m.ended_at)
        cat.mark_stored(watcher, new_id, str(clip))
        assert cat.mark_analyzed(watcher, new_id, a["analyzer_version"], duration_s=a["video"]["duration_s"],
                                 people_peak=a["people"]["peak"], motion_peak=a["motion"]["peak"],
                                 motion_s=a["motion"]["active_s"], analysis_path=str(apath))
    finally:
        cat.close()
    return clip


def _edit_analysis(clip: Path, change) -> None:
    p = Path(f"{clip.with_suffix('')}.analysis.json")
    a = json.loads(p.read_text())
    change(a)
    p.write_text(json.dumps(a))


def _edit_manifest_time(clip: Path, started_at: str) -> None:
    p = clip.with_suffix(".json")
    d = json.loads(p.read_text())
    d["started_at"] = started_at
    p.write_text(json.dumps(d))


def _analysis(clip: Path) -> Path:
    return Path(f"{clip.with_suffix('')}.analysis.json")


def _huge_int(clip: Path) -> None:
    """people.peak as a 5,000-digit integer (past Python's int-from-string limit)."""
    _edit_analysis(clip, lambda a: a["people"].update(peak=123456789))
    p = _analysis(clip)
    p.write_bytes(p.read_bytes().replace(b"123456789", b"9" * 5000))


# name -> (damage, words the listed reason must contain)
DAMAGES = {
    "year-one": (lambda c: _edit_manifest_time(c, "0001-01-01T00:00:00Z"), "started_at"),
    "offset-overflow": (lambda c: _edit_manifest_time(c, "9999-12-31T23:00:00-23:59"), "started_at"),
    "no-analysis": (lambda c: _analysis(c).unlink(), "analysis file is missing"),
    "cut-short": (lambda c: _analysis(c).write_bytes(_analysis(c).read_bytes()[:200]), "not JSON"),
    "oversized": (lambda c: _analysis(c).write_bytes(b" " * (MAX_BYTES + 10) + b"{}"), "cap"),
    "deep": (lambda c: _analysis(c).write_bytes(b"[" * 100_000 + b"]" * 100_000), "nested too deeply"),
    "nan": (lambda c: _edit_analysis(c, lambda a: a["video"].update(duration_s=float("nan"))), "duration_s"),
    "huge-duration": (lambda c: _edit_analysis(c, lambda a: a["video"].update(duration_s=1e9)), "duration_s"),
    "huge-int": (lambda c: _huge_int(c), "not JSON"),
    "list-for-number": (lambda c: _edit_analysis(c, lambda a: a["people"].update(peak=[1])), "people.peak"),
    "still-outside": (lambda c: _edit_analysis(c, lambda a: a["stills"].update(thumb="../../../../etc/passwd")),
                      "still"),
    "bad-manifest": (lambda c: c.with_suffix(".json").write_bytes(b'{"schema": 1, "id": '), "manifest"),
    "clip-gone": (lambda c: c.unlink(), "clip file is missing"),
}


@pytest.fixture(scope="module")
def hostile_library(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("hostile")
    library = copy_library(analyzed_session(tmp_path_factory), tmp / "library")
    shutil.rmtree(library / "report", ignore_errors=True)
    for g in library.glob(".report-*"):
        shutil.rmtree(g)
    (library / "report").unlink(missing_ok=True)
    src = sorted(p.stem for p in library.glob("clips/pi1/*/*/*.mp4"))[-1]  # one with people
    seq = 100
    bad: dict[str, tuple[str, str]] = {}
    for name, (damage, words) in DAMAGES.items():
        seq += 1
        clip = clone(library, src, "pi1", f"{src[:-4]}{seq:04d}")
        damage(clip)
        bad[clip.stem] = (name, words)
    thumbless = clone(library, src, "pi1", f"{src[:-4]}0200")
    Path(f"{thumbless.with_suffix('')}.thumb.jpg").unlink()
    twin = clone(library, src, "pi2", src)  # another Pi, the same clip id
    cfg = write_config(tmp / "i.toml", library, [local_watcher("pi1", tmp / "nowhere1"),
                                                 local_watcher("pi2", tmp / "nowhere2")])
    # west of UTC: year 1 at midnight UTC is in year 0 here, which Python cannot represent
    r = subprocess.run([sys.executable, "-m", "inspector", "report", "--config", str(cfg)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, TZ="America/New_York"))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    return {"library": library, "bad": bad, "thumbless": thumbless.stem, "twin": twin.stem, "src": src}


def test_every_good_clip_is_shown_and_every_bad_one_listed_with_what_is_wrong(hostile_library: dict,
                                                                               tmp_path: Path) -> None:
    library, bad = hostile_library["library"], hostile_library["bad"]
    index = library / "report" / "index.html"
    good = {(p.parent.parent.parent.name, p.stem) for p in library.glob("clips/*/*/*/*.mp4")} - {
        ("pi1", cid) for cid in bad}
    assert ("pi2", hostile_library["twin"]) in good and ("pi1", hostile_library["src"]) in good
    out = checked(tmp_path, index, INDEX_PROBE)
    text = index.read_text()
    cards = re.findall(r'class="card" href="([^"]+)"[^>]*data-clip="([^"]+)" data-watcher="([^"]+)"', text)
    assert sorted((w, c) for _, c, w in cards) == sorted(good)
    assert len(out["cards"]) == len(good), "Chromium shows every good clip"
    assert out["broken"] == [], "no broken image: the missing thumbnail is said, not linked"
    assert out["images"] == len(good) - 1
    problems = {(unescape(w), unescape(c)): unescape(why) for w, c, why in re.findall(
        r'<tr class="problem" data-watcher="([^"]+)" data-clip="([^"]+)"><td>[^<]*</td><td>.*?</td><td>(.*?)</td>',
        text)}
    assert set(problems) == {("pi1", cid) for cid in bad}
    for cid, (name, words) in bad.items():
        assert words in problems[("pi1", cid)], (name, problems[("pi1", cid)])
    assert f"{len(bad)} that cannot be shown" in text


def test_every_link_of_every_page_leads_to_a_file(hostile_library: dict) -> None:
    """Pages are named per (watcher, clip id); their links (to each other, the stills, the clips)
    all resolve, including between the two watchers' pages of the same clip id."""
    report = hostile_library["library"] / "report"
    pages = [report / "index.html", *sorted(report.glob("clips/*/*.html"))]
    twin = hostile_library["twin"]
    assert {p.relative_to(report).as_posix() for p in pages} >= {f"clips/pi1/{twin}.html", f"clips/pi2/{twin}.html"}
    for page in pages:
        for link in re.findall(r'(?:href|src|poster)="([^"#]+)"', page.read_text()):
            target = (page.parent / unquote(unescape(link))).resolve()
            assert target.is_file(), f"{page.relative_to(report)} links to missing {link}"
    pi2 = (report / "clips" / "pi2" / f"{twin}.html").read_text()
    assert re.search(r'<video[^>]* src="../../../clips/pi2/cam1/', pi2), "pi2's page plays pi2's clip"


@pytest.mark.parametrize("which", ["twin", "thumbless"])
def test_clip_pages_of_the_twin_and_the_thumbless_clip_play_in_chromium(hostile_library: dict, tmp_path: Path,
                                                                        which: str) -> None:
    watcher = "pi2" if which == "twin" else "pi1"
    page = hostile_library["library"] / "report" / "clips" / watcher / f"{hostile_library[which]}.html"
    out = checked(tmp_path, page, CLIP_PROBE)
    assert out["error"] is None and out["readyState"] >= 1 and out["videoWidth"] == 640, out
    assert out["images"] and all(w > 0 for w in out["images"]) and out["timeline"] == 1
    if which == "thumbless":
        assert "thumbnail is missing" in page.read_text() and "poster=" not in page.read_text()


# --- the analysis parser, driven with generated documents ---

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


def _paths(d, prefix=()):
    """Every key path in a JSON document."""
    yield prefix
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(d, list):
        for i, v in enumerate(d[:3]):
            yield from _paths(v, (*prefix, i))


@pytest.fixture(scope="module")
def real_doc(hostile_library: dict) -> tuple[dict, ClipEntry]:
    """A real analysis document and a real entry (to render generated documents with)."""
    from inspector.library import Library
    from inspector.report.model import entry

    lib = Library(hostile_library["library"])
    e = entry(lib, "pi1", hostile_library["src"])
    assert isinstance(e, ClipEntry)
    raw = json.loads(_analysis(lib.final("pi1", hostile_library["src"])).read_text())
    return raw, e


def _render(doc: AnalysisResult, base: ClipEntry) -> None:
    from datetime import datetime

    from inspector.report.model import LibraryView

    e = dataclasses.replace(base, analysis=doc, duration_s=doc.video.duration_s, motion_s=doc.motion.active_s,
                            people_peak=doc.people.peak)
    page = clip_html(e, e, e)
    assert page.endswith("</html>\n") and len(page) < 2_000_000
    index_html(LibraryView([e], [], 0, [], datetime.now(UTC)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_change_to_a_real_analysis_is_rendered_or_rejected_with_a_reason(real_doc, data) -> None:
    raw, base = real_doc
    doc = json.loads(json.dumps(raw))
    path = data.draw(st.sampled_from(list(_paths(doc))[1:]))
    value = data.draw(JSON)
    target = doc
    for k in path[:-1]:
        target = target[k]
    if data.draw(st.booleans()):
        target[path[-1]] = value
    elif isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = value
    try:
        parsed = parse_analysis(json.dumps(doc).encode())
    except BadAnalysis as e:
        assert str(e)
        return
    _render(parsed, base)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_are_a_document_or_a_rejection(real_doc, raw: bytes) -> None:
    try:
        parsed = parse_analysis(raw)
    except BadAnalysis as e:
        assert str(e)
        return
    _render(parsed, real_doc[1])
