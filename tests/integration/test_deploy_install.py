"""deploy/pi/install.sh --root DIR: lays down what it promises, changes nothing the second time,
and --uninstall removes it all but the clips.

--no-python-deps keeps the run small (the project goes into the venv, numpy & co. do not; pip
still fetches setuptools from PyPI to build it).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_deploy_units import verify_units
from tests.proc import ROOT

PI = ROOT / "deploy" / "pi"
INSTALL = PI / "install.sh"
UNITS = ["watcher.service", "watcher-cleanup.service", "watcher-cleanup.timer"]
VENV = "opt/motion-watcher/venv"


def install(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", **env)
    return subprocess.run(["bash", str(INSTALL), "--root", str(root), *args], capture_output=True, text=True,
                          timeout=600, env=env)


def manifest(root: Path) -> dict[str, tuple]:
    """Every path under root: type, mode, owner, mtime and content hash (files) or target (links)."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", st.st_mode, st.st_uid, st.st_gid)
            else:
                out[rel] = ("file", st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns,
                            hashlib.sha256(p.read_bytes()).hexdigest())
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, dict, dict, str]:
    base = tmp_path_factory.mktemp("install")
    key = base / "inspector_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "inspector@ws", "-f", str(key)], check=True)
    root = base / "root"
    first = install(root, "--inspector-key", str(key.with_suffix(".pub")), "--no-python-deps")
    assert first.returncode == 0, first.stderr[-3000:]
    m1 = manifest(root)
    second = install(root, "--no-python-deps")  # the key is kept from the first run
    assert second.returncode == 0, second.stderr[-3000:]
    return root, key, m1, manifest(root), second.stderr


def test_second_run_changes_nothing(installed) -> None:
    _root, _key, m1, m2, log = installed
    assert m1 == m2
    assert "nothing to change" in log and "wrote" not in log


def test_lays_down_what_it_promises(installed) -> None:
    root, key, _m1, _m2, _log = installed
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).read_bytes() == (PI / unit).read_bytes()
    dropin = "etc/ssh/sshd_config.d/motion-watcher-sftp.conf"
    assert (root / dropin).read_bytes() == (PI / "sshd_config.d/motion-watcher-sftp.conf").read_bytes()
    key_type, blob = key.with_suffix(".pub").read_text().split()[:2]
    assert (root / "etc/ssh/authorized_keys/inspector").read_text() == f"restrict {key_type} {blob} inspector@ws\n"
    assert (root / "etc/motion-watcher/watcher.toml").read_bytes() == (PI / "watcher.toml").read_bytes()
    assert (root / "opt/motion-watcher/README.md").read_bytes() == (ROOT / "deploy/README.md").read_bytes()
    for rel, mode in [("srv/motion-watcher", 0o755), ("srv/motion-watcher/data", 0o2750),
                      ("srv/motion-watcher/data/temp_clips", 0o2700),
                      ("srv/motion-watcher/data/recorded_clips", 0o2770),
                      ("srv/motion-watcher/data/transferred", 0o2770)]:
        assert stat.S_IMODE((root / rel).stat().st_mode) == mode, rel
    for rel in (dropin, "etc/ssh/authorized_keys/inspector", "etc/motion-watcher/watcher.toml",
                *(f"etc/systemd/system/{u}" for u in UNITS)):
        assert stat.S_IMODE((root / rel).stat().st_mode) == 0o644, rel
    # The venv (system site packages: picamera2 comes from apt) holds an installed copy of the project.
    assert "include-system-site-packages = true" in (root / VENV / "pyvenv.cfg").read_text()
    r = subprocess.run([str(root / VENV / "bin/python"), "-B", "-c",
                        "import watcher.sdnotify, inspector.add_watcher, shared.errors as e; print(e.__file__)"],
                       capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(root / VENV / "lib")), r.stdout
    assert not list(ROOT.glob("build")), "pip must build from a copy, not in the source tree"


