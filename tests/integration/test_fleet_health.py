"""Fleet health end to end through a real sshd: each watcher's status.json is read at every pass and each Pi
is flagged for the right reason in ``inspector status`` (text and --json); a hostile status.json (oversize,
malformed) is rejected like a hostile manifest, with the reason."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from inspector.catalog import Catalog
from tests.chromium import REPORT_OUT, checked
from tests.inspector_env import write_config
from tests.inspector_net import table
from tests.proc import ROOT, WatcherProcess, wait_for_file
from watcher.clock_sync import clock_synchronized
from watcher.status import MAX_STATUS_BYTES, Counters, StatusReporter

FLOOR = 512 * 1024 * 1024


def _written_status(data: Path, **counters: object) -> None:
    """A status.json as the watcher writes it (its own reporter), from the given counters."""
    (data / "recorded_clips").mkdir(parents=True)
    c = Counters(source="picamera2", state="running", **counters)  # type: ignore[arg-type]
    StatusReporter(data / "status.json", c, interval_s=2.0, started_mono=time.monotonic() - 60,
                   min_free_bytes=FLOOR).write(time.monotonic())


def _inspector(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inspector", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_each_pi_is_flagged_for_the_right_reason(tmp_path: Path, sshd) -> None:
    healthy = tmp_path / "healthy"
    live = WatcherProcess("--source", "synthetic", "--realtime", "--duration", "120", "--data-dir", str(healthy),
                          "--log-level", "WARNING")
    wait_for_file(healthy / "status.json", lambda t: json.loads(t)["state"] == "running"
                  and json.loads(t)["frames_in"] > 0, timeout=60)
    now = time.time()
    _written_status(tmp_path / "stopped-frames", last_frame_wall=now - 90, frames_in=1200)
    _written_status(tmp_path / "full", last_frame_wall=now, frames_in=1200,
                    recording_paused="free space 300 MB is below the floor (512 MB) and nothing may be deleted")
    for name, raw in (("oversize", b"{" + b" " * MAX_STATUS_BYTES + b"}"), ("malformed", b'{"state": "running"')):
        (tmp_path / name / "recorded_clips").mkdir(parents=True)
        (tmp_path / name / "status.json").write_bytes(raw)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    tables = [sshd.watcher_toml(n, tmp_path / n / "recorded_clips")
              for n in ("healthy", "stopped-frames", "full", "oversize", "malformed")]
    tables.append(table(sshd.watcher_toml("gone", tmp_path / "gone" / "recorded_clips"), port=closed,
                        connect_timeout_s=2.0))
    cfg = write_config(tmp_path / "inspector.toml", tmp_path / "library", tables)
    try:
        pull = _inspector("pull", "--no-analyze", "--config", str(cfg))
        assert pull.returncode == 1, pull.stderr[-3000:]  # "gone" failed; the others went through
        st = _inspector("status", "--config", str(cfg), "--json")
        text = _inspector("status", "--config", str(cfg))
        report = _inspector("report", "--config", str(cfg))
    finally:
        live.proc.terminate()
        live.finish(timeout=60)
    assert st.returncode == 0, st.stderr[-2000:]
    health = json.loads(st.stdout)["health"]
    flags = {name: [f["flag"] for f in h["flags"]] for name, h in health.items()}
    clock = ["clock"] if clock_synchronized() is False else []  # this machine's own clock, as the watchers report
    assert flags == {
        "healthy": clock,
        "stopped-frames": ["no_frames", *clock],
        "full": ["disk", *clock],
        "oversize": ["status_rejected"],
        "malformed": ["status_rejected"],
        "gone": ["unreachable"],
    }, json.dumps(health, indent=1)[:4000]
    rules = {name: {f["flag"]: f["rule"] for f in h["flags"]} for name, h in health.items()}
    assert rules["stopped-frames"]["no_frames"].startswith("no frame for 9")  # 90 s, by the Pi's own clock
    assert "recording paused: free space 300 MB" in rules["full"]["disk"]
    oversize = f"status.json is {MAX_STATUS_BYTES + 2} bytes (cap {MAX_STATUS_BYTES})"
    assert rules["oversize"]["status_rejected"] == oversize
    assert rules["malformed"]["status_rejected"].startswith("status.json rejected: ")
    assert "the last pass failed" in rules["gone"]["unreachable"] and health["gone"]["last_contact"] is None
    h = health["healthy"]
    assert h["state"] == "running" and h["frames_flowing"] and h["fps_in"] > 0 and h["frames_dropped"] == 0
    assert h["min_free_bytes"] == FLOOR and h["boot_id"] and h["system_uptime_s"] > 0 and h["last_contact"]
    for name in ("healthy", "stopped-frames", "full", "oversize", "malformed", "gone"):
        assert f"  {name}: " in text.stdout, text.stdout
    assert "! no_frames: no frame for 9" in text.stdout and "PAUSED: free space 300 MB" in text.stdout
    cat = Catalog(tmp_path / "library" / "catalog.sqlite3")
    try:
        kept = cat.health()
    finally:
        cat.close()
    assert json.loads(kept["healthy"][1] or "{}")["state"] == "running"  # the checked document, kept
    assert kept["oversize"][1] is None and kept["oversize"][2] == oversize  # nothing of it kept but the reason
    assert "gone" not in kept, "an unreachable Pi has no status read"
    # the report's top, as a person sees it in a browser
    assert report.returncode == 0, report.stderr[-2000:]
    seen = checked(tmp_path, tmp_path / "library" / "report" / "index.html", FLEET_PROBE)
    assert {r["watcher"]: r["flags"] for r in seen} == flags
    shown = {r["watcher"]: r for r in seen}
    assert (shown["healthy"]["cls"], shown["healthy"]["verdict"]) == (("flagged", "clock") if clock else ("ok", "ok"))
    assert shown["stopped-frames"]["cls"] == "flagged" and shown["stopped-frames"]["rules"][0].startswith("no frame")
    assert shown["oversize"]["rules"] == [oversize] and shown["gone"]["contact"] == "never"
    assert all(r["visible"] for r in seen), "the table is on the page, not hidden"


FLEET_PROBE = """
window.addEventListener('load', function(){
  var out=[].slice.call(document.querySelectorAll('#fleet tr[data-watcher]')).map(function(tr){
    var td=tr.querySelectorAll('td');
    return {watcher: tr.dataset.watcher, cls: tr.className, verdict: td[1].textContent, contact: td[2].textContent,
            flags: [].slice.call(tr.querySelectorAll('li[data-flag]')).map(function(li){return li.dataset.flag;}),
            rules: [].slice.call(tr.querySelectorAll('li[data-flag]')).map(function(li){return li.textContent;}),
            visible: tr.getBoundingClientRect().height > 0};
  });
  """ + REPORT_OUT + "});"
