"""The ``[mqtt]`` table, the same in the watcher's and the inspector's configuration.

    [mqtt]
    enabled = true                      # off by default
    host = "192.168.1.10"
    port = 1883                         # 8883 is usual with tls = true
    username = "garden-pi"              # optional; with it, password_file (mode 600, first line)
    password_file = "/etc/motion-watcher/mqtt-password"
    tls = true                          # optional; ca_file: the CA that signed the broker's certificate
    ca_file = "/etc/motion-watcher/mqtt-ca.crt"
    topic_prefix = "motion-watcher"     # state and events under <topic_prefix>/<camera or watcher>/...
    discovery_prefix = "homeassistant"  # Home Assistant's discovery prefix; discovery = false to skip it

The password is never in this file (see :mod:`shared.secrets`). Topic prefixes are checked: MQTT
levels separated by '/', none empty, no wildcard ('+', '#'), no NUL, not starting with '$'.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, model_validator

from shared.errors import ConfigError
from shared.secrets import read_secret
from shared.validation import Problem, Strict, checked_by

_LEVEL = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def check_topic_prefix(topic: str) -> str | None:
    """None if ``topic`` is a valid prefix for the topics we publish, else the problem."""
    if not topic or len(topic) > 128:
        return "must be 1-128 characters"
    for level in topic.split("/"):
        if not _LEVEL.fullmatch(level):
            return (f"must be levels of A-Z, a-z, 0-9, '_', '.', '-' separated by '/' (no empty level, no '+' "
                    f"or '#' wildcard, no '$'), got {topic!r}")
    return None


TopicPrefix = Annotated[str, checked_by(check_topic_prefix)]


class MqttSettings(Strict):
    enabled: bool = Field(default=False, description="publish events and state to an MQTT broker")
    host: str = Field(default="localhost", min_length=1, max_length=253)
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = Field(default=None, min_length=1, max_length=128)
    password_file: str | None = Field(default=None, description="file holding the password (mode 600)")
    tls: bool = False
    ca_file: str | None = Field(default=None, description="CA certificate to verify the broker (with tls)")
    topic_prefix: TopicPrefix = "motion-watcher"
    discovery: bool = Field(default=True, description="announce entities through Home Assistant's discovery")
    discovery_prefix: TopicPrefix = "homeassistant"
    keepalive_s: int = Field(default=30, ge=5, le=600)
    queue_size: int = Field(default=200, ge=1, le=100_000, description="events kept while the broker is away")
    reconnect_max_s: float = Field(default=60.0, ge=1.0, le=3600.0)
    timeout_s: float = Field(default=10.0, ge=1.0, le=300.0, description="deadline of a connect and a publish")

    @model_validator(mode="after")
    def _pairs(self) -> Self:
        if self.password_file is not None and self.username is None:
            raise Problem("username", "is required with password_file")
        if self.ca_file is not None and not self.tls:
            raise Problem("ca_file", "needs tls = true")
        return self


def resolve_mqtt(mqtt: MqttSettings, config_path: str) -> MqttSettings:
    """``mqtt`` with its files made relative to the config file's folder, checked now (a secret file
    readable by others is refused at start, naming the file and the key)."""
    if not mqtt.enabled or config_path in ("<defaults>", "command line"):
        return mqtt
    base = Path(config_path).parent
    update: dict[str, str] = {}
    for key in ("password_file", "ca_file"):
        value = getattr(mqtt, key)
        if value is not None and not Path(value).is_absolute():
            update[key] = str(base / value)
    resolved = mqtt.model_copy(update=update)
    if resolved.password_file is not None:
        read_secret(Path(resolved.password_file), config=config_path, key="mqtt.password_file")
    if resolved.ca_file is not None and not Path(resolved.ca_file).is_file():
        raise ConfigError(config_path, "mqtt.ca_file", f"{resolved.ca_file}: no such file")
    return resolved
