"""The watcher's events and state, out over MQTT and webhooks, never at recording's cost.

:class:`WatcherEvents` turns what the pipeline sees into messages and queues them on the
:class:`~shared.mqtt_link.MqttLink` (``[mqtt] enabled``; :mod:`watcher.ha_discovery`'s topics) and on
each ``[[webhook]]``'s :class:`~shared.webhooks.WebhookSender`; every queue is bounded, drops its oldest
and counts it, and never blocks the caller:
  * motion ON when the trigger starts an event (its first motion frame confirmed), OFF when it ends
    (webhooks: ``motion_started`` / ``motion_ended``);
  * snapshot (MQTT): when an event ends, the JPEG of its most active frame (watcher.snapshot);
  * ``clip_published``: one event per clip, the moment its manifest is in recorded_clips/;
  * health (MQTT): every status interval, from the status.json document, plus whether frames flow (a
    frame within ``stall_s``) and a problem flag (frames stopped, recording paused) with its reasons;
    webhooks get ``problem`` when the problem flag goes on (with the reasons) and ``problem_resolved``.

Threads: ``motion`` and the status hooks run on the pipeline thread, ``clip`` on the clip-writer
thread; each only builds messages and queues them. ``start``/``stop`` belong to the pipeline's owner.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.manifest import Manifest, utc_iso
from shared.mqtt_message import MqttMessage
from shared.mqtt_settings import MqttSettings
from shared.outlets import Outlets
from shared.secrets import read_secret
from shared.webhooks import WebhookSender, WebhookSettings
from watcher.ha_discovery import Topics, discovery_messages
from watcher.status import Counters, Status

if TYPE_CHECKING:
    from shared.mqtt_link import MqttLink

logger = logging.getLogger(__name__)

SW_VERSION = "0.1.0"
FRAMES_STALL_S = 5.0  # no new frame for this long (or two status intervals, if longer): frames stopped


class WatcherEvents:
    def __init__(self, link: MqttLink | None, topics: Topics, *, hooks: Sequence[WebhookSender] = (),
                 camera: str = "", stall_s: float = FRAMES_STALL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = Outlets(link, hooks)
        self.link, self.hooks = self.out.link, self.out.hooks
        self.topics = topics
        self.camera = camera
        self.stall_s = stall_s
        self._clock = clock
        self._motion: bool | None = None  # the state last published
        self._problem = False
        self._frames_in = -1
        self._frames_at = clock()  # when frames_in last changed

    @classmethod
    def create(cls, mqtt: MqttSettings, hooks: Sequence[WebhookSettings], camera: str, *, config_path: str,
               status_interval_s: float) -> WatcherEvents:
        """The MQTT link (if enabled) and the webhooks; secrets read now (ConfigError names file and key)."""
        topics = Topics.of(mqtt.topic_prefix, camera)
        link = None
        if mqtt.enabled:
            from shared.mqtt_link import MqttLink  # paho, only when MQTT is on

            password = None
            if mqtt.password_file is not None:
                password = read_secret(Path(mqtt.password_file), config=config_path, key="mqtt.password_file")
            messages = discovery_messages(mqtt.discovery_prefix, topics, camera, SW_VERSION) if mqtt.discovery else []
            link = MqttLink(mqtt, client_id=f"motion-watcher-{camera}", availability_topic=topics.availability,
                            password=password, announce=lambda: messages)
        senders = [WebhookSender.create(h, config_path=config_path, index=i) for i, h in enumerate(hooks)]
        return cls(link, topics, hooks=senders, camera=camera, stall_s=max(FRAMES_STALL_S, 2 * status_interval_s))

    def start(self) -> None:
        self.out.start()

    def stop(self) -> None:
        """Motion OFF if an event was on, then what is queued goes out (up to each one's deadline)."""
        self.motion(False)
        self.out.stop()

    # --- pipeline thread -------------------------------------------------------------------------

    def before(self, counters: Counters) -> None:
        """Before a status write: the counts into status.json."""
        if self.link is not None:
            st = self.link.stats()
            counters.events_connected, counters.events_sent, counters.events_dropped = \
                st.connected, st.sent, st.dropped
        if self.hooks:
            counters.webhooks_delivered = sum(h.delivered for h in self.hooks)
            counters.webhooks_failed = sum(h.failed + h.dropped for h in self.hooks)

    def written(self, doc: Status) -> None:
        self.health(doc)

    @property
    def motion_on(self) -> bool:
        return bool(self._motion)

    def snapshot(self, jpeg: bytes) -> None:
        """The last event's most active frame (MQTT only: retained, Home Assistant's image entity)."""
        self._mqtt(MqttMessage(self.topics.snapshot, jpeg, retain=True))

    def motion(self, on: bool) -> None:
        """The trigger's state, published when it changes."""
        if on == self._motion or (self._motion is None and not on):
            return
        self._motion = on
        self._mqtt(MqttMessage(self.topics.motion, b"ON" if on else b"OFF", retain=True))
        self._hook("motion_started" if on else "motion_ended", {"at": utc_iso(datetime.now(UTC))})

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
        self._mqtt(MqttMessage(self.topics.health, _json(body), retain=True))
        if bool(problems) != self._problem:
            self._problem = bool(problems)
            self._hook("problem" if problems else "problem_resolved", {"problems": problems, "at": doc.updated_at})

    # --- clip-writer thread ----------------------------------------------------------------------

    def clip(self, m: Manifest) -> None:
        body = {"event_type": "clip_published", "id": m.id, "camera": m.camera, "file": m.file,
                "started_at": m.started_at, "ended_at": m.ended_at, "duration_s": m.duration_s,
                "size": m.size, "sha256": m.sha256, "peak_motion": m.peak_motion,
                "motion_start_s": m.motion_start_s, "motion_end_s": m.motion_end_s,
                "continuation_of": m.continuation_of, "salvaged": m.salvaged}
        self._mqtt(MqttMessage(self.topics.clip, _json(body)))
        self._hook("clip_published", body)

    # --- out -------------------------------------------------------------------------------------

    def _mqtt(self, m: MqttMessage) -> None:
        self.out.mqtt(m)

    def _hook(self, kind: str, body: dict[str, Any]) -> None:
        self.out.hook(kind, {"camera": self.camera, **body})


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
