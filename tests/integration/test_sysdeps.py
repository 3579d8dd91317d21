"""tests/sysdeps.sh, the first step of ``make test``: its decisions on a bare machine, and the non-root stop.

The real apt cannot be exercised without changing this machine, so the script runs with a PATH whose
``dpkg-query``, ``apt-cache`` and ``apt-get`` are small fakes over files in a temp directory: which packages
dpkg calls installed, whether apt's lists know opencv-doc, and a log of every apt-get call (a fake install
marks its packages installed, as apt would). Everything else is real: bash, ``id``, make, and the switch to
``nobody`` with setpriv. The script runs from a copy next to its own ``.footage`` folder, so the repo's fetched
footage does not decide for the test.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.proc import ROOT

SCRIPT = ROOT / "tests" / "sysdeps.sh"
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
needs_root = pytest.mark.skipif(os.geteuid() != 0 and not os.environ.get("CI"),
                                reason="runs the script as root and as nobody (never skipped in CI)")

FAKES = {
    # dpkg-query -W -f='${Status}' PKG: answered from installed.txt
    "dpkg-query": """#!/bin/sh
for pkg; do :; done
if grep -qxF -- "$pkg" "$STATE/installed.txt"; then printf 'install ok installed'; exit 0; fi
echo "dpkg-query: no packages found matching $pkg" >&2; exit 1
""",
    # apt-cache show opencv-doc: known once apt's lists are (or were made) fresh
    "apt-cache": """#!/bin/sh
[ -e "$STATE/lists-fresh" ] && exit 0
echo "E: No packages found" >&2; exit 100
""",
    "apt-get": """#!/bin/sh
echo "DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-} $*" >>"$STATE/apt-get.log"
case " $* " in
  *" update "*) touch "$STATE/lists-fresh" ;;
  *" install "*) for a; do case "$a" in -*|install) ;; *) echo "$a" >>"$STATE/installed.txt" ;; esac; done ;;
esac
""",
    # stands in for python3 in `make test`: any call means a step after sysdeps ran
    "sentinel-python": """#!/bin/sh
echo "$*" >>"$STATE/python.log"
exit 1
""",
}


class FakeMachine:
    """A temp dir readable by nobody: fakes in bin/, their state, and a copy of the script in tests/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.state = root / "state"
        self.script = root / "tests" / "sysdeps.sh"
        for d in (self.bin, self.state, self.script.parent):
            d.mkdir(parents=True)
            d.chmod(0o755)
        self.state.chmod(0o777)  # a fake called as nobody must be able to log the call
        for name, text in FAKES.items():
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        shutil.copy2(SCRIPT, self.script)
        self.packages = self.run("--list").stdout.split()

    def have(self, packages: list[str], lists_fresh: bool = True) -> None:
        (self.state / "installed.txt").write_text("".join(p + "\n" for p in packages))
        (self.state / "installed.txt").chmod(0o666)
        (self.state / "lists-fresh").unlink(missing_ok=True)
        if lists_fresh:
            (self.state / "lists-fresh").touch()

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("WATCHER_TEST_FOOTAGE", "DEBIAN_FRONTEND")}
        return dict(env, PATH=f"{self.bin}:/usr/sbin:/usr/bin:/sbin:/bin", STATE=str(self.state), HOME="/", **extra)

    def run(self, *args: str, as_nobody: bool = False, **extra: str) -> subprocess.CompletedProcess[str]:
        prefix = AS_NOBODY if as_nobody else []
        return subprocess.run([*prefix, str(self.script), *args], capture_output=True, text=True,
                              env=self.env(**extra), timeout=60, cwd="/", check=False)

    def apt_calls(self) -> list[str]:
        log = self.state / "apt-get.log"
        return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def machine() -> Iterator[FakeMachine]:
    root = Path(tempfile.mkdtemp(prefix="sysdeps-"))  # not under pytest's tmp_path: that is root's alone (0700)
    root.chmod(0o755)
    try:
        yield FakeMachine(root)
    finally:
        shutil.rmtree(root)


def all_but(machine: FakeMachine, *absent: str) -> list[str]:
    assert set(absent) <= set(machine.packages)
    return [p for p in machine.packages if p not in absent]


def test_check_names_only_what_is_missing_and_installs_nothing(machine: FakeMachine) -> None:
    machine.have(all_but(machine, "chromium", "shellcheck"))
    r = machine.run("--check")
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines() == [
        "apt-get update",
        "env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends shellcheck chromium"]
    assert machine.apt_calls() == []


@needs_root
def test_as_root_it_refreshes_the_lists_then_installs_only_what_is_missing_once(machine: FakeMachine) -> None:
    machine.have(all_but(machine, "openssh-server", "python3-av"), lists_fresh=False)
    r = machine.run()
    assert r.returncode == 0, r.stderr
    assert machine.apt_calls() == [
        "DEBIAN_FRONTEND=noninteractive update -qq",
        "DEBIAN_FRONTEND=noninteractive -qq install -y --no-install-recommends openssh-server python3-av"]
    again = machine.run()
    assert again.returncode == 0 and again.stdout == "", again.stdout + again.stderr
    assert len(machine.apt_calls()) == 2, "a second run installs nothing"
    assert machine.run("--check").returncode == 0


