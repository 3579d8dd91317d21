"""watcher.service: installed, enabled, running, and how it last ended.

One ``systemctl show`` gives what ``is-enabled`` (UnitFileState), ``is-active`` (ActiveState) and
the last exit (Result, ExecMainCode/ExecMainStatus, NRestarts) would. Where systemd is not PID 1
(containers, CI) the check does not apply.
"""

from __future__ import annotations

import signal
from pathlib import Path

from watcher.doctor.probes import CommandRunner, run_command
from watcher.doctor.result import CheckResult, fail, na, ok, warn

UNIT = "watcher.service"
PROPERTIES = ("LoadState", "UnitFileState", "ActiveState", "SubState", "Result", "ExecMainCode", "ExecMainStatus",
              "NRestarts")

# The watcher's exit codes (shared.errors, watcher/__main__.py).
EXIT_MEANING = {
    0: "clean stop",
    1: "an unexpected error",
    69: "the camera/source could not be opened",
    73: "the data directory is unusable",
    75: "the camera could not be stopped (a wedged camera stack); restarted",
    78: "a configuration error (not restarted until fixed)",
}


def systemd_booted(run_dir: Path = Path("/run/systemd/system")) -> bool:
    """sd_booted(3): systemd is PID 1."""
    return run_dir.is_dir()


def show(runner: CommandRunner, unit: str = UNIT) -> dict[str, str] | None:
    args = ["systemctl", "show", unit, "--no-pager"] + [a for p in PROPERTIES for a in ("-p", p)]
    r = runner(args, 15.0)
    if r.returncode != 0:
        return None
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


def last_exit(props: dict[str, str]) -> str:
    code, status = props.get("ExecMainCode", ""), props.get("ExecMainStatus", "")
    if code in ("2", "3") and status.isdigit():
        try:
            return f"killed by {signal.Signals(int(status)).name}"
        except ValueError:
            return f"killed by signal {status}"
    if status.isdigit():
        n = int(status)
        return f"exit status {n}" + (f" ({EXIT_MEANING[n]})" if n in EXIT_MEANING else "")
    return "no exit recorded"


def check_service(*, runner: CommandRunner = run_command, booted: bool = True, unit: str = UNIT) -> CheckResult:
    if not booted:
        return na("service", "systemd is not running here (container?): not applicable")
    props = show(runner, unit)
    if props is None:
        return na("service", f"systemctl cannot tell about {unit}: not applicable")
    if props.get("LoadState") == "not-found":
        return na("service", f"{unit} is not installed (deploy/pi/install.sh installs it)")
    enabled = props.get("UnitFileState", "?")
    active, sub, result = props.get("ActiveState", "?"), props.get("SubState", "?"), props.get("Result", "?")
    restarts = props.get("NRestarts", "0")
    summary = f"{enabled}, {active} ({sub}), last result {result}, {last_exit(props)}, {restarts} restart(s)"
    logs = f"`journalctl -u {unit} -n 50` says why"
    if active == "failed" or sub == "auto-restart" or (active == "inactive" and result not in ("success", "?")):
        fix = logs
        if props.get("ExecMainStatus") == "78":
            fix = f"fix the config file it names ({logs}), then `sudo systemctl restart {unit}`"
        elif result == "watchdog":
            fix = f"the camera stalled (watchdog): {logs}; check the camera line"
        return fail("service", summary, fix, **props)
    if active not in ("active", "activating", "reloading"):
        return warn("service", summary, f"`sudo systemctl enable --now {unit}`", **props)
    if enabled not in ("enabled", "enabled-runtime", "static", "alias", "linked"):
        return warn("service", f"{summary}: does not start at boot", f"`sudo systemctl enable {unit}`", **props)
    return ok("service", summary, **props)


def is_active(result: CheckResult) -> bool | None:
    """Whether the service runs (for the camera check: a running watcher holds the camera)."""
    if result.status.value == "n/a":
        return None
    state, sub = result.details.get("ActiveState"), result.details.get("SubState")
    return state in ("active", "reloading") or (state == "activating" and sub != "auto-restart")
