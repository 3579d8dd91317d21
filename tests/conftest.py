"""Fixtures shared by the whole suite."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
FAKES = TESTS / "fakes"

# The inspector's tests: they import the inspector (and so paramiko, its analysis, a workstation's numpy,
# OpenCV and PyAV). Every other test is a watcher test, which also runs on the Pi's own Python stack:
# `make test-pi-stack` passes --watcher-only, which leaves exactly these files out (they are not even
# imported). tests/unit/test_test_selection.py checks that this list is exactly the test files that
# import the inspector or paramiko, so no watcher test can hide here.
INSPECTOR_TESTS = frozenset({
    "unit/test_add_watcher.py",
    "unit/test_analysis_logic.py",
    "unit/test_deadlines.py",
    "unit/test_fleet_health_rules.py",
    "unit/test_inspector_config.py",
    "unit/test_inspector_entry_points.py",
    "unit/test_labels.py",
    "unit/test_listing_scan.py",
    "unit/test_progress_line.py",
    "unit/test_readahead.py",
    "unit/test_sftp_wire.py",
    "unit/test_ssh_command.py",
    "unit/test_tune_rules.py",
    "unit/test_tune_page.py",
    "integration/test_analysis.py",
    "integration/test_analysis_limits.py",
    "integration/test_bench_transfer.py",  # through tests.bench.transfer
    "integration/test_catalog_rebuild.py",
    "integration/test_cleanup_race.py",  # the watcher's cleanup racing the inspector's pull
    "integration/test_deploy_add_watcher.py",
    "integration/test_deploy_sftp_account.py",  # the Pi's SFTP account, driven by the inspector over paramiko
    "integration/test_inspector_cleanup.py",
    "integration/test_inspector_concurrency.py",
    "integration/test_inspector_disk.py",
    "integration/test_inspector_faults.py",
    "integration/test_inspector_identity.py",
    "integration/test_inspector_inflight.py",
    "integration/test_inspector_noise.py",
    "integration/test_inspector_progress.py",
    "integration/test_inspector_pull.py",
    "integration/test_inspector_supervision.py",  # deadlines, sigterm, supervision: the inspector's network side
    "integration/test_inspector_deadlines.py",
    "integration/test_tune.py",
    "integration/test_inspector_events.py",  # MQTT and webhooks after a pull
    "integration/test_labels.py",
    "integration/test_fleet_health.py",  # the inspector reading watchers' status.json
    "integration/test_inspector_sigterm.py",
    "integration/test_inspector_ssh.py",  # the SFTP transport over OpenSSH's ssh
    "integration/test_report.py",
    "integration/test_report_hostile.py",
})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--watcher-only", action="store_true",
                     help="run the watcher's tests only: leave out (do not import) the inspector's, "
                          "listed in tests/conftest.py (make test-pi-stack)")


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(TESTS).as_posix()
    except ValueError:
        return ""


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if config.getoption("--watcher-only") and _relative(collection_path) in INSPECTOR_TESTS:
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _relative(item.path) in INSPECTOR_TESTS:
            item.add_marker(pytest.mark.inspector)


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
    from tests.throwaway_sshd import ThrowawaySshd

    server = ThrowawaySshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def broker(tmp_path_factory):
    """A real Mosquitto broker on a loopback port: password logins and an ACL (tests/mosquitto.py)."""
    from tests.mosquitto import ThrowawayBroker

    b = ThrowawayBroker(tmp_path_factory.mktemp("broker"))
    b.start()
    yield b
    b.stop()


@pytest.fixture(scope="session")
def watcher_clips(tmp_path_factory) -> Path:
    """recorded_clips/ of a real watcher run on the synthetic scene (made once per session)."""
    from tests.inspector_env import make_watcher_clips

    data = tmp_path_factory.mktemp("watcher-run")
    assert len(make_watcher_clips(data)) >= 3
    return data / "recorded_clips"
