"""The watcher's configuration: one validated dataclass per TOML table.

    [watcher]   camera (default: this host's name, made valid), data_dir, status_interval_s
    [source]    see watcher.sources.SourceSettings
    [encoder]   see watcher.encoder.EncoderSettings
    [detector]  see watcher.detector.DetectorSettings
    [trigger]   see watcher.trigger.TriggerSettings
    [retention] see watcher.retention.RetentionSettings

Every key is optional; unknown tables or keys are errors naming the file and the key.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shared.config import build_section, read_toml
from shared.errors import ConfigError
from shared.naming import check_camera_name
from watcher.detector import DetectorSettings
from watcher.encoder import EncoderSettings
from watcher.retention import RetentionSettings
from watcher.sources import SourceSettings
from watcher.trigger import TriggerSettings


def camera_from_hostname(hostname: str) -> str:
    """A valid camera name (shared.naming.check_camera_name) made from a host name: its first label,
    lower-cased, every other character turned into '-', at most 32 characters; "camera" if nothing is left.
    Two Pis left at the default then still name their clips apart (each Pi has its own host name)."""
    label = hostname.strip().split(".", 1)[0] or hostname.strip()
    name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:32].rstrip("-")
    return name if check_camera_name(name) is None else "camera"


def default_camera() -> str:
    return camera_from_hostname(socket.gethostname())


@dataclass(frozen=True)
class GeneralSettings:
    camera: str = field(default_factory=default_camera,
                        metadata={"check": check_camera_name, "help": "camera name used in clip ids (default: from "
                                                                     "the host name)"})
    data_dir: str = field(default="watcher-data", metadata={"help": "holds temp_clips/, recorded_clips/, status.json"})
    status_interval_s: float = field(default=2.0, metadata={"min": 0.2, "max": 3600.0})


@dataclass(frozen=True)
class WatcherConfig:
    watcher: GeneralSettings = GeneralSettings()
    source: SourceSettings = SourceSettings()
    encoder: EncoderSettings = EncoderSettings()
    detector: DetectorSettings = DetectorSettings()
    trigger: TriggerSettings = TriggerSettings()
    retention: RetentionSettings = RetentionSettings()
    path: str | None = None  # the file it came from, for messages


_SECTIONS: dict[str, type] = {
    "watcher": GeneralSettings,
    "source": SourceSettings,
    "encoder": EncoderSettings,
    "detector": DetectorSettings,
    "trigger": TriggerSettings,
    "retention": RetentionSettings,
}


def parse_config(data: dict[str, Any], path: str) -> WatcherConfig:
    for key in data:
        if key not in _SECTIONS:
            raise ConfigError(path, key, f"unknown table (known: {', '.join(_SECTIONS)})")
    sections: dict[str, Any] = {name: build_section(cls, data.get(name), path=path, section=name)
                                for name, cls in _SECTIONS.items()}
    cfg = WatcherConfig(**sections, path=path)
    data_dir = Path(cfg.watcher.data_dir)
    if not data_dir.is_absolute() and path != "<defaults>":
        # a relative data_dir in a config file is relative to that file
        cfg = replace(cfg, watcher=replace(cfg.watcher, data_dir=str(Path(path).parent / data_dir)))
    return cfg


def load_config(path: str | None) -> WatcherConfig:
    if path is None:
        return parse_config({}, "<defaults>")
    return parse_config(read_toml(Path(path)), path)
