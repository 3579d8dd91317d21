"""The watcher's configuration: one validated dataclass per TOML table.

    [watcher]   camera, data_dir, status_interval_s
    [source]    see watcher.sources.SourceSettings
    [encoder]   see watcher.encoder.EncoderSettings
    [detector]  see watcher.detector.DetectorSettings
    [trigger]   see watcher.trigger.TriggerSettings
    [retention] see watcher.retention.RetentionSettings

Every key is optional; unknown tables or keys are errors naming the file and the key.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class GeneralSettings:
    camera: str = field(default="cam1", metadata={"check": check_camera_name, "help": "camera name used in clip ids"})
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
    sections = {name: build_section(cls, data.get(name), path=path, section=name) for name, cls in _SECTIONS.items()}
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
