"""Where events go out: an MQTT link (optional) and any number of webhooks, started and stopped together.

Both the watcher's and the inspector's events (watcher/events.py, inspector/events.py) publish through
one :class:`Outlets`; each outlet has its own bounded queue, so one that is slow or down never holds up
the caller or the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shared.mqtt_message import MqttMessage
from shared.webhooks import WebhookSender

if TYPE_CHECKING:
    from shared.mqtt_link import MqttLink

STOP_TIMEOUT_S = 10.0  # what is queued at the end gets this long to go out, per webhook


class Outlets:
    def __init__(self, link: MqttLink | None, hooks: Sequence[WebhookSender] = ()) -> None:
        self.link = link
        self.hooks = list(hooks)

    def start(self) -> None:
        if self.link is not None:
            self.link.start()
        for h in self.hooks:
            h.start()

    def stop(self) -> None:
        """What is queued goes out (each within its deadline), then MQTT says offline."""
        if self.link is not None:
            self.link.stop()
        for h in self.hooks:
            h.stop(STOP_TIMEOUT_S)

    def mqtt(self, m: MqttMessage) -> None:
        if self.link is not None:
            self.link.publish(m)

    def hook(self, kind: str, body: dict[str, Any]) -> None:
        for h in self.hooks:
            h.post(kind, body)
