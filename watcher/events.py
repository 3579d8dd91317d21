"""The watcher's events and state, published over MQTT (when ``[mqtt] enabled``), never at recording's cost.

:class:`WatcherEvents` turns what the pipeline sees into messages on :mod:`watcher.ha_discovery`'s
topics and queues them on an :class:`~shared.mqtt_link.MqttLink` (bounded, oldest dropped and counted,
never blocking):
  * motion ON when the trigger starts an event (its first motion frame confirmed), OFF when it ends;
  * clip: one JSON event per clip published, the moment its manifest is in recorded_clips/;
  * health: every status interval, from the status.json document, plus whether frames flow (a frame
    within ``stall_s``), a problem flag (frames stopped, recording paused) with its reasons.

Threads: ``motion`` and ``health`` are called on the pipeline thread, ``clip`` on the clip-writer
thread; each only builds a message and queues it. ``start``/``stop`` belong to the pipeline's owner.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.manifest import Manifest
from shared.mqtt_link import LinkStats, MqttLink, MqttMessage
from shared.mqtt_settings import MqttSettings
from shared.secrets import read_secret
from watcher.ha_discovery import Topics, discovery_messages
from watcher.status import Counters, Status

logger = logging.getLogger(__name__)

SW_VERSION = "0.1.0"
FRAMES_STALL_S = 5.0  # no new frame for this long (or two status intervals, if longer): frames stopped


class WatcherEvents:
    def __init__(self, link: MqttLink, topics: Topics, *, stall_s: float = FRAMES_STALL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.topics = topics
        self.stall_s = stall_s
        self._clock = clock
        self._motion: bool | None = None  # the state last published
        self._frames_in = -1
        self._frames_at = clock()  # when frames_in last changed

    @classmethod
    def create(cls, mqtt: MqttSettings, camera: str, *, config_path: str, status_interval_s: float) -> WatcherEvents:
        """The link for ``mqtt`` (enabled), its password read now (ConfigError names file and key)."""
        password = None
        if mqtt.password_file is not None:
            password = read_secret(Path(mqtt.password_file), config=config_path, key="mqtt.password_file")
        topics = Topics.of(mqtt.topic_prefix, camera)
        announce: Callable[[], list[MqttMessage]] = list
        if mqtt.discovery:
            messages = discovery_messages(mqtt.discovery_prefix, topics, camera, SW_VERSION)

            def announce() -> list[MqttMessage]:
                return messages

        link = MqttLink(mqtt, client_id=f"motion-watcher-{camera}", availability_topic=topics.availability,
                        password=password, announce=announce)
        return cls(link, topics, stall_s=max(FRAMES_STALL_S, 2 * status_interval_s))

    def start(self) -> None:
        self.link.start()

    def stop(self) -> None:
        """Motion OFF if an event was on, then what is queued goes out (up to the link's deadline)."""
        self.motion(False)
        self.link.stop()

    def stats(self) -> LinkStats:
        return self.link.stats()

    # --- pipeline thread -------------------------------------------------------------------------

    def before(self, counters: Counters) -> None:
        """Before a status write: the link's counts into status.json."""
        st = self.link.stats()
        counters.events_connected, counters.events_sent, counters.events_dropped = st.connected, st.sent, st.dropped

    def written(self, doc: Status) -> None:
        self.health(doc)

    def motion(self, on: bool) -> None:
        """The trigger's state, published when it changes."""
        if on == self._motion or (self._motion is None and not on):
            return
        self._motion = on
        self.link.publish(MqttMessage(self.topics.motion, b"ON" if on else b"OFF", retain=True))

    def health(self, doc: Status) -> None:
        now = self._clock()
        if doc.frames_in != self._frames_in:
            self._frames_in, self._frames_at = doc.frames_in, now
        flowing = doc.state == "running" and now - self._frames_at < self.stall_s
        problems = []
        if doc.state == "running" and not flowing:
            problems.append(f"no frame for {now - self._frames_at:.0f} s")
        if doc.recording_paused:
            problems.append(f"recording paused: {doc.recording_paused}")
        body: dict[str, Any] = {
            "updated_at": doc.updated_at, "state": doc.state, "frames_flowing": flowing,
            "fps_in": doc.fps_in, "fps_out": doc.fps_out, "frames_in": doc.frames_in,
            "frames_dropped": doc.frames_dropped, "packets_dropped": doc.packets_dropped,
            "disk_free_bytes": doc.disk_free_bytes,
            "disk_free_mb": round(doc.disk_free_bytes / 1e6) if doc.disk_free_bytes >= 0 else None,
            "recording": doc.recording, "recording_paused": doc.recording_paused is not None,
            "paused_reason": doc.recording_paused, "clock_synchronized": doc.clock_synchronized,
            "clips_published": doc.clips_published, "last_clip": doc.last_clip, "last_error": doc.last_error,
            "events_dropped": doc.events_dropped, "problem": bool(problems), "problems": problems,
        }
        self.link.publish(MqttMessage(self.topics.health, _json(body), retain=True))

    # --- clip-writer thread ----------------------------------------------------------------------

    def clip(self, m: Manifest) -> None:
        body = {"event_type": "clip_published", "id": m.id, "camera": m.camera, "file": m.file,
                "started_at": m.started_at, "ended_at": m.ended_at, "duration_s": m.duration_s,
                "size": m.size, "sha256": m.sha256, "peak_motion": m.peak_motion,
                "motion_start_s": m.motion_start_s, "motion_end_s": m.motion_end_s,
                "continuation_of": m.continuation_of, "salvaged": m.salvaged}
        self.link.publish(MqttMessage(self.topics.clip, _json(body)))


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
