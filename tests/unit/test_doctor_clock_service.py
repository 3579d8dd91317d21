"""Clock and service checks with a fake command runner (no systemd needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from watcher.doctor.clock import check_clock, kernel_synchronized
from watcher.doctor.probes import CommandResult
from watcher.doctor.result import Status
from watcher.doctor.service import check_service, is_active, last_exit


class Commands:
    """Answers by the command's first words; anything unknown: "command not found"."""

    def __init__(self, answers: dict[str, CommandResult]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], timeout_s: float) -> CommandResult:
        self.calls.append(list(argv))
        for prefix, answer in self.answers.items():
            if " ".join(argv).startswith(prefix):
                return answer
        return CommandResult(None, error=f"{argv[0]}: command not found")


def timedatectl(synced: str, ntp: str = "yes") -> CommandResult:
    return CommandResult(0, f"NTPSynchronized={synced}\nNTP={ntp}\n")


@pytest.fixture
def rtc(tmp_path: Path) -> Path:
    d = tmp_path / "rtc"
    (d / "rtc0").mkdir(parents=True)
    return d


def clock(runner, tmp_path: Path, rtc_dir: Path, **kw):
    kw.setdefault("kernel", lambda: None)
    return check_clock(runner=runner, timesync_flag=tmp_path / "synchronized", rtc_dir=rtc_dir, **kw)


def test_clock_from_timedatectl(tmp_path: Path, rtc: Path) -> None:
    assert clock(Commands({"timedatectl": timedatectl("yes")}), tmp_path, rtc).status is Status.OK
    r = clock(Commands({"timedatectl": timedatectl("no")}), tmp_path, rtc)
    assert r.status is Status.WARN and "NTP has not synchronized yet" in r.message and "UTC" in r.message
    r = clock(Commands({"timedatectl": timedatectl("no", ntp="no")}), tmp_path, rtc)
    assert "no NTP service is enabled" in r.message and "timedatectl set-ntp true" in r.fix


def test_synchronized_but_the_watcher_would_not_wait_at_boot(tmp_path: Path) -> None:
    no_rtc = tmp_path / "no-rtc"
    runner = Commands({"timedatectl": timedatectl("yes"),
                       "systemctl is-enabled systemd-time-wait-sync": CommandResult(1, "disabled\n")})
    r = clock(runner, tmp_path, no_rtc)
    assert r.status is Status.WARN and "time of the last shutdown" in r.message
    runner.answers["systemctl is-enabled systemd-time-wait-sync"] = CommandResult(0, "enabled\n")
    assert clock(runner, tmp_path, no_rtc).status is Status.OK


def test_clock_without_systemd(tmp_path: Path, rtc: Path) -> None:
    runner = Commands({})
    r = clock(runner, tmp_path, rtc, systemd_booted=False, kernel=lambda: False)
    assert r.status is Status.WARN and "adjtimex" in r.message and runner.calls == []
    (tmp_path / "synchronized").touch()
    assert clock(runner, tmp_path, rtc, kernel=lambda: False).status is Status.OK
    (tmp_path / "synchronized").unlink()
    assert clock(runner, tmp_path, rtc, kernel=lambda: True).status is Status.OK
    assert clock(runner, tmp_path, rtc).status is Status.NA


def test_kernel_clock_state_is_readable_here() -> None:
    assert kernel_synchronized() in (True, False)


def show(**props: str) -> Commands:
    base = {"LoadState": "loaded", "UnitFileState": "enabled", "ActiveState": "active", "SubState": "running",
            "Result": "success", "ExecMainCode": "0", "ExecMainStatus": "0", "NRestarts": "0"}
    base.update(props)
    shown = "".join(f"{k}={v}\n" for k, v in base.items())
    return Commands({"systemctl show watcher.service": CommandResult(0, shown)})


def test_service_states() -> None:
    r = check_service(runner=show())
    assert r.status is Status.OK and r.message.startswith("enabled, active (running)") and is_active(r)
    r = check_service(runner=show(UnitFileState="disabled"))
    assert r.status is Status.WARN and "does not start at boot" in r.message
    r = check_service(runner=show(ActiveState="inactive", SubState="dead"))
    assert r.status is Status.WARN and "enable --now" in r.fix and not is_active(r)
    r = check_service(runner=show(ActiveState="failed", SubState="failed", Result="exit-code", ExecMainCode="1",
                                  ExecMainStatus="78"))
    assert r.status is Status.FAIL and "exit status 78 (a configuration error" in r.message
    assert "fix the config file" in r.fix
    r = check_service(runner=show(ActiveState="activating", SubState="auto-restart", Result="exit-code",
                                  ExecMainCode="1", ExecMainStatus="69", NRestarts="12"))
    assert r.status is Status.FAIL and "camera/source could not be opened" in r.message and "12 restart(s)" in r.message
    assert is_active(r) is False
    r = check_service(runner=show(ActiveState="activating", SubState="auto-restart", Result="watchdog",
                                  ExecMainCode="2", ExecMainStatus="6"))
    assert r.status is Status.FAIL and "killed by SIGABRT" in r.message and "watchdog" in r.fix


def test_service_not_applicable() -> None:
    r = check_service(runner=Commands({}), booted=False)
    assert r.status is Status.NA and "systemd is not running" in r.message and is_active(r) is None
    r = check_service(runner=show(LoadState="not-found", UnitFileState="", ActiveState="inactive"))
    assert r.status is Status.NA and "not installed" in r.message
    assert check_service(runner=Commands({})).status is Status.NA


def test_last_exit_wording() -> None:
    assert last_exit({"ExecMainCode": "1", "ExecMainStatus": "73"}) == "exit status 73 (the data directory is unusable)"
    assert last_exit({"ExecMainCode": "2", "ExecMainStatus": "9"}) == "killed by SIGKILL"
    assert last_exit({}) == "no exit recorded"
