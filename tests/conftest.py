"""Fixtures shared by the whole suite."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

FAKES = Path(__file__).resolve().parent / "fakes"


@pytest.fixture(autouse=True)
def _no_leaked_processes():
    """A test that fails while a watcher process runs must not leave it running."""
    yield
    from tests.proc import LIVE

    while LIVE:
        proc = LIVE.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


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
    # The fake is not pip-installed: its version comes from the release it mirrors.
    monkeypatch.setattr("watcher.sources.picamera2_import.installed_version", module.version)
    yield module
    module.shutdown()  # ends the fake camera threads and anything blocked on them
    drop_picamera2_modules()




@pytest.fixture
def sshd(tmp_path_factory):
    """A real OpenSSH sshd on a loopback port with throwaway keys. Missing sshd fails, never skips."""
    from inspector.throwaway_sshd import ThrowawaySshd

    server = ThrowawaySshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def watcher_clips(tmp_path_factory) -> Path:
    """recorded_clips/ of a real watcher run on the synthetic scene (made once per session)."""
    from tests.inspector_env import make_watcher_clips

    data = tmp_path_factory.mktemp("watcher-run")
    assert len(make_watcher_clips(data)) >= 3
    return data / "recorded_clips"
