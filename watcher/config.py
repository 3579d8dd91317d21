"""The watcher's configuration: one validated model per TOML table.

    [watcher]   camera (default: this host's name, made valid), data_dir, status_interval_s
    [source]    see watcher.sources.SourceSettings
    [encoder]   see watcher.encoder.EncoderSettings
    [detector]  see shared.detector.DetectorSettings
    [trigger]   see shared.trigger.TriggerSettings
    [retention] see watcher.retention.RetentionSettings
    [mqtt]      see shared.mqtt_settings.MqttSettings (off by default)
    [[webhook]] see shared.webhooks.WebhookSettings (none by default)
    [live]      see watcher.live.LiveSettings (off by default)

Every key is optional; unknown tables or keys are errors naming the file and the key.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

from pydantic import Field

from shared.config import read_toml, validate_config
from shared.detector import DetectorSettings
from shared.mqtt_settings import MqttSettings, resolve_mqtt
from shared.naming import check_camera_name
from shared.trigger import TriggerSettings
from shared.validation import CameraName, Items, Strict
from shared.webhooks import WebhookSettings, resolve_webhooks
from watcher.encoder import EncoderSettings
from watcher.live import LiveSettings, resolve_live
from watcher.retention import RetentionSettings
from watcher.sources import SourceSettings


def camera_from_hostname(hostname: str) -> str:
    """A valid camera name (shared.naming.check_camera_name) made from a host name: its first label,
    lower-cased, every other character turned into '-', at most 32 characters; "camera" if nothing is left.
    Two Pis left at the default then still name their clips apart (each Pi has its own host name)."""
    label = hostname.strip().split(".", 1)[0] or hostname.strip()
    name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:32].rstrip("-")
    return name if check_camera_name(name) is None else "camera"


def default_camera() -> str:
    return camera_from_hostname(socket.gethostname())


class GeneralSettings(Strict):
    camera: CameraName = Field(default_factory=default_camera,
                        description="camera name used in clip ids (default: from the host name)")
    data_dir: str = Field(default="watcher-data", description="holds temp_clips/, recorded_clips/, status.json")
    status_interval_s: float = Field(default=2.0, ge=0.2, le=3600.0)



class WatcherFile(Strict):
    """A watcher config file: its tables."""

    watcher: GeneralSettings = GeneralSettings()
    source: SourceSettings = SourceSettings()
    encoder: EncoderSettings = EncoderSettings()
    detector: DetectorSettings = DetectorSettings()
    trigger: TriggerSettings = TriggerSettings()
    retention: RetentionSettings = RetentionSettings()
    mqtt: MqttSettings = MqttSettings()
    webhook: Items[WebhookSettings] = ()
    live: LiveSettings = LiveSettings()


class WatcherConfig(WatcherFile):
    """The watcher's configuration: a file's tables, and the file (for messages)."""

    path: str | None = None


def parse_config(data: dict[str, Any], path: str) -> WatcherConfig:
    cfg = validate_config(WatcherFile, data, path)
    general = cfg.watcher
    if not Path(general.data_dir).is_absolute() and path != "<defaults>":
        # a relative data_dir in a config file is relative to that file
        general = general.model_copy(update={"data_dir": str(Path(path).parent / general.data_dir)})
    return WatcherConfig(**dict(cfg) | {"watcher": general, "mqtt": resolve_mqtt(cfg.mqtt, path),
                                        "webhook": resolve_webhooks(cfg.webhook, path),
                                        "live": resolve_live(cfg.live, path)}, path=path)


def load_config(path: str | None) -> WatcherConfig:
    if path is None:
        return parse_config({}, "<defaults>")
    return parse_config(read_toml(Path(path)), path)


def with_overrides(cfg: WatcherConfig, *, source: str | None = None, realtime: bool = False,
                   data_dir: str | None = None) -> WatcherConfig:
    """``cfg`` with the command line's overrides (``--source``, ``--realtime``, ``--data-dir``), validated again."""
    data = cfg.model_dump()
    if source:
        data["source"]["spec"] = source
    if realtime:
        data["source"]["realtime"] = True
    if data_dir:
        data["watcher"]["data_dir"] = data_dir
    return validate_config(WatcherConfig, data, "command line")
