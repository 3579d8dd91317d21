"""The inspector's configuration (TOML).

    library = "/srv/clips"            # local directory: clips, catalog, incoming/, quarantine/
    poll_interval_s = 30
    max_backoff_s = 300                # a failing watcher is retried after 1, 2, 4, ... s, at most this
    min_transfer_kbytes_s = 16         # a clip slower than this (after transfer_grace_s) is abandoned,
    transfer_grace_s = 20              # its .part kept to resume
    clips_in_flight = 16               # clips of one watcher pulled at once over its one connection
    max_clip_mb = 4096                 # a bigger clip is refused before download (asked again next pass)
    reserve_free_mb = 1024             # a clip that would leave less free space is refused before download
    unreachable_alert_s = 3600         # events: a watcher unreachable this long is a problem
    report_url = ""                    # events: where the report is served (default: file:// links)

    [[watcher]]                        # one table per Pi
    name = "frontdoor"
    host = "192.168.1.20"
    port = 22
    user = "inspector"
    identity_file = "~/.ssh/inspector_ed25519"
    known_hosts = "~/.config/inspector/known_hosts"
    remote_dir = "/recorded_clips"     # the watcher's recorded_clips/ as seen over SFTP
    after_transfer = "archive"         # or "delete"

    [cleanup]                          # python -m inspector cleanup
    stale_part_hours = 24
    quarantine_days = 30
    keep_days = 0                      # library retention (0: forever)
    max_usage_gb = 0                   # (0: no cap)

    [analysis]                         # what one clip may cost (inspector/analysis/limits.py: all keys)
    max_pixels = 12582912              # per frame (4096x3072)
    max_frames = 450000
    max_duration_s = 3720

    [mqtt]                             # events out: shared/mqtt_settings.py (off by default)
    [[webhook]]                        # events out: shared/webhooks.py (none by default)

Every error names the file and the key (``watcher[1].host``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from inspector.analysis.limits import AnalysisLimits
from shared.config import read_toml, validate_config
from shared.errors import ConfigError
from shared.mqtt_settings import MqttSettings, resolve_mqtt
from shared.validation import CameraName, Items, Problem, Strict
from shared.webhooks import WebhookSettings, resolve_webhooks

_REQUIRED_SFTP = ("host", "user", "identity_file", "known_hosts")


class WatcherEntry(Strict):
    name: CameraName = ""
    host: str = ""
    port: int = Field(default=22, ge=1, le=65535)
    user: str = ""
    identity_file: str = ""
    known_hosts: str = ""
    remote_dir: str = ""
    after_transfer: Literal["archive", "delete"] = "archive"
    transport: Literal["sftp", "local"] = Field(default="sftp",
                                                description="local: remote_dir is a directory on this machine")
    connect_timeout_s: float = Field(default=10.0, ge=0.5, le=300.0)
    io_timeout_s: float = Field(default=30.0, ge=0.5, le=600.0)

    @field_validator("remote_dir")
    @classmethod
    def _check_abs(cls, remote_dir: str) -> str:
        if not remote_dir.startswith("/"):
            raise ValueError("must be an absolute path on the watcher")
        return remote_dir

    @model_validator(mode="after")
    def _check_required(self) -> WatcherEntry:
        required = ("name", "remote_dir") + (_REQUIRED_SFTP if self.transport == "sftp" else ())
        for key in required:
            if not getattr(self, key):
                raise Problem(key, "is required")
        return self


class InspectorSettings(Strict):
    library: str = ""
    poll_interval_s: float = Field(default=30.0, ge=0.1, le=86400.0)
    max_backoff_s: float = Field(default=300.0, ge=0.1, le=86400.0)
    # --- transfer deadlines (inspector/deadlines.py) ---
    min_transfer_kbytes_s: float = Field(default=16.0, ge=0.1, le=1_000_000.0,
                                         description="a clip arriving slower than this (kB/s, after the grace) is "
                                                     "abandoned, its .part kept to resume next time")
    transfer_grace_s: float = Field(default=20.0, ge=0.0, le=3600.0,
                                    description="seconds a clip's transfer may lag the floor before it counts")
    clips_in_flight: int = Field(default=16, ge=1, le=64,
                                 description="clips of one watcher pulled at once over its one connection")
    # storage limits (inspector.space): checked before each download
    max_clip_mb: float = Field(default=4096.0, ge=0.001, le=1_048_576.0,
                               description="a clip larger than this is refused before download")
    reserve_free_mb: float = Field(default=1024.0, ge=0.0, le=1_048_576.0,
                                   description="free space the library keeps; a clip that does not fit is refused")
    # events out ([mqtt], [[webhook]]: inspector.events)
    unreachable_alert_s: float = Field(default=3600.0, ge=0.0, le=30 * 86400.0,
                                       description="a watcher unreachable this long is a problem (MQTT, webhooks)")
    report_url: str = Field(default="", max_length=2048,
                            description="where the report is served (its links in events); default: file://")


class CleanupSettings(Strict):
    stale_part_hours: float = Field(default=24.0, ge=0.0, le=87600.0,
                                    description="unlocked .part downloads older than this are removed")
    quarantine_days: float = Field(default=30.0, ge=0.0, le=36500.0,
                                   description="quarantined files older than this are removed (the catalog row stays)")
    keep_days: float = Field(default=0.0, ge=0.0, le=36500.0,
                             description="library retention: clips older than this are removed (0: keep forever)")
    max_usage_gb: float = Field(default=0.0, ge=0.0, le=1_000_000.0, description="library retention: oldest "
                                "clips go while the library is larger (0: no cap)")


class InspectorFile(InspectorSettings):
    """An inspector config file: the settings at its top level, then its tables."""

    watcher: Items[WatcherEntry] = ()
    cleanup: CleanupSettings = CleanupSettings()
    analysis: AnalysisLimits = AnalysisLimits()
    mqtt: MqttSettings = MqttSettings()
    webhook: Items[WebhookSettings] = ()

    @model_validator(mode="after")
    def _check_file(self) -> InspectorFile:
        if not self.library:
            raise Problem("library", "is required (the local directory for clips and the catalog)")
        if not self.watcher:
            raise Problem("watcher", "at least one [[watcher]] table is required")
        names: set[str] = set()
        for i, w in enumerate(self.watcher):
            if w.name in names:
                raise Problem(f"watcher[{i}].name", f"duplicate watcher name {w.name!r}")
            names.add(w.name)
        return self


class InspectorConfig(Strict):
    settings: InspectorSettings
    watchers: Items[WatcherEntry]
    path: str
    cleanup: CleanupSettings = CleanupSettings()
    analysis: AnalysisLimits = AnalysisLimits()
    mqtt: MqttSettings = MqttSettings()
    webhook: Items[WebhookSettings] = ()

    @property
    def library(self) -> Path:
        return Path(self.settings.library)


def _local_path(base: Path, value: str, path: str, key: str) -> Path:
    """``value`` (a key naming a path on this machine) resolved against the config file's folder."""
    try:
        return (base / os.path.expanduser(value)).resolve()
    except (OSError, ValueError, RuntimeError) as e:  # a NUL byte, a symlink loop
        raise ConfigError(path, key, f"not a usable path: {e}") from None


def parse_config(data: dict[str, Any], path: str) -> InspectorConfig:
    f = validate_config(InspectorFile, data, path)
    base = Path(path).parent
    library = str(_local_path(base, f.library, path, "library"))
    settings = InspectorSettings(**{k: getattr(f, k) for k in InspectorSettings.model_fields} | {"library": library})
    watchers = []
    for i, w in enumerate(f.watcher):
        files = {}
        for key in ("identity_file", "known_hosts"):
            if getattr(w, key):
                full = _local_path(base, getattr(w, key), path, f"watcher[{i}].{key}")
                if not full.is_file():
                    raise ConfigError(path, f"watcher[{i}].{key}", f"file not found: {full}")
                files[key] = str(full)
        watchers.append(w.model_copy(update=files))  # valid: a path for a path
    return InspectorConfig(settings=settings, watchers=tuple(watchers), path=path, cleanup=f.cleanup,
                           analysis=f.analysis, mqtt=resolve_mqtt(f.mqtt, path),
                           webhook=resolve_webhooks(f.webhook, path))


def load_config(path: str) -> InspectorConfig:
    return parse_config(read_toml(Path(path)), path)
