"""The report's tune pages: ``python -m inspector tune``'s last result per camera, side by side.

``tune`` keeps its JSON in ``<library>/tune/`` (:mod:`inspector.tuning.store`); each report generation turns
every such file into ``tune/<name>.html``: the verdict and the replay's agreement with the Pi, the
candidates (what each keeps and drops, its cost per frame), the table to paste, and a row per labelled clip
with its thumbnail, its label and what each candidate would do with it. The index links the pages.

The files are the inspector's own, but a stale or damaged one must not cost the report: each is read with
a size cap, one of another schema or without candidates is left out with a log line, and a page that
cannot be made from one (a value of the wrong type) is left out of the report the same way, never
costing the rest. Every value shown is escaped (notes, ids and names come from users and watchers).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from inspector.labels import LABEL_WORDS
from inspector.tuning.output import SCHEMA, describe
from inspector.tuning.store import TUNE_DIR

logger = logging.getLogger(__name__)

MAX_RESULT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class TuneResult:
    page: str  # relative to the report root: tune/<name>.html
    camera: str
    verdict: str
    tuned_at: str
    doc: dict[str, Any]


def load_results(library: Path) -> list[TuneResult]:
    """Every tune result kept in the library that can be shown, by camera."""
    out = []
    for path in sorted((library / TUNE_DIR).glob("*.json")):
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_RESULT_BYTES + 1)
            if len(raw) > MAX_RESULT_BYTES:
                raise ValueError("too large")
            doc = json.loads(raw)
            camera, verdict = doc["camera"], doc["verdict"]
            if doc.get("schema") != SCHEMA:
                raise ValueError(f"schema {str(doc.get('schema'))[:20]!r}, not {SCHEMA} (tune again to renew it)")
            if not (isinstance(camera, str) and isinstance(verdict, str) and doc["candidates"]
                    and isinstance(doc["candidates"], list)):
                raise ValueError("not a tune result")
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
            logger.warning("report: %s is left out: %s", path, e)
            continue
        watcher = doc.get("watcher")
        title = f"{camera} ({watcher})" if isinstance(watcher, str) and watcher else camera
        out.append(TuneResult(f"{TUNE_DIR}/{quote(path.stem, safe='@')}.html", title, verdict,
                              str(doc.get("tuned_at", "")), doc))
    return out


def index_section(results: list[TuneResult]) -> str:
    """The index's list of tune pages."""
    if not results:
        return ""
    rows = "".join(f'<tr><td><a href="{r.page}">{escape(r.camera)}</a></td><td>{escape(r.tuned_at)}</td>'
                   f"<td>{escape(r.verdict)}</td></tr>" for r in results)
    return ('<section id="tuning"><h2>Tuning</h2><table><tr><th>camera</th><th>tuned</th><th>verdict</th></tr>'
            f"{rows}</table></section>")


def _cell(v: dict[str, Any]) -> tuple[str, str]:
    """(class, text) of what a candidate does with one clip."""
    good, words = describe(str(v["label"]), bool(v["kept"]), bool(v["recorded"]),
                           None if v.get("delay_s") is None else float(v["delay_s"]))
    return "good" if good else "bad", words


def _changes(c: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in c["changes"].items()) or "(current)"


def tune_html(r: TuneResult, clip_pages: dict[str, str], up: str, page_of: Any) -> str:
    """The page; ``clip_pages``: "watcher/clip_id" -> its clip page (clips in the report); ``up``: from this
    page to the library root; ``page_of(page)``: the full HTML document around a body."""
    doc = r.doc
    cands: list[dict[str, Any]] = doc["candidates"]
    best = doc.get("recommended")
    agreement = doc.get("agreement") or {}
    ratio = agreement.get("ratio")
    agree = ("not measured: no judged clip was recorded with the current settings" if ratio is None else
             f"{ratio:.0%} of {len(agreement.get('compared', []))} clips recorded with the current settings"
             + (" (POOR)" if agreement.get("poor") else ""))
    out = [(f'<header><div class="nav"><a href="../index.html">&larr; all clips</a></div>'
           f"<h1>Tuning: {escape(r.camera)}</h1><div class=\"totals\">{escape(r.tuned_at)} · clips from "
           f"{escape(str(doc.get('source', '')))} · current settings from "
           f"{escape(str(doc.get('current_settings_from', '')))}</div></header><main>"),
           f'<p id="verdict"><b>{escape(r.verdict)}</b></p>',
           f'<p id="agreement">Replay agreement with the Pi: {escape(agree)}</p>']
    if doc.get("config"):
        out.append(f'<h2>Paste into the Pi\'s watcher.toml</h2><pre id="config">{escape(doc["config"])}</pre>')
    out.append('<h2>Candidates</h2><div class="scroll"><table id="candidates"><tr><th>candidate</th><th>changes</th>'
               "<th>real kept</th><th>false alarms dropped</th><th>ms/frame</th></tr>")
    reals = sum(v["label"] == "real" for v in cands[0]["clips"])
    falses = len(cands[0]["clips"]) - reals
    for c in cands:
        mark = ' class="recommended"' if c["name"] == best else ""
        out.append(f'<tr{mark} data-name="{escape(c["name"])}"><td>{escape(c["name"])}'
                   f'{" ★" if c["name"] == best else ""}</td><td>{escape(_changes(c))}</td>'
                   f'<td>{int(c["real_kept"])}/{reals}</td><td>{len(c["false_dropped"])}/{falses}</td>'
                   f'<td>{float(c["cost_ms_per_frame"]):.2f}</td></tr>')
    out.append("</table></div>")
    thumbs: dict[str, str] = doc.get("thumbs") or {}
    shown = [c for c in cands if c["name"] in ("current", best)] + [c for c in cands if c["name"] not in
                                                                    ("current", best)]
    out.append('<h2>Clips</h2><div class="scroll"><table id="clips"><tr><th>clip</th><th>label</th>'
               + "".join(f"<th>{escape(c['name'])}</th>" for c in shown) + "</tr>")
    for i, v in enumerate(cands[0]["clips"]):
        key = str(v["clip"])
        if key not in clip_pages:  # removed since (retention, quarantine): its thumbnail went with it
            thumb = '<span class="muted">no longer in the library</span>'
        elif key in thumbs:
            thumb = f'<img class="thumb" src="{up}{quote(thumbs[key])}" alt="{escape(key)}" width="160">'
        else:
            thumb = '<span class="muted">no thumbnail</span>'
        name = escape(key)
        link = f'<a href="../{quote(clip_pages[key])}">{name}</a>' if key in clip_pages else name
        cells = "".join('<td class="{}">{}</td>'.format(*_cell(c["clips"][i])) for c in shown)
        out.append(f'<tr data-clip="{name}" data-label="{escape(str(v["label"]))}"><td>{thumb}<br>{link}</td>'
                   f'<td>{escape(LABEL_WORDS.get(str(v["label"]), str(v["label"])))}</td>{cells}</tr>')
    out.append("</table></div>")
    skipped = doc.get("skipped") or []
    if skipped:
        out.append("<h2>Not judged</h2><ul>" + "".join(
            f"<li>{escape(str(s['clip']))} ({escape(str(s['label']))}): {escape(str(s['why']))}</li>"
            for s in skipped) + "</ul>")
    out.append("</main>")
    return str(page_of(f"Tuning {r.camera}", "".join(out)))
