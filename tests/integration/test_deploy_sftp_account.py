"""The inspector's restricted SFTP account, for real.

deploy/pi/lib-sftp-account.sh (the code install.sh runs) creates real users, the chroot layout
and the sshd drop-in under a throwaway root-owned tree in /srv (a chroot under /tmp fails:
/tmp is world-writable). A real watcher run *as the watcher user* records clips into it, and a
real sshd that includes the drop-in (at the top, as Debian's sshd_config does) serves it on a
loopback port. Then: the inspector pulls and archives through it; a shell command, a pty, port
forwarding, writing, making a directory and any path outside the chroot are refused; and what the
account can still do to the clip being recorded (an empty file on its name, a finished clip
renamed onto it) never stops the watcher, nor its salvage, from publishing it.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from inspector.catalog import Catalog
from inspector.config import load_config
from inspector.fleet import pull_all
from shared.naming import make_clip_id, parse_clip_id
from tests.clips import verify_recorded
from tests.inspector_env import write_config
from tests.proc import LIVE, ROOT, wait_for_file, wait_until
from tests.throwaway_sshd import ThrowawaySshd
from watcher.config import default_camera

LIB = ROOT / "deploy" / "pi" / "lib-sftp-account.sh"
DROPIN_NAME = "motion-watcher-sftp.conf"

# The watcher as systemd runs it: User=, SupplementaryGroups=, UMask=0027. setpriv switches the
# user; the child keeps only CAP_DAC_READ_SEARCH so it can read this checkout and interpreter
# wherever they are (e.g. under /root), while every write is checked as the watcher user's.
RUN_WATCHER = "import os, sys; os.umask(0o027); import watcher.__main__ as m; sys.exit(m.main(sys.argv[1:]))"
RUN_CLEANUP = "import os, sys; os.umask(0o027); import watcher.cleanup as m; sys.exit(m.main(sys.argv[1:]))"
CAMERA = default_camera()  # the watcher runs without a config: its camera is named after this host


class DeploySshd(ThrowawaySshd):
    """The throwaway sshd with the deployed drop-in included first, and Debian's UsePAM/StrictModes."""

    def __init__(self, workdir: Path, dropin: Path) -> None:
        super().__init__(workdir)
        self.dropin = dropin

    def _write_config(self) -> None:
        super()._write_config()
        text = self.config.read_text().replace("UsePAM no", "UsePAM yes").replace("StrictModes no", "StrictModes yes")
        self.config.write_text(f"Include {self.dropin}\n{text}")


@dataclass
class Pi:
    base: Path
    chroot: Path
    data: Path
    ssh_dir: Path
    watcher_user: str
    sftp_user: str
    group: str
    sshd: DeploySshd

    def as_watcher(self) -> list[str]:
        """The command prefix that runs what follows as the watcher user, the way systemd does."""
        return ["setpriv", f"--reuid={self.watcher_user}", f"--regid={self.watcher_user}",
                f"--groups={self.group},video", "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", "--"]

    def ssh_args(self) -> list[str]:
        return ["ssh", "-F", "/dev/null", "-p", str(self.sshd.port), "-i", str(self.sshd.user_key),
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={self.sshd.known_hosts}", "-o", "ConnectTimeout=10",
                f"{self.sftp_user}@127.0.0.1"]

    def client(self) -> paramiko.SSHClient:
        c = paramiko.SSHClient()
        c.load_host_keys(str(self.sshd.known_hosts))
        c.set_missing_host_key_policy(paramiko.RejectPolicy())
        c.connect("127.0.0.1", port=self.sshd.port, username=self.sftp_user, key_filename=str(self.sshd.user_key),
                  allow_agent=False, look_for_keys=False, timeout=10, banner_timeout=10, auth_timeout=10)
        return c


