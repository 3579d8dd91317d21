"""What the watcher publishes, as messages: Home Assistant discovery, motion changes, health with the
frames-stopped problem. The link is a recorder of messages here; tests/integration/test_mqtt_events.py
runs the same through a real Mosquitto broker."""

from __future__ import annotations

import json
from typing import Any

from shared.mqtt_link import LinkStats
from shared.mqtt_message import MqttMessage
from watcher.events import WatcherEvents
from watcher.ha_discovery import Topics, discovery_messages
from watcher.status import Counters, Status


class _Recorder:
    def __init__(self) -> None:
        self.messages: list[MqttMessage] = []

    def publish(self, m: MqttMessage) -> None:
        self.messages.append(m)

    def stats(self) -> LinkStats:
        return LinkStats(True, 0, len(self.messages), 3, None)


class _Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def _events() -> tuple[WatcherEvents, _Recorder, _Clock]:
    rec, clock = _Recorder(), _Clock()
    link: Any = rec  # the recorder has the two methods WatcherEvents uses
    ev = WatcherEvents(link, Topics.of("mw", "garden"), stall_s=5.0, clock=clock)
    return ev, rec, clock


def _status(**kw: Any) -> Status:
    base = dict(updated_at="2026-12-02T06:00:00Z", pid=1, uptime_s=1.0, fps_in=10.0, fps_out=10.0,
                disk_free_bytes=5_000_000_000, disk_total_bytes=8_000_000_000, frames_in=10, frames_encoded=10,
                frames_dropped=0, packets_dropped=0, clips_published=0, motion=False, recording=False,
                current_clip=None, last_clip=None, last_error=None, last_error_at=None, source="synthetic",
                state="running", recording_paused=None)
    return Status(**(base | kw))


def test_discovery_announces_one_device_with_stable_ids_on_the_availability_topic() -> None:
    t = Topics.of("mw", "front-door")
    msgs = discovery_messages("homeassistant", t, "front-door", "0.1.0")
    assert all(m.retain for m in msgs)
    configs = {m.topic: json.loads(m.payload) for m in msgs}
    assert "homeassistant/binary_sensor/front_door/motion/config" in configs
    assert "homeassistant/event/front_door/clip/config" in configs
    motion = configs["homeassistant/binary_sensor/front_door/motion/config"]
    assert (motion["state_topic"], motion["device_class"], motion["unique_id"]) == \
        ("mw/front-door/motion", "motion", "motion_watcher_front_door_motion")
    assert {json.dumps(c["device"], sort_keys=True) for c in configs.values()} == \
        {json.dumps(motion["device"], sort_keys=True)}, "one device for every entity"
    assert {c["availability_topic"] for c in configs.values()} == {"mw/front-door/availability"}
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)
    assert configs["homeassistant/event/front_door/clip/config"]["event_types"] == ["clip_published"]


def test_motion_is_published_when_it_changes_and_not_before_the_first_event() -> None:
    ev, rec, _ = _events()
    for on in (False, False, True, True, True, False, False, True):
        ev.motion(on)
    assert [(m.topic, m.payload, m.retain) for m in rec.messages] == [
        ("mw/garden/motion", b"ON", True), ("mw/garden/motion", b"OFF", True), ("mw/garden/motion", b"ON", True)]


def test_health_flags_frames_stopped_after_the_stall_time_and_a_paused_recording() -> None:
    ev, rec, clock = _events()
    ev.health(_status(frames_in=10))
    clock.now += 4.9
    ev.health(_status(frames_in=10))
    first, second = (json.loads(m.payload) for m in rec.messages)
    assert first["frames_flowing"] and second["frames_flowing"] and not second["problem"]
    clock.now += 0.2  # 5.1 s without a new frame
    ev.health(_status(frames_in=10, recording_paused="disk below the floor"))
    h = json.loads(rec.messages[-1].payload)
    assert (h["frames_flowing"], h["problem"], h["recording_paused"]) == (False, True, True)
    assert h["problems"] == ["no frame for 5 s", "recording paused: disk below the floor"]
    assert h["disk_free_mb"] == 5000 and rec.messages[-1].topic == "mw/garden/health" and rec.messages[-1].retain
    ev.health(_status(frames_in=11))
    assert json.loads(rec.messages[-1].payload)["frames_flowing"]


def test_the_link_counts_go_into_status_json() -> None:
    ev, rec, _ = _events()
    rec.messages.append(MqttMessage("x", b""))
    c = Counters()
    ev.before(c)
    assert (c.events_connected, c.events_sent, c.events_dropped) == (True, 1, 3)
