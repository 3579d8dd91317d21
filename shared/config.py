"""Typed, validated TOML configuration.

Each section is a pydantic model built on :class:`shared.validation.Strict` (bounds, choices and
descriptions in the schema); a file is one model whose fields are its tables. :func:`read_toml` reads a
file and :func:`validate_config` checks its dict against the model; every error is a
:class:`~shared.errors.ConfigError` naming the file and the dotted key (``watcher[1].host``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.errors import ConfigError
from shared.validation import Problem, validate

M = TypeVar("M", bound=BaseModel)


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning every failure into a ConfigError that names the file."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(str(path), "-", "file not found") from None
    except PermissionError:
        raise ConfigError(str(path), "-", "permission denied") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), "-", f"not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "-", "not UTF-8 text") from None


def validate_config(model: type[M], data: object, path: str, *, prefix: str = "") -> M:
    """``model`` built from ``data`` (a file's dict, or one table of it under ``prefix``), or
    ConfigError(path, key, problem) for the first thing wrong."""
    try:
        return validate(model, data, prefix=prefix)
    except Problem as e:
        raise ConfigError(path, e.key or "-", e.message) from None
