"""The watcher's MQTT events through a real Mosquitto broker (tests/mosquitto.py: password logins, an ACL),
as Home Assistant or any subscriber sees them: discovery, availability and its last will, motion, clips,
health; a broker that dies, restarts or refuses the login costs the recording nothing."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.clips import verify_recorded
from tests.footage import footage_path
from tests.mosquitto import MOSQUITTO, Message, Subscriber, ThrowawayBroker
from tests.proc import WatcherProcess, wait_for_file

pytestmark = pytest.mark.skipif(not os.path.exists(MOSQUITTO) and not os.environ.get("CI"),
                                reason="needs Debian's mosquitto (tests/sysdeps.sh installs it; never skipped in CI)")

CAMERA = "garden"
BASE = f"motion-watcher/{CAMERA}"
AVAILABILITY, MOTION, CLIP, HEALTH, SNAPSHOT = (f"{BASE}/{x}" for x in ("availability", "motion", "clip", "health",
                                                                         "snapshot"))


@pytest.fixture
def ha(broker: ThrowawayBroker) -> Iterator[Subscriber]:
    s = Subscriber(broker, "ha", ["homeassistant/#", "motion-watcher/#"])
    s.wait_connected()
    try:
        yield s
    finally:
        s.close()


def watcher_config(tmp_path: Path, broker: ThrowawayBroker, *, password: str | None = None, extra: str = "") -> Path:
    pw = tmp_path / "mqtt-password"
    pw.write_text((password or broker.users["pi"]) + "\n")
    pw.chmod(0o600)
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(f'[watcher]\ncamera = "{CAMERA}"\ndata_dir = "data"\nstatus_interval_s = 0.2\n'
                   f'[mqtt]\nenabled = true\nhost = "{broker.host}"\nport = {broker.port}\nusername = "pi"\n'
                   f'password_file = "{pw}"\nreconnect_max_s = 1\n{extra}')
    return cfg


def _kinds(messages: list[Message]) -> list[str]:
    """The messages as a readable sequence, health left out (it comes every status interval)."""
    out = []
    for m in messages:
        if m.topic.startswith("homeassistant/"):
            out.append("config")
        elif m.topic == CLIP:
            out.append("clip")
        elif m.topic in (AVAILABILITY, MOTION):
            out.append(m.payload.decode())
        elif m.topic == SNAPSHOT:
            out.append("snapshot")
    return out


def test_real_footage_gives_discovery_online_motion_and_each_clip_with_its_sha256(
        tmp_path: Path, broker: ThrowawayBroker, ha: Subscriber) -> None:
    vtest = footage_path("vtest.avi")
    w = WatcherProcess("--config", str(watcher_config(tmp_path, broker)), "--source", f"file:{vtest}")
    assert w.finish(timeout=300) == 0, w.log[-20:]
    messages = ha.messages_until(lambda m: m.topic == AVAILABILITY and m.payload == b"offline", timeout=30,
                                 what="offline at the end of the run")
    kinds = _kinds(messages)
    configs = kinds.count("config")
    assert configs >= 10 and kinds[:configs] == ["config"] * configs, kinds[:20]
    assert kinds[configs] == "online", kinds[:configs + 3]
    events = kinds[configs + 1:-1]
    assert events[0] == "ON" and kinds[-1] == "offline", events
    motion = [k for k in events if k in ("ON", "OFF", "snapshot")]
    assert motion == ["ON", "OFF", "snapshot"] * (len(motion) // 3), f"ON, OFF, then its snapshot: {motion}"
    for snap in (m for m in messages if m.topic == SNAPSHOT):  # a real JPEG, decoded by OpenCV
        image = cv2.imdecode(np.frombuffer(snap.payload, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape == (480, 640, 3), "vtest's 768x576 frame scaled to 640 wide"
    manifests = {m.id: m for m in verify_recorded(tmp_path / "data" / "recorded_clips", decode=False)}
    clips = [json.loads(m.payload) for m in messages if m.topic == CLIP]
    assert sorted(c["id"] for c in clips) == sorted(manifests), "each clip announced once"
    for c in clips:
        m = manifests[c["id"]]
        assert (c["event_type"], c["sha256"], c["size"], c["started_at"]) == \
            ("clip_published", m.sha256, m.size, m.started_at)
    assert not any(m.retain for m in messages if m.topic == CLIP), "a clip is an event, not a state"
    # the last motion message before each clip event's end says when the event is over
    healths = [json.loads(m.payload) for m in messages if m.topic == HEALTH]
    assert healths and healths[-1]["state"] == "stopped" and healths[-1]["frames_in"] == 795
    assert all(h["frames_dropped"] == 0 for h in healths)


def test_sigkilled_watcher_is_offline_by_its_last_will(tmp_path: Path, broker: ThrowawayBroker,
                                                      ha: Subscriber) -> None:
    w = WatcherProcess("--config", str(watcher_config(tmp_path, broker)), "--source", "synthetic", "--realtime")
    ha.expect(lambda m: m.topic == AVAILABILITY and m.payload == b"online", timeout=60, what="online")
    os.kill(w.proc.pid, signal.SIGKILL)
    w.finish(timeout=30)
    got = ha.expect(lambda m: m.topic == AVAILABILITY, timeout=30, what="the last will")
    assert got.payload == b"offline"


def test_refused_login_is_one_clear_error_and_recording_goes_on(tmp_path: Path, broker: ThrowawayBroker,
                                                               ha: Subscriber) -> None:
    cfg = watcher_config(tmp_path, broker, password="wrong")
    w = WatcherProcess("--config", str(cfg), "--source", "synthetic", "--duration", "20")
    assert w.finish(timeout=300) == 0, w.log[-20:]
    refused = [x for x in w.log if "refused the connection" in x]
    assert refused, w.log[-20:]
    assert "check mqtt.username and mqtt.password_file" in refused[0]
    assert "wrong" not in "\n".join(w.log), "the password is never logged"
    assert verify_recorded(tmp_path / "data" / "recorded_clips", decode=False), "clips recorded all the same"
    status = json.loads((tmp_path / "data" / "status.json").read_text())
    assert status["events_connected"] is False and status["events_sent"] == 0 and status["events_dropped"] > 0
    assert status["frames_dropped"] == 0


def test_broker_killed_and_restarted_mid_run(tmp_path: Path, broker: ThrowawayBroker, ha: Subscriber) -> None:
    cfg = watcher_config(tmp_path, broker, extra="queue_size = 5\n")
    w = WatcherProcess("--config", str(cfg), "--source", "synthetic", "--realtime", "--duration", "60")
    status = tmp_path / "data" / "status.json"
    first = ha.expect(lambda m: m.topic == CLIP, timeout=90, what="a first clip")
    broker.kill()
    ha.close()
    outage = wait_for_file(status, lambda t: json.loads(t)["events_connected"] is False, timeout=30)
    # while the broker is away: the watcher records on, and counts what it drops
    clips_before = json.loads(outage)["clips_published"]
    during = wait_for_file(status, lambda t: json.loads(t)["clips_published"] > clips_before
                           and json.loads(t)["events_dropped"] > 0, timeout=60)
    dropped = json.loads(during)["events_dropped"]
    assert json.loads(during)["frames_dropped"] == 0 and json.loads(during)["state"] == "running"
    broker.restart_same_port()
    again = Subscriber(broker, "ha", ["motion-watcher/#"])
    try:
        again.wait_connected()
        wait_for_file(status, lambda t: json.loads(t)["events_connected"] is True, timeout=30)
        first_id = json.loads(first.payload)["id"]
        later = again.expect(lambda m: m.topic == CLIP and json.loads(m.payload)["id"] != first_id,
                             timeout=90, what="a clip event after the restart")
        assert json.loads(later.payload)["event_type"] == "clip_published"
    finally:
        again.close()
    w.proc.terminate()  # seen enough: a clean stop (SIGTERM publishes the open clip, exit 0)
    assert w.finish(timeout=120) == 0
    final = json.loads(status.read_text())
    assert final["frames_dropped"] == 0 and final["events_dropped"] >= dropped


def test_tls_with_the_brokers_ca(tmp_path: Path) -> None:
    broker = ThrowawayBroker(tmp_path / "broker", tls=True)
    broker.start()
    try:
        ha = Subscriber(broker, "ha", ["motion-watcher/#"])
        ha.wait_connected()
        cfg = watcher_config(tmp_path, broker, extra=f'tls = true\nca_file = "{broker.ca_file}"\n')
        w = WatcherProcess("--config", str(cfg), "--source", "synthetic", "--duration", "20")
        assert w.finish(timeout=300) == 0, w.log[-20:]
        clip = ha.expect(lambda m: m.topic == CLIP, timeout=30, what="a clip over TLS")
        ids = {m.id for m in verify_recorded(tmp_path / "data" / "recorded_clips", decode=False)}
        assert json.loads(clip.payload)["id"] in ids
        ha.close()
    finally:
        broker.stop()


def test_a_broker_unreachable_at_start_is_not_an_error(tmp_path: Path, broker: ThrowawayBroker) -> None:
    broker.stop()  # nothing listens on its port now
    cfg = watcher_config(tmp_path, broker)
    w = WatcherProcess("--config", str(cfg), "--source", "synthetic", "--duration", "20")
    assert w.finish(timeout=300) == 0, w.log[-20:]
    unreachable = [x for x in w.log if "unreachable; retrying" in x]
    assert len(unreachable) == 1, w.log[-20:]  # one line, not one per retry
    assert verify_recorded(tmp_path / "data" / "recorded_clips", decode=False)
    status = json.loads((tmp_path / "data" / "status.json").read_text())
    assert status["events_connected"] is False and status["events_dropped"] > 0 and status["frames_dropped"] == 0
