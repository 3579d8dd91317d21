"""The report in real headless Chromium (Debian's ``chromium``), and its atomic rebuild.

Chromium loads the pages from ``file://`` with an added inline script that writes what it found
(images loaded, the video's metadata, the filters' effect) into the DOM, which ``--dump-dom`` prints
after ``--virtual-time-budget``. A missing Chromium fails: ``make test`` installs it (tests/sysdeps.sh).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import cv2
import numpy as np
import pytest

from inspector.analysis import analyze_pending
from inspector.catalog import Catalog
from inspector.report import build_report
from inspector.report.publish import current_generation, generations
from shared.manifest import Manifest, sha256_file, utc_iso
from tests.chromium import REPORT_OUT, checked, chromium
from tests.clips import write_video
from tests.integration.test_analysis import FAST, analyzed_session, copy_library, pull_into_library
from tests.proc import ROOT
from watcher.sources.synthetic import SyntheticSource

INDEX_PROBE = """
window.addEventListener('load', function(){
  var imgs=[].slice.call(document.images);
  var cards=function(){return [].slice.call(document.querySelectorAll('.card'));};
  var shown=function(){return cards().filter(function(c){return c.style.display!=='none';})
                                      .map(function(c){return c.dataset.clip;});};
  var out={cards: cards().map(function(c){return c.dataset.clip;}), images: imgs.length,
           broken: imgs.filter(function(i){return !(i.complete && i.naturalWidth>0);}).map(function(i){return i.src;}),
           sparklines: document.querySelectorAll('.card svg.spark polyline').length};
  var box=document.getElementById('f-people'), cam=document.getElementById('f-camera');
  box.checked=true; box.dispatchEvent(new Event('change')); out.peopleOnly=shown();
  box.checked=false; box.dispatchEvent(new Event('change'));
  cam.value='yard'; cam.dispatchEvent(new Event('change')); out.yardOnly=shown();
  cam.value=''; cam.dispatchEvent(new Event('change')); out.all=shown();
  """ + REPORT_OUT + "});"

CLIP_PROBE = """
var v=document.querySelector('video'), sent=false;
function report(){
  if(sent) return; sent=true;
  var out={readyState:v.readyState, duration:v.duration, videoWidth:v.videoWidth, error:v.error&&v.error.code,
           images:[].slice.call(document.images).map(function(i){return i.naturalWidth;}),
           boxes:document.querySelectorAll('svg.people rect').length,
           timeline:document.querySelectorAll('svg.timeline polygon').length};
  """ + REPORT_OUT + """
}
function wait(){ if(document.readyState==='complete') report(); else window.addEventListener('load', report); }
if(v.readyState>=1) wait(); else { v.addEventListener('loadedmetadata', wait); v.addEventListener('error', report); }
"""


def empty_yard_clip(dst: Path) -> Manifest:
    """A quiet clip from a second camera, on another day: no motion, nobody there."""
    src = SyntheticSource(seed=3, objects=[], duration_s=3.0)
    src.open()
    frames = [src.render(i / 15, i) for i in range(45)]
    clip_id = "yard_20260101T120000Z_0001"
    mp4 = write_video(dst / f"{clip_id}.mp4", frames, 15.0)
    size, sha = sha256_file(mp4)
    start = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    end = start + timedelta(seconds=44 / 15)  # the last frame's time, as the watcher writes it
    m = Manifest(id=clip_id, camera="yard", file=mp4.name, size=size, sha256=sha, codec="h264", width=640, height=360,
                 fps=15.0, frames=45, started_at=utc_iso(start), ended_at=utc_iso(end), media_start_s=0.0,
                 media_end_s=44 / 15, motion_start_s=None, motion_end_s=None, peak_motion=0.0, salvaged=False,
                 duration_s=3.0)
    (dst / f"{clip_id}.json").write_bytes(m.to_json())
    return m


@pytest.fixture(scope="module")
def report_library(tmp_path_factory) -> Path:
    """The analyzed synthetic library plus a quiet clip from a second camera, report built."""
    tmp = tmp_path_factory.mktemp("report")
    library = copy_library(analyzed_session(tmp_path_factory), tmp / "library")
    yard = tmp / "yard"
    yard.mkdir()
    empty_yard_clip(yard)
    pull_into_library(tmp / "second", yard)  # into its own library first: a second watcher's pull...
    lib2 = tmp / "second" / "library"
    for p in lib2.glob("clips/*/yard/*/*"):  # ...then moved over, as if pi2 had pulled it into the same one
        dest = library / "clips" / "pi2" / p.relative_to(lib2 / "clips" / p.relative_to(lib2).parts[1])
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(p, dest)
    m = json.loads(next(library.glob("clips/pi2/yard/*/*.json")).read_text())
    cat = Catalog(library / "catalog.sqlite3")
    cat.begin_download("pi2", m["id"], "yard", m["size"], m["sha256"], m["started_at"], m["ended_at"])
    cat.mark_stored("pi2", m["id"], str(next(library.glob("clips/pi2/yard/*/*.mp4"))))
    cat.close()
    assert analyze_pending(library, workers=1, settings=FAST).analyzed == [m["id"]]
    build_report(library)
    return library


def test_index_in_chromium_lists_every_clip_with_its_thumbnail_and_filters_work(report_library: Path,
                                                                              tmp_path: Path) -> None:
    cat = Catalog(report_library / "catalog.sqlite3")
    rows = cat.analyzed()
    cat.close()
    ids = [r.clip_id for r in rows]  # newest first
    assert len(ids) >= 3
    index = report_library / "report" / "index.html"
    out = checked(tmp_path, index, INDEX_PROBE)
    assert out["cards"] == ids, "every analyzed clip, newest first"
    assert out["images"] == len(ids) and out["broken"] == []
    assert out["sparklines"] == len(ids)
    with_people = [r.clip_id for r in rows if r.people_peak]
    assert "yard_20260101T120000Z_0001" not in with_people and with_people
    assert out["peopleOnly"] == with_people
    assert out["yardOnly"] == ["yard_20260101T120000Z_0001"] and out["all"] == ids
    text = index.read_text()
    assert "2026-01-01" in text and 'name="viewport"' in text
    assert not re.search(r'(src|href)="(https?:)?//', text), "no external assets"
    for name, size in (("index.png", "1280,900"), ("index-phone.png", "390,844")):
        shot = tmp_path / name
        chromium(tmp_path, f"--window-size={size}", f"--screenshot={shot}", "--virtual-time-budget=5000",
                 index.as_uri())
        img = cv2.imread(str(shot))
        assert img is not None and img.shape[1] == int(size.split(",")[0]) and float(np.std(img)) > 10, name


def test_clip_page_in_chromium_plays_the_clip(report_library: Path, tmp_path: Path) -> None:
    cat = Catalog(report_library / "catalog.sqlite3")
    row = next(r for r in cat.analyzed() if r.people_peak)
    cat.close()
    page = report_library / "report" / "clips" / row.watcher / f"{row.clip_id}.html"
    out = checked(tmp_path, page, CLIP_PROBE)
    assert out["error"] is None and out["readyState"] >= 1, out  # Chromium has the clip's metadata: H.264 plays
    assert abs(out["duration"] - row.duration_s) < 0.2 and out["videoWidth"] == 640
    assert out["images"] and all(w > 0 for w in out["images"]), "contact sheet loads"
    assert out["boxes"] == row.people_peak and out["timeline"] == 1
    video_src = re.search(r'<video[^>]* src="([^"]+)"', page.read_text()).group(1)
    assert video_src.startswith("../../../clips/pi1/cam1/") and (page.parent / video_src).resolve().is_file()


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


KILL_SCRIPT = """
import sys
from pathlib import Path
from urllib.parse import unquote
from inspector.report import build_report
def hook(event, name):
    print(event, name, flush=True)
    if event == sys.argv[2]:
        sys.stdin.readline()  # hold here until the test kills us
build_report(Path(sys.argv[1]), hook=hook)
print("finished", flush=True)
"""


def test_clip_page_links_the_explain_video_once_it_exists(report_library: Path, tmp_path: Path) -> None:
    """``python -m watcher explain`` on a library clip writes beside it; the rebuilt clip page links to it
    (and Chromium loads that video's metadata from the link)."""
    library = copy_library(report_library, tmp_path / "library")
    cat = Catalog(library / "catalog.sqlite3")
    row = cat.analyzed()[0]
    cat.close()
    assert row.local_path
    parts = Path(row.local_path).parts  # the copy's clip (the catalog names the library it was made in)
    clip = library.joinpath(*parts[parts.index("clips"):])
    page = library / "report" / "clips" / row.watcher / f"{row.clip_id}.html"
    build_report(library)
    assert 'id="explain"' not in page.read_text(), "no link before the replay exists"
    r = subprocess.run([sys.executable, "-m", "watcher", "explain", str(clip)], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    build_report(library)
    href = re.search(r'<a id="explain" href="([^"]+)"', page.read_text())
    assert href, "the clip page links the replay"
    target = (page.parent / unquote(href.group(1))).resolve()
    assert target == clip.with_name(f"{clip.stem}.explain.mp4").resolve()
    probe = ("var v=document.createElement('video');v.src=document.getElementById('explain').href;"
             "v.preload='metadata';v.addEventListener('loadedmetadata',function(){var out={w:v.videoWidth,"
             "d:v.duration};" + REPORT_OUT + "});v.addEventListener('error',function(){var out={error:"
             "v.error&&v.error.code};" + REPORT_OUT + "});")
    seen = checked(tmp_path, page, probe)
    assert seen.get("w") == 640 and seen.get("d", 0) > 1, seen


@pytest.mark.parametrize("kill_at", ["page", "swap"])
def test_killing_the_report_writer_leaves_the_previous_report_intact(report_library: Path, tmp_path: Path,
                                                                     kill_at: str) -> None:
    library = copy_library(report_library, tmp_path / "library")
    build_report(library)
    before_gen = current_generation(library)
    before = _tree_digest(library / "report")
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(library), kill_at], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        seen = []
        while not (line := proc.stdout.readline()).startswith(kill_at):
            assert line, f"writer ended early: {seen} {proc.stderr.read() if proc.stderr else ''}"
            seen.append(line)
        proc.kill()  # SIGKILL, mid-rebuild
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -9
    leftovers = [d for d in generations(library) if d.resolve() != before_gen]
    assert leftovers, "the killed writer had started a new generation"
    assert current_generation(library) == before_gen and _tree_digest(library / "report") == before
    index = build_report(library)  # the next build cleans up and swaps in a complete report
    after = current_generation(library)
    assert after != before_gen and index.read_text().endswith("</html>\n")
    assert set(generations(library)) == {before_gen, after}, "the leftover is gone; the replaced one stays a while"
    assert _tree_digest(library / "report").keys() == before.keys()


def test_a_reader_never_sees_a_half_written_report(report_library: Path, tmp_path: Path) -> None:
    library = copy_library(report_library, tmp_path / "library")
    pages = [library / "report" / "index.html", *sorted((library / "report" / "clips").glob("*/*.html"))]
    done = threading.Event()
    reads: list[tuple[str, bool]] = []

    def reader() -> None:
        while not done.is_set():
            for p in pages:
                try:
                    text = p.read_text()  # through the symlink, as a browser would
                except OSError as e:
                    text = repr(e)
                reads.append((p.name, text.startswith("<!DOCTYPE html>") and text.endswith("</html>\n")))

    t = threading.Thread(target=reader)
    t.start()
    try:
        for _ in range(5):
            build_report(library)
    finally:
        done.set()
        t.join()
    assert reads and all(ok for _, ok in reads), [r for r in reads if not r[1]][:5]
    assert len(generations(library)) == 2  # the current one and the one it replaced


def test_report_cli_rebuilds_from_the_config(report_library: Path, tmp_path: Path, capsys) -> None:
    from inspector.__main__ import main as inspector_main
    from tests.inspector_env import write_config

    library = copy_library(report_library, tmp_path / "library")
    cfg = write_config(tmp_path / "i.toml", library, [(f'[[watcher]]\nname = "pi1"\ntransport = "local"\n'
                                                      f'remote_dir = "{tmp_path / "nowhere"}"\n')])
    before = current_generation(library)
    assert inspector_main(["report", "--config", str(cfg)]) == 0
    assert capsys.readouterr().out.strip() == str(library / "report" / "index.html")
    assert current_generation(library) != before and current_generation(library) in generations(library)


def test_analysis_service_analyzes_and_reports_when_kicked(report_library: Path, tmp_path: Path) -> None:
    """What `inspector run` does after a pass that stored clips (here the results are already on
    disk, so the batch records them without decoding: this is about the thread, not the analysis)."""
    import sqlite3

    from inspector.analysis.service import AnalysisService

    library = copy_library(report_library, tmp_path / "library")
    db = sqlite3.connect(library / "catalog.sqlite3")
    total = db.execute("SELECT COUNT(*) FROM clips").fetchone()[0]
    reset = db.execute("UPDATE clips SET state='acked', analyzer_version=NULL WHERE camera='cam1'").rowcount
    db.commit()
    db.close()
    before = current_generation(library)
    stop = threading.Event()
    batches: list = []
    done = threading.Event()

    def on_batch(summary) -> None:
        batches.append(summary)
        done.set()

    service = AnalysisService(library, stop, workers=1, on_batch=on_batch).start()
    try:
        assert done.wait(120), "no batch"
    finally:
        stop.set()
        service.close()
    assert len(batches[0].analyzed) == reset >= 2 and not service._thread.is_alive()
    assert current_generation(library) != before
    cat = Catalog(library / "catalog.sqlite3")
    assert cat.summary()["states"] == {"analyzed": total}
    cat.close()


LABEL_PROBE = """
window.addEventListener('load', function(){
  var all=function(sel){return [].slice.call(document.querySelectorAll(sel));};
  var visible=function(el){return el.style.display!=='none';};
  var shown=function(){
    return all('.card').filter(visible).map(function(c){return c.dataset.watcher+'/'+c.dataset.clip;});
  };
  var days=function(){return all('section[data-group]').filter(visible).length;};
  var lab=document.getElementById('f-label'), cam=document.getElementById('f-camera');
  var out={counts:{}, title:document.title, images:document.images.length, cards:all('.card').length,
           notes:all('.card .lnote').map(function(n){return n.textContent;}),
           badges:all('.card .badge.real, .card .badge.false-alarm').map(function(b){return b.textContent;}),
           options:all('#f-label option').map(function(o){return o.value;})};
  all('#labels tr[data-camera]').forEach(function(tr){
    var c={}; tr.querySelectorAll('td[data-label]').forEach(function(td){c[td.dataset.label]=+td.textContent;});
    out.counts[tr.dataset.camera]=c;
  });
  out.options.forEach(function(v){
    lab.value=v; lab.dispatchEvent(new Event('change')); out['shown:'+v]=shown(); out['days:'+v]=days();
  });
  lab.value='none'; lab.dispatchEvent(new Event('change'));
  cam.value='yard'; cam.dispatchEvent(new Event('change')); out.yardUnlabelled=shown();
  """ + REPORT_OUT + "});"

LABEL_PAGE_PROBE = """
window.addEventListener('load', function(){
  var l=document.getElementById('label');
  var out={label:l.dataset.label, text:l.textContent, injected:l.querySelectorAll('img,script').length,
           title:document.title};
  """ + REPORT_OUT + "});"

HOSTILE_NOTE = ("""<img src=x onerror="document.title='pwned'"> "quoted" & </div>"""
                """<script>document.title='pwned'</script>""")


def test_labels_in_the_report_counts_and_the_label_filter_in_chromium(report_library: Path, tmp_path: Path) -> None:
    """Clips labelled with the real CLI (one with a note that is markup), the report rebuilt by the real
    ``inspector report``: cards and clip pages show each label and its note as text, the index counts
    per camera, and its label filter shows exactly the clips with that label (and hides emptied days)."""
    from tests.inspector_env import write_config

    library = copy_library(report_library, tmp_path / "library")
    cfg = write_config(tmp_path / "i.toml", library, [(f'[[watcher]]\nname = "pi1"\ntransport = "local"\n'
                                                      f'remote_dir = "{tmp_path / "nowhere"}"\n')])
    cat = Catalog(library / "catalog.sqlite3")
    rows = cat.analyzed()  # newest first, as the index lists them
    cat.close()
    cam1 = [r for r in rows if r.camera == "cam1"]
    yard = next(r for r in rows if r.camera == "yard")
    assert len(cam1) >= 2
    real, false_alarm = cam1[0], cam1[-1]
    parts = Path(false_alarm.local_path or "").parts  # the copy's clip (the catalog names the original library)
    clip = library.joinpath(*parts[parts.index("clips"):])

    def cli(*args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "inspector", *args, "--config", str(cfg)], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        return r.stdout

    cli("label", real.clip_id, "real", "--note", HOSTILE_NOTE)
    cli("label", str(clip), "false-alarm")  # by its file
    index = Path(cli("report").strip())
    assert index == library / "report" / "index.html"
    text = index.read_text()
    assert "&lt;img src=x" in text and "<img src=x" not in text and "<script>document" not in text

    out = checked(tmp_path, index, LABEL_PROBE)
    every = [f"{r.watcher}/{r.clip_id}" for r in rows]
    assert out["title"] == "Clips" and out["images"] == out["cards"] == len(rows), "the note injected nothing"
    assert out["notes"] == [HOSTILE_NOTE] and out["badges"] == ["real", "false alarm"]
    assert out["counts"] == {"cam1": {"real": 1, "false-alarm": 1, "none": len(cam1) - 2},
                             "yard": {"real": 0, "false-alarm": 0, "none": 1}}
    assert out["options"] == ["", "real", "false-alarm", "none"]
    assert out["shown:"] == every and out["days:"] == 2
    assert out["shown:real"] == [f"pi1/{real.clip_id}"] and out["days:real"] == 1, "the yard's day is hidden"
    assert out["shown:false-alarm"] == [f"pi1/{false_alarm.clip_id}"]
    assert out["shown:none"] == [c for c in every if c not in (f"pi1/{real.clip_id}", f"pi1/{false_alarm.clip_id}")]
    assert out["yardUnlabelled"] == [f"pi2/{yard.clip_id}"]

    pages = library / "report" / "clips"
    seen = checked(tmp_path, pages / "pi1" / f"{real.clip_id}.html", LABEL_PAGE_PROBE)
    assert seen["label"] == "real" and HOSTILE_NOTE in seen["text"] and seen["injected"] == 0
    assert "pwned" not in seen["title"]
    seen = checked(tmp_path, pages / "pi2" / f"{yard.clip_id}.html", LABEL_PAGE_PROBE)
    assert seen["label"] == "none" and seen["text"].startswith("Not labelled")
    assert f"label {yard.clip_id} real|false-alarm --watcher pi2" in seen["text"]