@needs_root
def test_everything_present_needs_no_root(machine: FakeMachine) -> None:
    machine.have(machine.packages)
    r = machine.run(as_nobody=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert machine.run("--check").stdout == "sysdeps: nothing to install\n"
    assert machine.apt_calls() == []


@needs_root
def test_the_lists_are_refreshed_for_the_footage_only_while_it_is_not_fetched(machine: FakeMachine,
                                                                             tmp_path: Path) -> None:
    """tests/footage.py needs `apt-get download opencv-doc`: apt must know the package, unless the footage is in."""
    machine.have(machine.packages, lists_fresh=False)
    assert machine.run("--check").stdout == "apt-get update\n"
    nobody = machine.run(as_nobody=True)
    assert nobody.returncode == 1 and "opencv-doc" in nobody.stderr
    assert nobody.stderr.splitlines()[-1] == "    sudo apt-get update"

    (tmp_path / "vtest.avi").write_bytes(b"footage")
    assert machine.run("--check", WATCHER_TEST_FOOTAGE=str(tmp_path)).returncode == 0
    (machine.root / "tests" / ".footage").mkdir()
    (machine.root / "tests" / ".footage" / "vtest.avi").write_bytes(b"footage")
    assert machine.run("--check").returncode == 0
    assert machine.apt_calls() == []


@needs_root
def test_make_test_as_nobody_prints_the_exact_command_and_runs_no_test(machine: FakeMachine) -> None:
    """The README's command, not root, chromium missing: one command to copy, exit non-zero, nothing else ran."""
    machine.have(all_but(machine, "chromium"))
    sentinel = machine.bin / "sentinel-python"
    venv = machine.root / "venv"
    r = subprocess.run([*AS_NOBODY, "make", "-C", str(ROOT), "test", f"PYTHON={sentinel}", f"PI_PYTHON={sentinel}",
                        f"VENV={venv}", f"PI_VENV={venv}-pi"], capture_output=True, text=True,
                       env=machine.env(), timeout=120, cwd="/", check=False)
    assert r.returncode != 0
    wanted = ("sudo apt-get update && sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "
              "--no-install-recommends chromium")
    assert f"\n    {wanted}\n" in r.stderr, r.stderr
    assert not (machine.state / "python.log").exists(), "a step after sysdeps ran"
    assert not venv.exists() and machine.apt_calls() == []
    assert "pytest" not in r.stdout + r.stderr and "lint" not in r.stdout

    # The printed command is the whole fix: run as root (sudo aside), it leaves nothing to do.
    subprocess.run(["bash", "-c", wanted.replace("sudo ", "")], check=True, env=machine.env(), timeout=60)
    assert machine.run("--check").returncode == 0


def test_without_dpkg_it_names_the_packages_and_leaves_the_tests_to_say_what_fails(machine: FakeMachine) -> None:
    """Not Debian: nothing can be checked or installed; a tool the tests need then fails its test, loudly."""
    bare = machine.root / "bare-bin"
    bare.mkdir()
    for tool in ("bash", "dirname"):
        (bare / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    r = subprocess.run([str(bare / "bash"), str(machine.script)], capture_output=True, text=True, timeout=60,
                       env=dict(machine.env(), PATH=str(bare)), check=False)
    assert r.returncode == 0 and "not Debian" in r.stderr and "openssh-server" in r.stderr, r.stderr
    assert machine.apt_calls() == []


def test_every_libcamera_build_dependency_is_checked_up_front(machine: FakeMachine) -> None:
    """build_libcamera.sh installs its own as root; listed here too, a non-root run stops before any test."""
    text = (ROOT / "tests" / "realcam" / "build_libcamera.sh").read_text()
    m = re.search(r"^deps=\((.*?)\)", text, re.DOTALL | re.MULTILINE)
    assert m, "build_libcamera.sh no longer lists deps=(...)"
    assert set(m.group(1).split()) <= set(machine.packages)


def test_ci_runs_the_readme_commands_and_nothing_else() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1]
    block = re.search(r"\n\n((?:    \S.*\n)+)", quick)
    assert block, "no command block under Quick start"
    readme_cmds = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    ci_cmds = [c for c in (line.strip() for line in ci)
               if c and not c.startswith(("#", "set ", "cd "))]
    assert readme_cmds == ci_cmds == ["make demo", "make test"]


@pytest.mark.parametrize("script", [SCRIPT, ROOT / ".ci" / "run"], ids=["sysdeps.sh", "ci-run"])
def test_scripts_pass_shellcheck_and_are_executable_bash(script: Path) -> None:
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert script.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
    r = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True, timeout=60, cwd="/", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