def lib(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(LIB), *args], env=dict(os.environ, **env), capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def pi() -> Iterator[Pi]:
    base = Path(tempfile.mkdtemp(prefix="mwtest-", dir="/srv"))
    base.chmod(0o755)  # sshd reads authorized_keys below it as the SFTP user
    tag = f"{os.getpid() % 1_000_000}"
    names = {"MW_WATCHER_USER": f"mwt{tag}w", "MW_SFTP_USER": f"mwt{tag}i", "MW_CLIPS_GROUP": f"mwt{tag}c"}
    env = {"MW_ROOT": "", "MW_CHROOT": str(base / "chroot"), "MW_SSH_DIR": str(base / "ssh"), **names}
    sshd: DeploySshd | None = None
    try:
        sshd = DeploySshd(base / "sshd", base / "ssh" / "sshd_config.d" / DROPIN_NAME)
        r = lib(env, "setup", str(sshd.user_key.with_suffix(".pub")))
        assert r.returncode == 0, r.stderr
        again = lib(env, "setup", str(sshd.user_key.with_suffix(".pub")))
        assert again.returncode == 0 and "wrote" not in again.stderr and "created" not in again.stderr, again.stderr
        sshd.start()
        yield Pi(base, base / "chroot", base / "chroot" / "data", base / "ssh", names["MW_WATCHER_USER"],
                 names["MW_SFTP_USER"], names["MW_CLIPS_GROUP"], sshd)
    finally:
        if sshd is not None:
            sshd.stop()
        lib(env, "remove")
        for user in (names["MW_SFTP_USER"], names["MW_WATCHER_USER"]):
            subprocess.run(["userdel", user], capture_output=True)
        subprocess.run(["groupdel", names["MW_CLIPS_GROUP"]], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def clip_ids(pi: Pi) -> set[str]:
    """Clips recorded by the real watcher running as the watcher user into the chroot's data dir."""
    r = subprocess.run([*pi.as_watcher(), sys.executable, "-c", RUN_WATCHER,
                        "--source", "synthetic", "--duration", "30", "--data-dir", str(pi.data)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, env=dict(os.environ, HOME="/nonexistent"))
    assert r.returncode == 0, r.stderr[-3000:]
    ids = {p.stem for p in (pi.data / "recorded_clips").glob("*.json")}
    assert len(ids) >= 2, r.stdout
    assert all(i.startswith(f"{CAMERA}_") for i in ids), ids
    return ids


def test_accounts_and_layout(pi: Pi) -> None:
    sftp = pwd.getpwnam(pi.sftp_user)
    assert sftp.pw_shell == "/usr/sbin/nologin" and sftp.pw_dir == str(pi.chroot)
    shadow = subprocess.run(["getent", "shadow", pi.sftp_user], capture_output=True, text=True).stdout.split(":")
    assert shadow[1] == "*"  # no password can match; not "locked" for sshd either
    assert pi.group in subprocess.run(["id", "-nG", pi.sftp_user], capture_output=True, text=True).stdout.split()
    assert {pi.group, "video"} <= set(subprocess.run(["id", "-nG", pi.watcher_user], capture_output=True,
                                                     text=True).stdout.split())
    st = pi.chroot.stat()
    assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o755
    for name, mode in (("", 0o2750), ("temp_clips", 0o2700), ("recorded_clips", 0o2770), ("transferred", 0o2770)):
        st = (pi.data / name).stat()
        assert (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name) == (pi.watcher_user, pi.group)
        assert stat.S_IMODE(st.st_mode) == mode, name
    key_line = (pi.ssh_dir / "authorized_keys" / pi.sftp_user).read_text()
    assert key_line.startswith("restrict ssh-ed25519 ")


def test_sshd_applies_the_match_block_to_that_user_only(pi: Pi) -> None:
    def effective(user: str) -> dict[str, str]:
        out = subprocess.run(["/usr/sbin/sshd", "-T", "-f", str(pi.sshd.config), "-C",
                              f"user={user},host=localhost,addr=127.0.0.1,laddr=127.0.0.1,lport={pi.sshd.port}"],
                             capture_output=True, text=True, check=True).stdout
        return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)

    mine = effective(pi.sftp_user)
    assert mine["forcecommand"].startswith("internal-sftp ")
    assert mine["chrootdirectory"] == str(pi.chroot)
    assert mine["authorizedkeysfile"] == f"{pi.ssh_dir}/authorized_keys/%u"
    assert (mine["disableforwarding"], mine["permittty"], mine["passwordauthentication"]) == ("yes", "no", "no")
    other = effective("root")  # "Match all" ends the block: nothing leaks to the rest of sshd_config
    assert other["forcecommand"] == "none" and other["chrootdirectory"] == "none"
    assert other["disableforwarding"] == "no" and other["permittty"] == "yes"


def test_watcher_files_are_readable_not_writable_by_the_group(pi: Pi, clip_ids: set[str]) -> None:
    uid = pwd.getpwnam(pi.watcher_user).pw_uid
    gid = grp.getgrnam(pi.group).gr_gid
    for f in (pi.data / "recorded_clips").iterdir():
        st = f.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (uid, gid, 0o640), f
    assert not list((pi.data / "temp_clips").iterdir())


def test_inspector_pulls_and_archives_through_the_chroot(pi: Pi, clip_ids: set[str], tmp_path: Path) -> None:
    table = (f'[[watcher]]\nname = "pi"\nhost = "127.0.0.1"\nport = {pi.sshd.port}\nuser = "{pi.sftp_user}"\n'
             f'identity_file = "{pi.sshd.user_key}"\nknown_hosts = "{pi.sshd.known_hosts}"\n'
             f'remote_dir = "/data/recorded_clips"\nafter_transfer = "archive"\nconnect_timeout_s = 5.0\n')
    library = tmp_path / "library"
    results = pull_all(load_config(str(write_config(tmp_path / "inspector.toml", library, [table]))))
    assert results[0].error is None, results[0].error
    assert set(results[0].stats[0].stored) == clip_ids
    assert not list((pi.data / "recorded_clips").iterdir())
    archived = pi.data / "transferred"
    assert {p.stem for p in archived.glob("*.mp4")} == clip_ids == {p.stem for p in archived.glob("*.json")}
    uid = pwd.getpwnam(pi.watcher_user).pw_uid
    assert all(p.stat().st_uid == uid for p in archived.iterdir())  # still the watcher's: retention can delete them
    for date_dir in {p.parent for p in library.glob(f"clips/*/{CAMERA}/*/*.mp4")}:
        verify_recorded(date_dir)
    assert len(list(library.glob(f"clips/*/{CAMERA}/*/*.mp4"))) == len(clip_ids)
    cat = Catalog(library / "catalog.sqlite3")  # fleet health: status.json read through the chroot, read-only
    try:
        _, doc, error = cat.health()["pi"]
    finally:
        cat.close()
    assert error is None and doc is not None, error
    assert json.loads(doc) == json.loads((pi.data / "status.json").read_text())


def test_shell_commands_and_ptys_do_not_run(pi: Pi) -> None:
    marker = pi.base / "shell-ran"
    r = subprocess.run([*pi.ssh_args(), f"echo SHELL-RAN; touch {marker}"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert "SHELL-RAN" not in r.stdout and not marker.exists()
    r = subprocess.run([*pi.ssh_args(), "-tt", "id"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=60)
    assert "uid=" not in r.stdout
    assert "PTY allocation request failed" in r.stderr


def test_port_forwarding_is_refused(pi: Pi) -> None:
    with socket.socket() as target:  # a listener the forward would reach if it were allowed
        target.bind(("127.0.0.1", 0))
        target.listen(1)
        target.setblocking(False)
        client = pi.client()
        try:
            transport = client.get_transport()
            assert transport is not None
            with pytest.raises(paramiko.ChannelException):
                transport.open_channel("direct-tcpip", target.getsockname(), ("127.0.0.1", 50000), timeout=10)
            with pytest.raises(paramiko.SSHException):
                transport.request_port_forward("127.0.0.1", 0)
        finally:
            client.close()
        with pytest.raises(BlockingIOError):
            target.accept()  # nobody ever connected
    r = subprocess.run([*pi.ssh_args()[:-1], "-N", "-o", "ExitOnForwardFailure=yes", "-L", "127.0.0.1:0:127.0.0.1:22",
                        pi.ssh_args()[-1]], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0  # ssh -N -L gives up: the server refuses the forwarding


def test_nothing_outside_the_chroot_and_no_writes(pi: Pi, clip_ids: set[str]) -> None:
    client = pi.client()
    try:
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(10)
        assert sftp.listdir("/") == ["data"]
        assert sftp.normalize("../../..") == "/"
        for outside in ("/etc/passwd", "/../../etc/passwd", f"/../..{pi.ssh_dir}/authorized_keys/{pi.sftp_user}"):
            with pytest.raises(FileNotFoundError):
                sftp.open(outside, "rb")
        with pytest.raises(PermissionError):
            sftp.listdir("/data/temp_clips")
        with pytest.raises(PermissionError):
            sftp.mkdir("/escape")  # the chroot itself is root's
        # "write" is not among the requests internal-sftp serves it
        with pytest.raises(OSError), sftp.open("/data/recorded_clips/planted.mp4", "wb") as f:
            f.write(b"x" * 100)
            f.flush()
        planted = pi.data / "recorded_clips" / "planted.mp4"
        assert not planted.exists() or planted.stat().st_size == 0
        planted.unlink(missing_ok=True)
        with pytest.raises(OSError):
            sftp.symlink("/data/status.json", "/data/recorded_clips/link")
        with pytest.raises(OSError):
            sftp.chmod("/data/recorded_clips", 0o777)
        with pytest.raises(PermissionError):
            sftp.remove("/data/status.json")  # data/ is not group-writable
    finally:
        client.close()


def test_the_account_cannot_make_directories(pi: Pi) -> None:
    client = pi.client()
    try:
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(10)
        for path in ("/data/recorded_clips/sub", "/data/transferred/sub", (f"/data/recorded_clips/{CAMERA}_"
                     "20261122T000000Z_0001.mp4"), "/data/sub"):
            with pytest.raises(OSError):  # not among the requests internal-sftp serves it
                sftp.mkdir(path)
    finally:
        client.close()
    assert not [p for p in pi.data.rglob("*") if p.is_dir() and p.name not in
                ("temp_clips", "recorded_clips", "transferred")]


def _recording(status: Path, *, not_in: set[str]) -> str:
    """The id of the clip being recorded (status.json, which the account can read too), once a new one."""
    text = wait_for_file(status, lambda t: json.loads(t).get("current_clip") not in (None, *not_in), timeout=90)
    return str(json.loads(text)["current_clip"])


def _check_published(rec: Path, clip_id: str, uid: int) -> None:
    from shared.manifest import parse_manifest
    from tests.clips import decode_frame_count

    m = parse_manifest((rec / f"{clip_id}.json").read_bytes(), expected_id=clip_id)
    data = (rec / f"{clip_id}.mp4").read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (m.size, m.sha256)
    assert decode_frame_count(rec / f"{clip_id}.mp4") == m.frames > 0
    for f in (rec / f"{clip_id}.json", rec / f"{clip_id}.mp4"):
        assert (f.stat().st_uid, stat.S_IMODE(f.stat().st_mode)) == (uid, 0o640)


def test_nothing_the_account_creates_stops_a_publish(pi: Pi, clip_ids: set[str], tmp_path: Path) -> None:
    """While the real watcher (as the watcher user) records, the inspector's account tries what it can
    on the clip's names: mkdir (refused), an empty file, a finished clip renamed onto it, empty files
    on the ids the watcher would pick next. The clip is published under a fresh id. Then the same on
    the next clip, the watcher is SIGKILLed, and the cleanup command's salvage publishes it likewise."""
    config = pi.base / "realtime.toml"  # readable by the watcher user
    config.write_text('[watcher]\nstatus_interval_s = 0.2\n'
                      '[source]\nrealtime = true\nsynthetic_period_s = 6.0\nsynthetic_walk_s = 3.0\n'
                      '[trigger]\npre_roll_s = 0.5\npost_roll_s = 1.0\n[encoder]\ngop_s = 0.5\n')
    config.chmod(0o644)
    data, rec, status = pi.data, pi.data / "recorded_clips", pi.data / "status.json"
    log = tmp_path / "watcher.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([*pi.as_watcher(), sys.executable, "-c", RUN_WATCHER, "--config", str(config),
                                 "--data-dir", str(data), "--duration", "100000"], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, env=dict(os.environ, HOME="/nonexistent"))
    LIVE.append(proc)
    client = pi.client()
    try:
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(10)
        r = "/data/recorded_clips"
        before = {p.stem for p in rec.glob("*.json")}
        done = _recording(status, not_in=set())  # a first clip, finished before the one we go after
        wait_for_file(rec / f"{done}.json", lambda t: bool(t), timeout=60)
        target = _recording(status, not_in={done})
        with pytest.raises(OSError):
            sftp.mkdir(f"{r}/{target}.mp4")
        sftp.open(f"{r}/{target}.json", "w").close()  # open-with-create: an empty file on the manifest's name
        sftp.posix_rename(f"{r}/{done}.mp4", f"{r}/{target}.mp4")  # a finished clip onto the clip's name
        started, seq = parse_clip_id(target).started, parse_clip_id(target).seq
        ahead = [make_clip_id(CAMERA, started, seq + k) for k in (1, 2, 3)]
        for clip_id in ahead:
            sftp.open(f"{r}/{clip_id}.mp4", "w").close()
        text = wait_for_file(log, lambda t: f"published {target} as " in t, timeout=60)
        fresh1 = re.search(rf"published {target} as (\S+)", text)[1]  # type: ignore[index]
        assert "is taken" in text and fresh1 not in (target, *ahead)

        second = _recording(status, not_in={done, target})
        sftp.open(f"{r}/{second}.mp4", "w").close()
        part = data / "temp_clips" / f"{second}.mp4.part"
        def grown() -> bool:  # a few fragments written, by a watcher still running
            assert proc.poll() is None, "the watcher exited"
            return part.exists() and part.stat().st_size > 100_000

        wait_until(grown, 30, "the clip did not grow")
        proc.kill()
        proc.wait(timeout=30)
    finally:
        client.close()

    cleanup = subprocess.run([*pi.as_watcher(), sys.executable, "-c", RUN_CLEANUP, "--data-dir", str(data)],
                             cwd=ROOT, capture_output=True, text=True, timeout=300,
                             env=dict(os.environ, HOME="/nonexistent"))
    assert cleanup.returncode == 0, cleanup.stderr[-3000:]
    m = re.search(rf"salvaged (\S+) \(from {second}, whose name was taken\)", cleanup.stderr)
    assert m, cleanup.stderr[-3000:]
    fresh2 = m[1]

    uid = pwd.getpwnam(pi.watcher_user).pw_uid
    for clip_id in (fresh1, fresh2):
        _check_published(rec, clip_id, uid)
    assert not list((data / "temp_clips").iterdir())
    # what the account made is still there, as it made it; nothing of it became a clip
    sftp_uid = pwd.getpwnam(pi.sftp_user).pw_uid
    for name in (f"{target}.json", f"{second}.mp4", *(f"{c}.mp4" for c in ahead)):
        assert (rec / name).stat().st_size == 0 and (rec / name).stat().st_uid == sftp_uid, name
    done_m = json.loads((rec / f"{done}.json").read_bytes())
    assert hashlib.sha256((rec / f"{target}.mp4").read_bytes()).hexdigest() == done_m["sha256"]
    junk = {target, second, *ahead}
    finished = {p.stem for p in rec.glob("*.json")} - before - junk - {done}
    assert {fresh1, fresh2} <= finished
    for clip_id in finished:
        _check_published(rec, clip_id, uid)
