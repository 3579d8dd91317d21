"""Static checks of what deploy/ ships: systemd units, shell scripts, configs, the sshd drop-in.

``systemd-analyze verify`` insists that ExecStart's program exists. The units name the venv
python under /opt, so verification runs in a private mount namespace (``unshare --mount``, as
root) with a tmpfs on /opt holding that path; the host's /opt is never touched.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.proc import ROOT

DEPLOY = ROOT / "deploy"
PI_UNITS = ["watcher.service", "watcher-cleanup.service", "watcher-cleanup.timer"]
VENV_PYTHONS = ["/opt/motion-watcher/venv/bin/python", "/opt/motion-inspector/venv/bin/python"]
# Overall exposure from `systemd-analyze security --offline=yes` (0 = locked down, 10 = unsafe): keep it low.
EXPOSURE_LIMITS = {"pi/watcher.service": 1.5, "pi/watcher-cleanup.service": 1.0, "inspector/inspector.service": 1.5}


def verify_units(units: list[Path], opt_setup: str) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify`` in a private mount namespace where ``opt_setup`` has prepared /opt."""
    script = f"set -e; {opt_setup}; exec systemd-analyze verify " + " ".join(f"'{u}'" for u in units)
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=120)


def fake_opt() -> str:
    links = " && ".join(f"mkdir -p {Path(p).parent} && ln -s {sys.executable} {p}" for p in VENV_PYTHONS)
    return f"mount -t tmpfs tmpfs /opt && {links}"


def test_every_unit_verifies() -> None:
    units = [DEPLOY / "pi" / u for u in PI_UNITS] + [DEPLOY / "inspector" / "inspector.service"]
    r = verify_units(units, fake_opt())
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def test_verify_notices_a_missing_program() -> None:
    """The check above is not vacuous: without the program under /opt, verify fails."""
    r = verify_units([DEPLOY / "pi" / "watcher.service"], "mount -t tmpfs tmpfs /opt")
    assert r.returncode != 0 and "/opt/motion-watcher/venv/bin/python" in r.stderr


@pytest.mark.parametrize("unit,limit", sorted(EXPOSURE_LIMITS.items()))
def test_exposure_stays_low(unit: str, limit: float) -> None:
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(DEPLOY / unit)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    assert m, r.stdout[-2000:]
    assert float(m.group(1)) <= limit, r.stdout


def test_shellcheck_every_script() -> None:
    scripts = sorted(DEPLOY.rglob("*.sh"))
    assert {p.name for p in scripts} >= {"install.sh", "lib-sftp-account.sh"}
    r = subprocess.run(["shellcheck", "--external-sources", *map(str, scripts)], capture_output=True, text=True,
                       timeout=120, cwd="/")
    assert r.returncode == 0, r.stdout + r.stderr


def test_scripts_are_executable_bash() -> None:
    for script in DEPLOY.rglob("*.sh"):
        assert script.read_text().startswith("#!/usr/bin/env bash\n"), script
        assert script.stat().st_mode & 0o111, f"{script} is not executable"
        r = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


def test_shipped_sshd_dropin_is_valid_sshd_config(tmp_path: Path) -> None:
    host_key = tmp_path / "host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    cfg = tmp_path / "sshd_config"
    dropin = DEPLOY / "pi" / "sshd_config.d" / "motion-watcher-sftp.conf"
    cfg.write_text(f"Include {dropin}\nHostKey {host_key}\nUsePAM yes\nSubsystem sftp internal-sftp\n")
    if os.geteuid() == 0:  # root's sshd needs it (the sshd fixture of other tests made it, when they ran first)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    r = subprocess.run(["/usr/sbin/sshd", "-t", "-f", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    effective = subprocess.run(["/usr/sbin/sshd", "-T", "-f", str(cfg), "-C", "user=inspector,host=h,addr=10.0.0.2"],
                               capture_output=True, text=True, check=True).stdout.splitlines()
    assert "chrootdirectory /srv/motion-watcher" in effective
    assert "authorizedkeysfile /etc/ssh/authorized_keys/%u" in effective
    assert "disableforwarding yes" in effective and "permittty no" in effective


def test_default_watcher_config_matches_the_units() -> None:
    from watcher.config import load_config

    cfg = load_config(str(DEPLOY / "pi" / "watcher.toml"))
    assert cfg.watcher.data_dir == "/srv/motion-watcher/data" and cfg.source.spec == "picamera2"
    for unit in ("watcher.service", "watcher-cleanup.service"):
        text = (DEPLOY / "pi" / unit).read_text()
        assert f"ReadWritePaths={cfg.watcher.data_dir}\n" in text
        assert "--config /etc/motion-watcher/watcher.toml" in text
    assert "RestartPreventExitStatus=78" in (DEPLOY / "pi" / "watcher.service").read_text()
