"""Fixtures shared by the whole suite."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

FAKES = Path(__file__).resolve().parent / "fakes"


def drop_picamera2_modules() -> None:
    for name in list(sys.modules):
        if name == "picamera2" or name.startswith("picamera2."):
            del sys.modules[name]


@pytest.fixture
def fake(monkeypatch):
    """The fake picamera2 package, first on sys.path; its knobs reset; modules dropped after."""
    drop_picamera2_modules()
    monkeypatch.syspath_prepend(str(FAKES))
    module = importlib.import_module("picamera2._fake")
    module.reset()
    yield module
    drop_picamera2_modules()


