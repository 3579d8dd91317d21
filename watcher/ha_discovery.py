"""The watcher's MQTT topics, and the Home Assistant discovery messages that announce them.

Pure: builds topics and payloads, no I/O. One Pi is one Home Assistant device (its camera name);
each entity has a retained config message on ``<discovery_prefix>/<component>/<node>/<object>/config``
with a stable ``unique_id`` and the shared ``device`` block, and the device's availability topic
(set ``online`` by the link on connect, ``offline`` by the broker's last will). Sources: Home
Assistant's "MQTT Discovery" documentation (config topic, ``device``, ``availability_topic``,
``event_types`` of the event entity, ``image_topic`` of the image entity); Zigbee2MQTT and Frigate
announce their devices the same way.

State topics, under ``<topic_prefix>/<camera>/``:
    availability  online / offline                 (retained)
    motion        ON / OFF: an event in progress    (retained)
    clip          JSON per clip published           (not retained: an event, not a state)
    health        JSON every status interval        (retained)
    snapshot      JPEG of the last event's most active frame (retained)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared.mqtt_message import MqttMessage

MODEL = "motion-watcher"


@dataclass(frozen=True)
class Topics:
    base: str

    @classmethod
    def of(cls, topic_prefix: str, camera: str) -> Topics:
        return cls(f"{topic_prefix}/{camera}")

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def motion(self) -> str:
        return f"{self.base}/motion"

    @property
    def clip(self) -> str:
        return f"{self.base}/clip"

    @property
    def health(self) -> str:
        return f"{self.base}/health"

    @property
    def snapshot(self) -> str:
        return f"{self.base}/snapshot"


def _health_value(key: str) -> str:
    return f"{{{{ value_json.{key} }}}}"


def _health_flag(key: str) -> str:
    return f"{{{{ 'ON' if value_json.{key} else 'OFF' }}}}"


# object id -> (component, its own config keys); every one also gets name, ids, device, availability
def _entities(t: Topics) -> dict[str, tuple[str, dict[str, Any]]]:
    diag = {"entity_category": "diagnostic"}
    health = {"state_topic": t.health}
    return {
        "motion": ("binary_sensor", {"name": "Motion", "device_class": "motion", "state_topic": t.motion,
                                     "payload_on": "ON", "payload_off": "OFF"}),
        "clip": ("event", {"name": "Clip", "state_topic": t.clip, "event_types": ["clip_published"]}),
        "snapshot": ("image", {"name": "Last event", "image_topic": t.snapshot, "content_type": "image/jpeg"}),
        "problem": ("binary_sensor", {"name": "Problem", "device_class": "problem", **health,
                                      "value_template": _health_flag("problem"),
                                      "json_attributes_topic": t.health,
                                      "json_attributes_template": "{{ {'reasons': value_json.problems} | tojson }}"}),
        "frames_flowing": ("binary_sensor", {"name": "Frames flowing", "device_class": "running", **health,
                                             "value_template": _health_flag("frames_flowing"), **diag}),
        "recording_paused": ("binary_sensor", {"name": "Recording paused", "device_class": "problem", **health,
                                               "value_template": _health_flag("recording_paused"),
                                               "json_attributes_topic": t.health,
                                               "json_attributes_template":
                                                   "{{ {'reason': value_json.paused_reason} | tojson }}", **diag}),
        "clock_synchronized": ("binary_sensor", {"name": "Clock synchronized", **health,
                                                 "value_template": _health_flag("clock_synchronized"), **diag}),
        "fps_in": ("sensor", {"name": "Frames in", "unit_of_measurement": "fps", "state_class": "measurement",
                              **health, "value_template": _health_value("fps_in"), **diag}),
        "fps_out": ("sensor", {"name": "Frames encoded", "unit_of_measurement": "fps",
                               "state_class": "measurement", **health,
                               "value_template": _health_value("fps_out"), **diag}),
        "frames_dropped": ("sensor", {"name": "Frames dropped", "state_class": "total_increasing", **health,
                                      "value_template": _health_value("frames_dropped"), **diag}),
        "disk_free": ("sensor", {"name": "Disk free", "device_class": "data_size", "unit_of_measurement": "MB",
                                 "state_class": "measurement", **health,
                                 "value_template": _health_value("disk_free_mb"), **diag}),
        "events_dropped": ("sensor", {"name": "Events dropped", "state_class": "total_increasing", **health,
                                      "value_template": _health_value("events_dropped"), **diag}),
    }


def discovery_messages(discovery_prefix: str, topics: Topics, camera: str, sw_version: str) -> list[MqttMessage]:
    """One retained config message per entity of this camera's device."""
    node = camera.replace("-", "_")
    device = {"identifiers": [f"{MODEL}_{node}"], "name": camera, "model": MODEL, "manufacturer": MODEL,
              "sw_version": sw_version}
    out = []
    for obj, (component, own) in _entities(topics).items():
        config = {**own, "unique_id": f"{MODEL.replace('-', '_')}_{node}_{obj}", "object_id": f"{node}_{obj}",
                  "availability_topic": topics.availability, "device": device}
        out.append(MqttMessage(f"{discovery_prefix}/{component}/{node}/{obj}/config",
                               json.dumps(config, sort_keys=True).encode(), retain=True))
    return out
