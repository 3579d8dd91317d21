"""The settings ``tune`` tries: the current ones, each ``--set`` group, and a ``--grid`` file's combinations.

A ``--set`` group is one candidate: ``--set detector.threshold=6 detector.shake_px=2``. Values are TOML
values (``6``, ``0.5``, ``[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]``). A grid file is TOML with a table per
section and the list of values to try per key (for ``mask``, a list of masks); every combination is a
candidate::

    [detector]
    threshold = [4.0, 6.0, 8.0]
    shake_px = [1, 2]
    [trigger]
    min_motion_frames = [3, 5]

Every candidate is validated like the watcher's own configuration; a bad one is a ConfigError naming
where it came from (``--set`` or the grid file) and the key.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.config import read_toml
from shared.errors import ConfigError
from shared.replay import SECTIONS, Detection
from shared.validation import Problem

MAX_CANDIDATES = 256
UNTUNABLE = "detector.warmup_s"


@dataclass(frozen=True)
class Candidate:
    name: str  # "current", "set 1", "grid 3"
    changes: dict[str, Any]  # flat keys changed from the current settings
    detection: Detection


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["detector.threshold=6", ...]`` as ``{"detector.threshold": 6}``; ConfigError for a malformed item."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError("--set", item, "must be SECTION.KEY=VALUE, e.g. detector.threshold=6")
        try:
            out[key] = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError as e:
            raise ConfigError("--set", key, f"{text!r} is not a TOML value ({e})") from None
    return out


def read_grid(path: Path) -> list[dict[str, Any]]:
    """The grid file's combinations, each as flat changes; ConfigError naming the file and the key."""
    doc = read_toml(path)
    axes: list[tuple[str, list[Any]]] = []
    for section, table in doc.items():
        if section not in SECTIONS or not isinstance(table, dict):
            raise ConfigError(str(path), section, f"must be a table: {' or '.join(f'[{s}]' for s in SECTIONS)}")
        for key, values in table.items():
            if not isinstance(values, list):
                raise ConfigError(str(path), f"{section}.{key}", "must be a list of the values to try")
            if not values:
                raise ConfigError(str(path), f"{section}.{key}", "needs at least one value")
            axes.append((f"{section}.{key}", values))
    combos = 1
    for _, values in axes:
        combos *= len(values)
    if combos > MAX_CANDIDATES:
        raise ConfigError(str(path), "grid", f"makes {combos} candidates, more than {MAX_CANDIDATES}")
    return [dict(zip([k for k, _ in axes], combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))]


def build(current: Detection, sets: list[dict[str, Any]], grid: list[dict[str, Any]],
          grid_path: str = "--grid") -> list[Candidate]:
    """The current settings first, then each ``--set`` group and each grid combination (duplicates of an
    earlier candidate are left out)."""
    out = [Candidate("current", {}, current)]
    seen = {current.model_dump_json()}
    for origin, label, groups in (("--set", "set", sets), (grid_path, "grid", grid)):
        for i, changes in enumerate(groups, 1):
            if UNTUNABLE in changes:
                raise ConfigError(origin, UNTUNABLE, "cannot be tuned by replay: a replay learns the scene from what "
                                  "the clip holds before its event, whatever the watcher's warm-up (which only "
                                  "matters after it restarts)")
            try:
                detection = current.with_changes(changes)
            except Problem as e:
                raise ConfigError(origin, e.key, e.message) from None
            key = detection.model_dump_json()
            if key not in seen:
                seen.add(key)
                out.append(Candidate(f"{label} {i}", detection.changes(current), detection))
    if len(out) > MAX_CANDIDATES + 1:
        raise ConfigError(grid_path, "grid", f"{len(out) - 1} candidates, more than {MAX_CANDIDATES}")
    return out
