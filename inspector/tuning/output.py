"""``tune``'s answer as text, as JSON, and the table to paste into the Pi's ``watcher.toml``."""

from __future__ import annotations

import json
from typing import Any

from inspector.tuning.judge import Judgement
from shared.replay import Detection

SCHEMA = 1  # of the JSON document (what the report's tune page reads back)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(_toml(v) for v in value) + "]"


def describe(label: str, kept: bool, recorded: bool, delay_s: float | None) -> tuple[bool, str]:
    """(good?, words) for what a candidate does with one clip: a real event kept (and how late it is seen),
    missed or late; a false alarm dropped or recorded."""
    if label == "real":
        if kept:
            return True, "kept" + ("" if delay_s is None else f" {delay_s:+.1f} s")
        return False, "missed" if delay_s is None else f"late {delay_s:+.1f} s"
    return (False, "recorded") if recorded else (True, "dropped")


def config_tables(best: Detection, current: Detection) -> str:
    """``[detector]`` (and ``[trigger]`` when it changed) as TOML, every key, the changed ones marked."""
    doc, was = best.to_doc(), current.to_doc()
    lines: list[str] = []
    for section in ("detector", "trigger"):
        if section == "trigger" and doc[section] == was[section]:
            continue
        lines.append(f"[{section}]")
        for key, value in doc[section].items():
            mark = f"  # was {_toml(was[section][key])}" if was[section][key] != value else ""
            lines.append(f"{key} = {_toml(value)}{mark}")
    return "\n".join(lines) + "\n"


def to_json(j: Judgement, *, camera: str, source: str, settings_from: str) -> dict[str, Any]:
    cur = j.results[0].detection
    return {
        "schema": SCHEMA, "camera": camera, "source": source, "current_settings_from": settings_from,
        "current": cur.to_doc(),
        "agreement": {"ratio": j.agreement.ratio, "offsets_s": j.agreement.offsets,
                      "compared": [c.__dict__ for c in j.agreement.compared],
                      "not_comparable": j.agreement.not_comparable, "poor": j.agreement.poor},
        "skipped": [s.__dict__ for s in j.skipped],
        "candidates": [{
            "name": r.name, "changes": r.changes, "keeps_every_real": r.keeps_every_real,
            "real_kept": len(r.real_kept), "real_lost": [v.clip for v in r.real_lost],
            "false_dropped": [v.clip for v in r.false_dropped], "false_kept": [v.clip for v in r.false_kept],
            "cost_ms_per_frame": round(r.cost_ms, 3),
            "clips": [v.__dict__ for v in r.verdicts]} for r in j.results],
        "recommended": None if j.recommended is None else j.recommended.name,
        "undroppable": j.undroppable,
        "verdict": j.verdict,
        "config": None if j.recommended is None else config_tables(j.recommended.detection, cur),
    }


def text(j: Judgement, *, camera: str, settings_from: str) -> str:
    out = [f"camera {camera}: current settings from {settings_from}"]
    reals = sum(v.label == "real" for v in j.results[0].verdicts)
    falses = len(j.results[0].verdicts) - reals
    out.append(f"judged {reals} real and {falses} false-alarm clips; {len(j.skipped)} not judged")
    out.extend(f"  not judged: {s.clip} ({s.label}): {s.why}" for s in j.skipped)
    a = j.agreement
    if a.ratio is None:
        out.append("agreement with the Pi: not measured (no judged clip was recorded with the current settings)")
    else:
        agreed = sum(c.agrees for c in a.compared)
        off = a.offsets
        median = f"{off[len(off) // 2]:.1f} s" if off else "-"
        out.append(f"agreement with the Pi: {agreed}/{len(a.compared)} clips recorded with the current settings "
                   f"({a.ratio:.0%}) are recorded from their start by the replay too"
                   + (" -- POOR" if a.poor else "") + f"; event starts {median} apart (median), "
                   f"{off[-1] if off else 0:.1f} s at most")
        for c in a.compared:
            if not c.agrees:
                seen = "never" if c.replay_start_s is None else f"at {c.replay_start_s:.1f} s"
                out.append(f"  disagrees: {c.clip}: the Pi from {c.pi_start_s:.1f} s, the replay {seen}")
    out.append("")
    out.append(f"{'candidate':12s} {'real kept':>9s} {'false dropped':>13s} {'ms/frame':>8s}  changes")
    for r in j.results:
        changes = ", ".join(f"{k}={_toml(v)}" for k, v in r.changes.items()) or "-"
        mark = "*" if r is j.recommended else " "
        out.append(f"{mark}{r.name:11s} {len(r.real_kept):4d}/{reals:<4d} {len(r.false_dropped):6d}/{falses:<6d} "
                   f"{r.cost_ms:8.2f}  {changes}")
    best = j.recommended or j.results[0]
    shown = [j.results[0]] + ([best] if best is not j.results[0] else [])
    out.append("")
    out.append("clip by clip: " + " -> ".join(r.name for r in shown) + " (delay: seen after the Pi saw it begin)")
    for i, v in enumerate(j.results[0].verdicts):
        cells = [describe(v.label, r.verdicts[i].kept, r.verdicts[i].recorded, r.verdicts[i].delay_s)[1] for r in shown]
        out.append(f"  {v.clip} ({v.label}): " + " -> ".join(cells))
    out.append("")
    out.append(j.verdict)
    if j.recommended is not None and j.recommended.changes:
        out.append("Paste into the Pi's watcher.toml (replacing these tables):")
        out.append(config_tables(j.recommended.detection, j.results[0].detection))
    return "\n".join(out)
