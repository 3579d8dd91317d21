"""The inspector's events after a real pull (real sshd, real clips, real analysis) through a real Mosquitto
broker and a local webhook target: each clip stored and analyzed (people, duration, thumbnail, report
link), each watcher's state, and a problem for a watcher that cannot be reached."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from inspector.catalog import Catalog
from tests.hook_server import HookServer
from tests.inspector_env import copy_clips
from tests.inspector_net import table
from tests.mosquitto import MOSQUITTO, Message, Subscriber, ThrowawayBroker
from tests.proc import ROOT

pytestmark = pytest.mark.skipif(not os.path.exists(MOSQUITTO) and not os.environ.get("CI"),
                                reason="needs Debian's mosquitto (tests/sysdeps.sh installs it; never skipped in CI)")

BASE = "motion-watcher/inspector"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_pull_publishes_each_clip_stored_and_analyzed_and_each_watchers_state(
        tmp_path: Path, sshd, watcher_clips: Path, broker: ThrowawayBroker) -> None:
    remote = tmp_path / "pi" / "recorded_clips"
    copy_clips(watcher_clips, remote)
    ids = {p.stem for p in remote.glob("*.json")}
    password = tmp_path / "mqtt-password"
    password.write_text(broker.users["inspector"] + "\n")
    password.chmod(0o600)
    hooks = HookServer()
    library = tmp_path / "library"
    dead = table(sshd.watcher_toml("dead", tmp_path / "gone" / "recorded_clips"), port=_closed_port(),
                 connect_timeout_s=2.0)
    cfg = tmp_path / "inspector.toml"
    cfg.write_text(f'library = "{library}"\nunreachable_alert_s = 0\n'
                   f'[mqtt]\nenabled = true\nhost = "{broker.host}"\nport = {broker.port}\nusername = "inspector"\n'
                   f'password_file = "{password}"\n'
                   f'[[webhook]]\nurl = "{hooks.url}"\n'
                   + sshd.watcher_toml("pi1", remote) + dead)
    ha = Subscriber(broker, "ha", ["homeassistant/#", "motion-watcher/#"])
    try:
        ha.wait_connected()
        r = subprocess.run([sys.executable, "-m", "inspector", "pull", "--config", str(cfg), "--workers", "1"],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert r.returncode == 1, r.stderr[-3000:]  # the dead watcher's pass failed; pi1's went through
        messages = ha.messages_until(lambda m: m.topic == f"{BASE}/availability" and m.payload == b"offline",
                                     timeout=30, what="offline at the end")
    finally:
        ha.close()
        received = []
        while not hooks.received.empty():
            received.append(json.loads(hooks.received.get().body))
        hooks.close()
    _check_mqtt(messages, ids, library)
    kinds = [b["event"] for b in received]
    assert sorted(b["id"] for b in received if b["event"] == "clip_stored") == sorted(ids)
    assert sorted(b["id"] for b in received if b["event"] == "clip_analyzed") == sorted(ids)
    assert kinds.count("watcher_problem") == 1
    problem = next(b for b in received if b["event"] == "watcher_problem")
    assert (problem["watcher"], problem["reachable"]) == ("dead", False) and problem["last_error"]


def _check_mqtt(messages: list[Message], ids: set[str], library: Path) -> None:
    topics = [m.topic for m in messages]
    configs = [t for t in topics if t.startswith("homeassistant/")]
    assert any(t == "homeassistant/binary_sensor/inspector/dead_problem/config" for t in configs)
    online = topics.index(f"{BASE}/availability")
    assert messages[online].payload == b"online" and online == len(configs), "discovery, then online"
    cat = Catalog(library / "catalog.sqlite3")
    try:
        rows = {r.clip_id: r for r in cat.rows("pi1")}
    finally:
        cat.close()
    clips = [json.loads(m.payload) for m in messages if m.topic == f"{BASE}/pi1/clip"]
    stored = {c["id"]: c for c in clips if c["event_type"] == "clip_stored"}
    analyzed = {c["id"]: c for c in clips if c["event_type"] == "clip_analyzed"}
    assert set(stored) == set(analyzed) == ids
    for clip_id, c in stored.items():
        assert (c["sha256"], c["size"], c["camera"]) == (rows[clip_id].sha256, rows[clip_id].size, "cam1")
        assert c["duration_s"] > 0 and c["started_at"].endswith("Z")
    for c in analyzed.values():
        assert isinstance(c["people"], int) and c["duration_s"] > 0
        report = Path(urlparse(c["report"]).path)
        assert report.is_file() and report.name == f"{c['id']}.html", c["report"]
        assert Path(urlparse(c["thumbnail"]).path).is_file(), c["thumbnail"]
    thumbs = [m for m in messages if m.topic == f"{BASE}/pi1/thumbnail"]
    assert thumbs and all(m.payload[:3] == b"\xff\xd8\xff" for m in thumbs), "JPEG thumbnails"
    states = {m.topic.split("/")[2]: json.loads(m.payload) for m in messages if m.topic.endswith("/state")}
    assert states["pi1"]["reachable"] is True and states["pi1"]["waiting"] == 0 and states["pi1"]["last_pull_at"]
    assert states["dead"]["reachable"] is False and states["dead"]["problem"] is True
    assert states["dead"]["last_error"] and states["dead"]["last_pull_at"] is None
