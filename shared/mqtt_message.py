"""One MQTT message to publish (without paho: :mod:`shared.mqtt_link` is the only module that imports it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MqttMessage:
    topic: str
    payload: bytes
    retain: bool = False
    qos: int = 1
