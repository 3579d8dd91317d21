"""The step most commands start with: load the config and check the library's catalog."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inspector.config import InspectorConfig


def open_library(config: str) -> InspectorConfig:
    """The loaded config; raises ConfigError, or CatalogError for a catalog damaged, lost or being rebuilt
    (one clear error, not a traceback)."""
    from inspector.catalog_guard import check_library
    from inspector.config import load_config

    cfg = load_config(config)
    check_library(cfg.library)
    return cfg
