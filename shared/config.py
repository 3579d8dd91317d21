"""Typed, validated TOML configuration.

Each section is a frozen dataclass. :func:`build_section` turns a TOML table into one:
unknown keys are rejected, every value is type-checked against the field's annotation and
bounds given in ``field(metadata={"min": .., "max": .., "choices": ..})`` are enforced. Every
error is a :class:`~shared.errors.ConfigError` naming the file and the dotted key.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from shared.errors import ConfigError

T = TypeVar("T")


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


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str, path: str) -> Any:
    """Check ``value`` against annotation ``tp``; return it converted (lists -> tuples)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for alt in args:
            if alt is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(value, alt, where, path)
            except ConfigError as e:
                errors.append(e.problem)
        raise ConfigError(path, where, " or ".join(errors) or "invalid value")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(path, where, f"expected a list, got {type(value).__name__}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(path, where, f"expected {len(args)} items, got {len(value)}")
            pairs = enumerate(zip(value, args, strict=True))
            return tuple(_coerce(v, a, f"{where}[{i}]", path) for i, (v, a) in pairs)
        item = args[0] if args else Any
        return tuple(_coerce(v, item, f"{where}[{i}]", path) for i, v in enumerate(value))
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, where, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, where, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, where, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(path, where, f"expected a string, got {value!r}")
        return value
    raise ConfigError(path, where, f"unsupported type {_type_name(tp)}")


def _join(section: str, key: str) -> str:
    return f"{section}.{key}" if section else key


def build_section(cls: type[T], table: Any, *, path: str, section: str) -> T:
    """Build dataclass ``cls`` from a TOML table; see the module docstring."""
    if table is None:
        table = {}
    if not isinstance(table, dict):
        raise ConfigError(path, section or "-", f"expected a table, got {type(table).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    for key in table:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(path, _join(section, key), f"unknown key (known keys: {known})")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in table:
            continue
        where = _join(section, name)
        value = _coerce(table[name], hints[name], where, path)
        meta = f.metadata
        if "choices" in meta and value not in meta["choices"]:
            raise ConfigError(path, where, f"must be one of {', '.join(map(repr, meta['choices']))}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "min" in meta and value < meta["min"]:
                raise ConfigError(path, where, f"must be >= {meta['min']}, got {value}")
            if "max" in meta and value > meta["max"]:
                raise ConfigError(path, where, f"must be <= {meta['max']}, got {value}")
        if "check" in meta:
            problem = meta["check"](value)
            if problem:
                raise ConfigError(path, where, problem)
        kwargs[name] = value
    return cls(**kwargs)
