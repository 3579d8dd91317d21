"""The report's HTML: the index and one page per clip. Self-contained (inline CSS, JS and SVG),
offline from ``file://``, readable on a phone. Stills and videos are linked by relative path into
the library (``report/`` sits at the library root). Clip pages are ``clips/<watcher>/<id>.html``:
two watchers can hold the same clip id. Pages read only checked values (:mod:`.model`), and escape every
one of them (names, notes and reasons come from watchers and users).

Labels (:mod:`inspector.labels`): each card and clip page shows the clip's label and note, the index
counts real / false alarm / unlabelled per camera, and its filters (one inline script, as for camera
and people, so it works from ``file://``) include the label."""

from __future__ import annotations

import json
import posixpath
from collections import defaultdict
from html import escape
from typing import Any
from urllib.parse import quote

from inspector.labels import LABEL_WORDS
from inspector.report.model import ClipEntry, LibraryView, ProblemEntry
from inspector.report.svg import boxes_over, sparkline, timeline
from inspector.report.tune_page import TuneResult, index_section, tune_html

CSS = """
:root{color-scheme:dark}*{box-sizing:border-box}
body{margin:0;font:15px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#111418;color:#e6e6e6}
header,main,footer{padding:10px 14px;max-width:1200px;margin:auto}
h1{font-size:1.3em;margin:.2em 0}h2{font-size:1.1em;margin:1.2em 0 .3em;border-bottom:1px solid #333}
h3{font-size:.95em;margin:.8em 0 .3em;color:#aaa}a{color:#4fc3f7}
.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin:.5em 0}
select,label{font-size:1em}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:10px}
.card{background:#1b1f24;border-radius:8px;overflow:hidden;color:inherit;text-decoration:none;display:block}
.card img{width:100%;aspect-ratio:16/9;object-fit:cover;display:block;background:#000}
.card .meta{padding:6px 8px;font-size:.9em}
.nothumb{aspect-ratio:16/9;display:flex;align-items:center;justify-content:center;background:#000;color:#888;font-size:.85em;padding:6px;text-align:center}
.card .spark{width:100%;height:24px;display:block}
.badge{display:inline-block;padding:0 6px;border-radius:9px;background:#2d3a46;color:#4fc3f7;font-size:.85em}
.badge.none{color:#888;background:#262a30}.totals{color:#aaa;font-size:.9em}
.badge.real{background:#1e3a28;color:#81c784}.badge.false-alarm{background:#45261f;color:#ff8a65}
.lnote{color:#aaa;font-size:.85em;overflow-wrap:anywhere}
.card .lnote{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#labels td:not(:first-child),#labels th:not(:first-child){text-align:right}
video,.still,svg.people,svg.timeline{width:100%;max-width:960px;display:block;background:#000;border-radius:6px}
table{border-collapse:collapse;font-size:.9em}td,th{padding:3px 10px 3px 0;text-align:left;vertical-align:top}
th{color:#aaa;font-weight:normal}.muted{color:#888}
#fleet tr.flagged td:first-child{color:#ff8a65}#fleet tr.ok td:first-child{color:#81c784}
#fleet ul.flags{margin:0;padding-left:1.1em;color:#ffb74d}.nav{display:flex;justify-content:space-between;gap:8px}
#clips td.good{color:#81c784}#clips td.bad{color:#ff8a65}#candidates tr.recommended td{color:#81c784;font-weight:bold}
img.thumb{width:160px;aspect-ratio:16/9;object-fit:cover;border-radius:4px;background:#000}
div.scroll{overflow-x:auto}pre{background:#1b1f24;padding:8px;border-radius:6px;overflow-x:auto}
@media (max-width:480px){.grid{grid-template-columns:repeat(2,1fr)}body{font-size:14px}}
"""

FILTER_JS = """
(function(){
  var cam=document.getElementById('f-camera'), ppl=document.getElementById('f-people'),
      lab=document.getElementById('f-label');
  function apply(){
    var c=cam.value, p=ppl.checked, l=lab.value;
    document.querySelectorAll('.card').forEach(function(el){
      var ok=(!c||el.dataset.camera===c)&&(!p||+el.dataset.people>0)&&(!l||el.dataset.label===l);
      el.style.display=ok?'':'none';
    });
    document.querySelectorAll('[data-group]').forEach(function(g){
      var any=g.querySelector('.card:not([style*="none"])');
      g.style.display=any?'':'none';
    });
  }
  cam.addEventListener('change',apply); ppl.addEventListener('change',apply); lab.addEventListener('change',apply);
  apply();
})();
"""


