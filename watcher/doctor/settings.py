"""What the doctor needs from the watcher's configuration, loaded the way the watcher loads it.

:func:`watcher.config.load_config` imports the encoder and detector modules, hence numpy, OpenCV
and PyAV. When those are broken, which is exactly when the doctor is needed, the few keys the
doctor reads are taken from the TOML file directly (:func:`read_fallback`), with the watcher's
defaults; a unit test keeps those defaults equal to the real ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from shared.config import read_toml, validate_config
from shared.errors import ConfigError
from watcher.doctor.result import CheckResult, fail, ok, warn
from watcher.retention import RetentionSettings


@dataclass(frozen=True)
class DoctorSettings:
    config_path: str | None = None
    data_dir: str = "watcher-data"  # GeneralSettings.data_dir
    spec: str = "synthetic"  # SourceSettings
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    codec: str = "libx264"  # EncoderSettings
    preset: str = "veryfast"
    bitrate: int = 2_000_000
    gop_s: float = 2.0
    retention: RetentionSettings = field(default_factory=RetentionSettings)


def from_config(cfg: Any) -> DoctorSettings:
    """From a validated :class:`watcher.config.WatcherConfig`."""
    return DoctorSettings(cfg.path if cfg.path != "<defaults>" else None, cfg.watcher.data_dir, cfg.source.spec,
                          cfg.source.width, cfg.source.height, cfg.source.fps, cfg.encoder.codec, cfg.encoder.preset,
                          cfg.encoder.bitrate, cfg.encoder.gop_s, cfg.retention)


def _pick(table: Any, key: str, kind: type, default: Any) -> Any:
    if not isinstance(table, dict):
        return default
    value = table.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value if isinstance(value, kind) and not isinstance(value, bool) else default


def read_fallback(path: str | None) -> DoctorSettings:
    """The doctor's keys straight from the TOML file, unvalidated beyond their types (bad values: defaults)."""
    d = DoctorSettings()
    if path is None:
        return d
    data = read_toml(Path(path))
    w, s, e = data.get("watcher"), data.get("source"), data.get("encoder")
    data_dir = _pick(w, "data_dir", str, d.data_dir)
    if not Path(data_dir).is_absolute():
        data_dir = str(Path(path).parent / data_dir)  # as watcher.config.parse_config does
    try:
        retention = validate_config(RetentionSettings, data.get("retention"), path, prefix="retention")
    except ConfigError:
        retention = d.retention
    return DoctorSettings(path, data_dir, _pick(s, "spec", str, d.spec), _pick(s, "width", int, d.width),
                          _pick(s, "height", int, d.height), _pick(s, "fps", float, d.fps),
                          _pick(e, "codec", str, d.codec), _pick(e, "preset", str, d.preset),
                          _pick(e, "bitrate", int, d.bitrate), _pick(e, "gop_s", float, d.gop_s), retention)


def load_settings(config: str | None, *, data_dir: str | None = None, source: str | None = None,
                  import_module: Callable[[str], ModuleType] = importlib.import_module
                  ) -> tuple[DoctorSettings, CheckResult]:
    """The settings and the ``config`` check's result. Never raises for a bad or unreadable config:
    that is reported, and the checks go on with what could be read."""
    where = config or "no --config: defaults"
    try:
        load_config = import_module("watcher.config").load_config
    except Exception as e:  # the stack is broken (numpy, cv2 or av): read the file ourselves
        try:
            settings = read_fallback(config)
            result = warn("config", f"{where}: read without full validation, because importing the watcher's "
                          f"config failed ({type(e).__name__}: {e})", "fix the Python stack (lines below), "
                          "then run the doctor again to validate the file")
        except ConfigError as ce:
            settings = DoctorSettings()
            result = fail("config", str(ce), "fix the file; the watcher refuses it (exit 78)")
    else:
        try:
            settings = from_config(load_config(config))
            result = ok("config", f"{where}: valid")
        except ConfigError as ce:
            try:
                settings = read_fallback(config)
            except ConfigError:
                settings = DoctorSettings()
            result = fail("config", str(ce), "fix that key: the watcher refuses to start with it (exit 78)")
    if data_dir:
        settings = replace(settings, data_dir=data_dir)
    if source:
        settings = replace(settings, spec=source)
    return settings, result