def test_installed_units_verify_against_the_installed_venv(installed) -> None:
    root = installed[0]
    units = [root / "etc/systemd/system" / u for u in UNITS]
    r = verify_units(units, f"mount --bind '{root / 'opt'}' /opt")
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def test_edited_config_is_kept(installed, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(installed[0], root, symlinks=True)
    conf = root / "etc/motion-watcher/watcher.toml"
    conf.write_text(conf.read_text().replace('camera = "cam1"', 'camera = "gate"'))
    r = install(root, "--no-python-deps")
    assert r.returncode == 0, r.stderr
    assert 'camera = "gate"' in conf.read_text() and "kept your" in r.stderr


def test_uninstall_removes_it_all_but_the_clips(installed, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(installed[0], root, symlinks=True)
    data = root / "srv/motion-watcher/data"
    clips = [data / "recorded_clips/cam1_20260101T000000Z_0001.mp4",
             data / "transferred/cam1_20260101T000000Z_0000.mp4"]
    for c in clips:
        c.write_bytes(b"clip")
    r = install(root, "--uninstall")
    assert r.returncode == 0, r.stderr
    left = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert left == {str(c.relative_to(root)) for c in clips}
    assert not (root / "opt/motion-watcher").exists() and not (root / "etc/motion-watcher").exists()
    assert "kept" in r.stderr and "userdel watcher" in r.stderr
    again = install(root, "--uninstall")
    assert again.returncode == 0, again.stderr
    assert {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} == left


def test_bad_usage(tmp_path: Path) -> None:
    r = install(tmp_path / "root", "--frobnicate")
    assert r.returncode != 0 and "unknown option --frobnicate" in r.stderr and "--inspector-key" in r.stderr
    r = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--uninstall" in r.stdout and "--root DIR" in r.stdout
    key = tmp_path / "two_keys.pub"
    key.write_text("ssh-ed25519 AAAA one\nssh-ed25519 AAAA two\n")
    r = install(tmp_path / "root", "--inspector-key", str(key), "--no-python-deps")
    assert r.returncode != 0 and "exactly one public key" in r.stderr
    assert not (tmp_path / "root").exists() or not any((tmp_path / "root").iterdir())  # nothing done


def site_packages(venv: Path) -> Path:
    [site] = venv.glob("lib/python3*/site-packages")
    return site


def test_never_pip_installs_numpy_opencv_or_pyav(tmp_path: Path) -> None:
    """As on a Pi (no --no-python-deps): the venv sees Debian's python3-numpy, python3-opencv and python3-av
    (CI installs them; so does install.sh on a real system), pip installs the project and
    requirements-watcher-pypi.txt (pydantic, paho-mqtt) alone, and numpy, cv2
    or av wheels an earlier install left in the venv are removed, since they shadow the system's."""
    root, venv = tmp_path / "root", tmp_path / "root" / VENV
    debian_python = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}  # install.sh's python3: Debian's, as on the Pi
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)], check=True)
    for shadow in ("numpy", "cv2"):  # what pip put there before this version of install.sh
        (site_packages(venv) / shadow).mkdir()
        (site_packages(venv) / shadow / "__init__.py").write_text("raise ImportError('a shadowing wheel')\n")
    pip_log = tmp_path / "pip.log"
    r = install(root, PIP_LOG=str(pip_log), **debian_python)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "numpy cv2 that would shadow the apt packages" in r.stderr

    log = pip_log.read_text()
    assert "motion-watcher" in log.replace("_", "-"), "pip did not run: the test proves nothing"
    assert not re.search(r"(Collecting|Downloading|Installing collected packages:).*\b(numpy|opencv|av)\b", log)
    installed = {d.name.split("-")[0].lower() for d in site_packages(venv).glob("*.dist-info")}
    assert not installed & {"numpy", "opencv_python", "opencv_python_headless", "opencv_contrib_python", "av"}
    assert {"pydantic", "paho_mqtt"} <= installed, "requirements-watcher-pypi.txt was not installed into the venv"
    assert not {p.name for p in site_packages(venv).iterdir()} & {"numpy", "cv2", "av"}
    r = subprocess.run([str(venv / "bin/python"), "-c", ("import numpy, cv2, av, pydantic, paho.mqtt.client, sys; "
                        "print(*(m.__file__ for m in (numpy, cv2, av)), sep='\\n')")],
                       capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stderr + "\n(needs apt-get install python3-numpy python3-opencv python3-av)"
    assert all(f.startswith("/usr/lib/python3/dist-packages/") for f in r.stdout.split()), r.stdout