def _page(title: str, body: str, script: str = "") -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{body}"
            + (f"<script>{script}</script>" if script else "") + "</body></html>\n")


def _dur(s: float) -> str:
    if s < 60:
        return f"{s:.1f} s"
    whole = round(s)
    return f"{whole // 60}:{whole % 60:02d}"


def _people(n: int) -> str:
    return f'<span class="badge">{n} {"person" if n == 1 else "people"}</span>' if n else \
        '<span class="badge none">no people</span>'




def _label_badge(c: ClipEntry) -> str:
    """The clip's label as a badge and its note (both escaped), or nothing when unlabelled."""
    if c.label is None or c.label_key == "none":
        return ""
    note = f'<div class="lnote">{escape(c.label.note)}</div>' if c.label.note else ""
    return f' <span class="badge {c.label_key}">{LABEL_WORDS[c.label_key]}</span>{note}'


def _label_counts(clips: list[ClipEntry]) -> str:
    """Per camera: how many of its clips in the report are labelled real, false alarm, or not at all."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(LABEL_WORDS, 0))
    for c in clips:
        counts[c.camera][c.label_key] += 1
    rows = "".join(f'<tr data-camera="{escape(cam)}"><td>{escape(cam)}</td>'
                   + "".join(f'<td data-label="{k}">{n[k]}</td>' for k in LABEL_WORDS) + "</tr>"
                   for cam, n in sorted(counts.items()))
    return ('<section id="labels"><h2>Labels</h2><table><tr><th>camera</th>'
            + "".join(f"<th>{w}</th>" for w in LABEL_WORDS.values()) + f"</tr>{rows}</table>"
            '<div class="muted">of the analyzed clips below; label one with python -m inspector label CLIP '
            "real|false-alarm --config FILE</div></section>")


def _rel(from_page: str, to_page: str) -> str:
    """A link from one report page to another (both relative to the report root)."""
    return posixpath.relpath(to_page, posixpath.dirname(from_page) or ".")


def _up(page: str) -> str:
    """From a report page to the library root (``report/`` sits at the library root)."""
    return "../" * (page.count("/") + 1)


def index_html(view: LibraryView) -> str:
    cameras = sorted({c.camera for c in view.clips})
    days: dict[str, list[ClipEntry]] = defaultdict(list)
    for c in view.clips:
        days[c.day].append(c)
    out = [f"<header><h1>Clips</h1><div class=\"totals\">{len(view.clips)} analyzed clip(s)"
           f"{f', {view.waiting} waiting for analysis' if view.waiting else ''}"
           f"{f', {len(view.problems)} that cannot be shown' if view.problems else ''}"
           f"{f', {len(view.quarantined)} quarantined' if view.quarantined else ''}"
           f" · built {escape(view.built_at.strftime('%Y-%m-%d %H:%M:%S %Z'))}</div>"
           '<div class="filters"><label>Camera <select id="f-camera"><option value="">all</option>'
           + "".join(f'<option value="{escape(c)}">{escape(c)}</option>' for c in cameras)
           + '</select></label><label><input type="checkbox" id="f-people"> people only</label>'
           '<label>Label <select id="f-label"><option value="">all</option>'
           + "".join(f'<option value="{k}">{w}</option>' for k, w in LABEL_WORDS.items())
           + "</select></label></div></header><main>"]
    if view.fleet:
        out.append(_fleet(view.fleet))
    out.append(index_section(view.tunes))
    if view.clips:
        out.append(_label_counts(view.clips))
    else:
        out.append('<p class="muted">No analyzed clips yet.</p>')
    for day in sorted(days, reverse=True):
        clips = days[day]
        with_people = sum(1 for c in clips if c.people_peak)
        out.append(f'<section data-group="day"><h2>{escape(day)}</h2><div class="totals">{len(clips)} clip(s), '
                   f'{_dur(sum(c.duration_s for c in clips))} of video, {with_people} with people, '
                   f'motion {_dur(sum(c.motion_s for c in clips))}</div>')
        for cam in sorted({c.camera for c in clips}):
            out.append(f'<div data-group="camera"><h3>{escape(cam)}</h3><div class="grid">')
            out.extend(_card(c) for c in clips if c.camera == cam)
            out.append("</div></div>")
        out.append("</section>")
    if view.problems:
        out.append('<h2>Clips that cannot be shown</h2><table id="problems"><tr><th>watcher</th><th>clip</th>'
                   "<th>what is wrong</th></tr>" + "".join(_problem_row(p) for p in view.problems) + "</table>")
    if view.quarantined:
        out.append("<h2>Quarantined</h2><table>" + "".join(
            f"<tr><td>{escape(w)}</td><td>{escape(cid)}</td><td>{escape(reason)}</td></tr>"
            for w, cid, reason in view.quarantined) + "</table>")
    out.append("</main>")
    return _page("Clips", "".join(out), FILTER_JS)


def _fleet(fleet: dict[str, dict[str, Any]]) -> str:
    """One row per watcher: its health from its last status.json, and each flag with its rule."""
    rows = []
    for name, h in sorted(fleet.items()):
        flags = h["flags"]
        cells = [escape(name), "ok" if not flags else escape(", ".join(f["flag"] for f in flags)),
                 escape(h["last_contact"] or "never")]
        if "state" in h:
            free = f"{h['disk_free_bytes'] / 1e6:.0f} MB" if h["disk_free_bytes"] >= 0 else "?"
            floor = f" (floor {h['min_free_bytes'] / 1e6:.0f} MB)" if h["min_free_bytes"] else ""
            clock = {True: "synchronized", False: "not synchronized"}.get(h["clock_synchronized"], "unknown")
            age = f", {_dur(h['last_clip_age_s'])} ago" if h.get("last_clip_age_s") is not None else ""
            cells += [escape(f"{h['state']}, frames {'flowing' if h['frames_flowing'] else 'stopped'}"),
                      escape(f"{h['fps_in']:g} / {h['fps_out']:g}, {h['frames_dropped']} dropped"),
                      escape(free + floor), escape(clock), escape((h["last_clip"] or "none") + age)]
        else:
            cells += ["", "", "", "", ""]
        rules = ("<ul class=\"flags\">" + "".join(f'<li data-flag="{escape(f["flag"])}">{escape(f["rule"])}</li>'
                                                  for f in flags) + "</ul>") if flags else ""
        rows.append(f'<tr class="{"flagged" if flags else "ok"}" data-watcher="{escape(name)}">'
                    + "".join(f"<td>{c}</td>" for c in cells) + f"<td>{rules}</td></tr>")
    return ('<section id="fleet"><h2>Watchers</h2><table><tr><th>watcher</th><th>health</th><th>last contact</th>'
            "<th>frames</th><th>fps in / out</th><th>disk free</th><th>clock</th><th>last clip</th><th>why</th></tr>"
            + "".join(rows) + "</table></section>")


def _problem_row(p: ProblemEntry) -> str:
    clip = escape(p.clip_id)
    if p.video:
        clip = f'<a href="../{quote(p.video)}">{clip}</a>'
    return (f'<tr class="problem" data-watcher="{escape(p.watcher)}" data-clip="{escape(p.clip_id)}">'
            f"<td>{escape(p.watcher)}</td><td>{clip}</td><td>{escape(p.problem)}</td></tr>")


def _card(c: ClipEntry) -> str:
    thumb = (f'<img src="../{quote(c.thumb)}" alt="{escape(c.clip_id)}" width="320" height="180">' if c.thumb
             else f'<div class="nothumb">{escape("; ".join(c.notes) or "no thumbnail")}</div>')
    return (f'<a class="card" href="{quote(c.page)}" data-camera="{escape(c.camera)}" '
            f'data-people="{c.people_peak}" data-clip="{escape(c.clip_id)}" data-watcher="{escape(c.watcher)}" '
            f'data-label="{c.label_key}">{thumb}{sparkline(c.analysis.motion.activity)}'
            f'<div class="meta"><b>{escape(c.started.strftime("%H:%M:%S"))}</b> · {_dur(c.duration_s)} '
            f'{_people(c.people_peak)}{_label_badge(c)}</div></a>')


def clip_html(c: ClipEntry, newer: ClipEntry | None, older: ClipEntry | None) -> str:
    a, m = c.analysis, c.manifest
    video, people = a.video, a.people
    up = _up(c.page)
    nav = (f'<div class="nav"><a href="{quote(_rel(c.page, "index.html"))}">&larr; all clips</a><span>'
           + (f'<a href="{quote(_rel(c.page, newer.page))}">newer</a> ' if newer else "")
           + (f'<a href="{quote(_rel(c.page, older.page))}">older</a>' if older else "") + "</span></div>")
    poster = f' poster="{up}{quote(c.thumb)}"' if c.thumb else ""
    parts = [f"<header>{nav}<h1>{escape(c.camera)} · {escape(c.started.strftime('%Y-%m-%d %H:%M:%S'))}</h1>"
             f"<div>{_dur(c.duration_s)} · motion {_dur(c.motion_s)} · {_people(c.people_peak)}</div>"
             + _label_line(c)
             + "".join(f'<div class="muted note">{escape(n)}</div>' for n in c.notes) + "</header><main>",
             f'<video controls preload="metadata" playsinline src="{up}{quote(c.video)}"{poster}></video>',
             (f'<p><a id="explain" href="{up}{quote(c.explain)}">Why it was recorded: the detector and trigger '
              "replayed over this clip</a></p>" if c.explain else ""),
             "<h2>Motion</h2>",
             timeline(a.motion.activity, a.motion.bin_s, c.duration_s,
                      [(s.start_s, s.end_s) for s in a.motion.segments], people.per_second),
             '<div class="muted">orange: activity per 0.1 s and motion segments; blue: people per second</div>']
    if c.people_still and people.boxes and people.best_t is not None:
        parts.append(f"<h2>People at {people.best_t:.1f} s</h2>"
                     + boxes_over(up + quote(c.people_still), video.width, video.height, people.boxes,
                                  f"{len(people.boxes)} people"))
    elif people.peak:
        parts.append(f'<h2>People</h2><p class="muted">Up to {people.peak} people ({people.sampled} frames checked); '
                     "the still of them is missing.</p>")
    else:
        parts.append(f'<h2>People</h2><p class="muted">No people found ({people.sampled} frames checked).</p>')
    if c.sheet:
        parts.append(f'<h2>Across the clip</h2><img class="still" src="{up}{quote(c.sheet)}" alt="contact sheet">')
    facts = dict(json.loads(m.to_json()))
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(json.dumps(v) if isinstance(v, (list, dict)) else str(v))}"
                   f"</td></tr>" for k, v in sorted(facts.items()))
    parts.append(f"<h2>Manifest</h2><table>{rows}</table>"
                 f"<h2>Decoded</h2><table><tr><th>codec</th><td>{escape(video.codec)}</td></tr>"
                 f"<tr><th>frames</th><td>{video.frames}</td></tr><tr><th>fps</th><td>{video.fps:g}</td></tr>"
                 f"<tr><th>resolution</th><td>{video.width}x{video.height}</td></tr>"
                 f"<tr><th>analyzer</th><td>v{a.analyzer_version}, {escape(people.detector)}</td></tr>"
                 f"<tr><th>watcher</th><td>{escape(c.watcher)}</td></tr></table>")
    parts.append(f'<p><a href="{up}{quote(c.video)}" download>download the clip</a></p></main>')
    return _page(f"{c.camera} {c.started:%Y-%m-%d %H:%M:%S}", "".join(parts))


def _label_line(c: ClipEntry) -> str:
    """The clip page's label: the verdict, the note and when; or how to give one."""
    if c.label is None or c.label_key == "none":
        return (f'<div id="label" data-label="none" class="muted">Not labelled: python -m inspector label '
                f"{escape(c.clip_id)} real|false-alarm --watcher {escape(c.watcher)} --config FILE</div>")
    return (f'<div id="label" data-label="{c.label_key}">Label:{_label_badge(c)}'
            f'<div class="muted">labelled {escape(c.label.labelled_at)}</div></div>')


def problem_html(p: ProblemEntry, page: str) -> str:
    """A page for a clip whose own page could not be made: what is wrong, and the clip if it is there."""
    up = _up(page)
    video = f'<p><a href="{up}{quote(p.video)}">the clip</a></p>' if p.video else ""
    return _page(f"{p.watcher} {p.clip_id}", f'<header><div class="nav"><a href="{quote(_rel(page, "index.html"))}">'
                 f"&larr; all clips</a></div><h1>{escape(p.clip_id)}</h1></header><main><p>{escape(p.watcher)}: "
                 f"{escape(p.problem)}</p>{video}</main>")


def tune_page_html(r: TuneResult, view: LibraryView) -> str:
    """A tune page (:mod:`.tune_page`) with the report's look, linking the clips the report shows."""
    pages = {f"{c.watcher}/{c.clip_id}": c.page for c in view.clips}
    return tune_html(r, pages, _up(r.page), _page)
