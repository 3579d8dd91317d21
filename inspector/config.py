"""The inspector's configuration (TOML).

    library = "/srv/clips"            # local directory: clips, catalog, incoming/, quarantine/
    poll_interval_s = 30
    max_backoff_s = 300                # a failing watcher is retried after 1, 2, 4, ... s, at most this
    min_transfer_kbytes_s = 16         # a clip slower than this (after transfer_grace_s) is abandoned,
    transfer_grace_s = 20              # its .part kept to resume
    max_clip_mb = 4096                 # a bigger clip is refused before download (asked again next pass)
    reserve_free_mb = 1024             # a clip that would leave less free space is refused before download

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

Every error names the file and the key (``watcher[1].host``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from inspector.analysis.limits import AnalysisLimits
from shared.config import build_section, read_toml
from shared.errors import ConfigError
from shared.naming import check_camera_name


def _check_abs(value: str) -> str | None:
    return None if value.startswith("/") else "must be an absolute path on the watcher"


@dataclass(frozen=True)
class WatcherEntry:
    name: str = field(default="", metadata={"check": check_camera_name})
    host: str = ""
    port: int = field(default=22, metadata={"min": 1, "max": 65535})
    user: str = ""
    identity_file: str = ""
    known_hosts: str = ""
    remote_dir: str = field(default="", metadata={"check": _check_abs})
    after_transfer: str = field(default="archive", metadata={"choices": ("archive", "delete")})
    transport: str = field(default="sftp", metadata={"choices": ("sftp", "local"),
                                                     "help": "local: remote_dir is a directory on this machine"})
    connect_timeout_s: float = field(default=10.0, metadata={"min": 0.5, "max": 300.0})
    io_timeout_s: float = field(default=30.0, metadata={"min": 0.5, "max": 600.0})


@dataclass(frozen=True)
class InspectorSettings:
    library: str = ""
    poll_interval_s: float = field(default=30.0, metadata={"min": 0.1, "max": 86400.0})
    max_backoff_s: float = field(default=300.0, metadata={"min": 0.1, "max": 86400.0})
    # --- transfer deadlines (inspector/deadlines.py) ---
    min_transfer_kbytes_s: float = field(default=16.0, metadata={"min": 0.1, "max": 1_000_000.0,
                                         "help": "a clip arriving slower than this (kB/s, after the grace) is "
                                                 "abandoned, its .part kept to resume next time"})
    transfer_grace_s: float = field(default=20.0, metadata={"min": 0.0, "max": 3600.0,
                                    "help": "seconds a clip's transfer may lag the floor before it counts"})
    # storage limits (inspector.space): checked before each download
    max_clip_mb: float = field(default=4096.0, metadata={"min": 0.001, "max": 1_048_576.0,
                               "help": "a clip larger than this is refused before download"})
    reserve_free_mb: float = field(default=1024.0, metadata={"min": 0.0, "max": 1_048_576.0,
                                   "help": "free space the library keeps; a clip that does not fit is refused"})


@dataclass(frozen=True)
class CleanupSettings:
    stale_part_hours: float = field(default=24.0, metadata={"min": 0.0, "max": 87600.0,
                                    "help": "unlocked .part downloads older than this are removed"})
    quarantine_days: float = field(default=30.0, metadata={"min": 0.0, "max": 36500.0,
                                   "help": "quarantined files older than this are removed (the catalog row stays)"})
    keep_days: float = field(default=0.0, metadata={"min": 0.0, "max": 36500.0,
                             "help": "library retention: clips older than this are removed (0: keep forever)"})
    max_usage_gb: float = field(default=0.0, metadata={"min": 0.0, "max": 1_000_000.0,
                                "help": "library retention: oldest clips go while the library is larger (0: no cap)"})


@dataclass(frozen=True)
class InspectorConfig:
    settings: InspectorSettings
    watchers: tuple[WatcherEntry, ...]
    path: str
    cleanup: CleanupSettings = CleanupSettings()
    analysis: AnalysisLimits = AnalysisLimits()

    @property
    def library(self) -> Path:
        return Path(self.settings.library)


_REQUIRED_SFTP = ("host", "user", "identity_file", "known_hosts")


def parse_config(data: dict[str, Any], path: str) -> InspectorConfig:
    top = {k: v for k, v in data.items() if k not in ("watcher", "cleanup", "analysis")}
    settings = build_section(InspectorSettings, top, path=path, section="")
    cleanup = build_section(CleanupSettings, data.get("cleanup"), path=path, section="cleanup")
    analysis = build_section(AnalysisLimits, data.get("analysis"), path=path, section="analysis")
    if not settings.library:
        raise ConfigError(path, "library", "is required (the local directory for clips and the catalog)")
    base = Path(path).parent
    settings = replace(settings, library=str((base / os.path.expanduser(settings.library)).resolve()))
    raw = data.get("watcher", [])
    if not isinstance(raw, list) or not raw:
        raise ConfigError(path, "watcher", "at least one [[watcher]] table is required")
    watchers = []
    names = set()
    for i, table in enumerate(raw):
        section = f"watcher[{i}]"
        w = build_section(WatcherEntry, table, path=path, section=section)
        required = ("name", "remote_dir") + (_REQUIRED_SFTP if w.transport == "sftp" else ())
        for key in required:
            if not getattr(w, key):
                raise ConfigError(path, f"{section}.{key}", "is required")
        if w.name in names:
            raise ConfigError(path, f"{section}.name", f"duplicate watcher name {w.name!r}")
        names.add(w.name)
        for key in ("identity_file", "known_hosts"):
            value = getattr(w, key)
            if value:
                full = (base / os.path.expanduser(value)).resolve()
                if not full.is_file():
                    raise ConfigError(path, f"{section}.{key}", f"file not found: {full}")
                resolved: dict[str, Any] = {key: str(full)}
                w = replace(w, **resolved)
        watchers.append(w)
    return InspectorConfig(settings, tuple(watchers), path, cleanup, analysis)


def load_config(path: str) -> InspectorConfig:
    return parse_config(read_toml(Path(path)), path)
