"""``python -m inspector status --config FILE [--json]``: the catalog's clip states per watcher, and each
watcher's health from its last status.json, with the flags and the rule behind each
(:mod:`inspector.fleet_health`)."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from inspector.commands.library import open_library

logger = logging.getLogger("inspector")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True)
    p.add_argument("--json", action="store_true")


def summary_text(summary: dict[str, Any]) -> str:
    lines = ["state counts: " + (", ".join(f"{k}={v}" for k, v in sorted(summary["states"].items())) or "none")]
    for name, d in sorted(summary["watchers"].items()):
        states = ", ".join(f"{k}={v}" for k, v in sorted(d.get("states", {}).items())) or "no clips"
        line = f"  {name}: {states}"
        if d.get("skipped"):
            line += f"; skipped {d['skipped']}"
        if d.get("last_error"):
            current = (d.get("last_error_at") or 0) >= (d.get("last_ok") or 0)
            line += f"; {'FAILING' if current else 'recovered; last error'}: {d['last_error']}"
        lines.append(line)
    return "\n".join(lines)


def _clock(synchronized: bool | None) -> str:
    return "unknown" if synchronized is None else "synchronized" if synchronized else "NOT synchronized"


def _details(h: dict[str, Any]) -> list[str]:
    """What the watcher's last status.json said, in two lines."""
    free = f"{h['disk_free_bytes'] / 1e6:.0f} MB" if h["disk_free_bytes"] >= 0 else "unknown"
    floor = (h["min_free_bytes"] or 0) / 1e6
    frames = "flowing" if h["frames_flowing"] else "NOT flowing"
    paused = f", PAUSED: {h['recording_paused']}" if h["recording_paused"] else ""
    age = f", {h['last_clip_age_s']} s ago" if h.get("last_clip_age_s") is not None else ""
    written = h["device_written_bytes"] if h["device_written_bytes"] is not None else "unknown"
    error = f"; last error: {h['last_error']}" if h["last_error"] else ""
    first = (f"    {h['state']}, frames {frames} (last {h['last_frame_at'] or 'never'}), {h['fps_in']:g} fps in / "
             f"{h['fps_out']:g} out, {h['frames_dropped']} dropped; disk {free} free (floor {floor:.0f} MB){paused}; "
             f"clock {_clock(h['clock_synchronized'])}")
    second = (f"    last clip {h['last_clip'] or 'none'}{age}; clip bytes today {h['clip_bytes_today'] or 0}, since "
              f"install {h['clip_bytes_total'] or 0}; data disk written since boot {written}{error}")
    return [first, second]


def health_text(health: dict[str, dict[str, Any]]) -> str:
    lines = ["fleet health:"]
    for name, h in sorted(health.items()):
        flags = h["flags"]
        verdict = "FLAGGED " + ", ".join(f["flag"] for f in flags) if flags else "ok"
        lines.append(f"  {name}: {verdict} (last contact {h['last_contact'] or 'never'})")
        if "state" in h:
            lines += _details(h)
        lines += [f"    ! {f['flag']}: {f['rule']}" for f in flags]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from inspector.catalog import Catalog
    from inspector.fleet_health import fleet_view

    cfg = open_library(args.config)
    names = [w.name for w in cfg.watchers]
    if not (cfg.library / "catalog.sqlite3").exists():
        summary: dict[str, Any] = {"states": {}, "watchers": {}}
        health = {}
    else:
        cat = Catalog(cfg.library / "catalog.sqlite3")
        try:
            summary = cat.summary()
            health = fleet_view(cat, names)
        finally:
            cat.close()
    summary["health"] = health
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        print(summary_text(summary))
        if health:
            print(health_text(health))
    return 0
