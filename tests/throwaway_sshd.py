"""A throwaway OpenSSH sshd on a loopback port with generated keys (tests and the demo).

It serves SFTP (internal-sftp) to the current user with a freshly generated ed25519 key, and
writes a pinned known_hosts for its freshly generated host key. Readiness is read from sshd's
own log line ("Server listening on ..."), never guessed with a sleep.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
from pathlib import Path

SSHD = "/usr/sbin/sshd"


class SshdUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    """All live descendants of ``pid`` (sshd's session processes call setsid, so no process group)."""
    parents: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "throwaway", "-f", str(path)], check=True,
                   timeout=30)


class ThrowawaySshd:
    def __init__(self, workdir: Path, *, extra_config: str = "") -> None:
        if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
            raise SshdUnavailable(f"{SSHD} or ssh-keygen not found (apt install openssh-server openssh-client)")
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host_key = self.dir / "host_ed25519"
        self.user_key = self.dir / "user_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.authorized_keys = self.dir / "authorized_keys"
        self.config = self.dir / "sshd_config"
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.port = 0
        self.extra_config = extra_config
        self.proc: subprocess.Popen[str] | None = None
        for key in (self.host_key, self.user_key):
            if not key.exists():
                _keygen(key)
        self.authorized_keys.write_text(self.user_key.with_suffix(".pub").read_text())
        self.authorized_keys.chmod(0o600)

    def _write_config(self) -> None:
        self.config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {self.authorized_keys}\nPidFile {self.dir / 'sshd.pid'}\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\nLogLevel INFO\n"
            "MaxStartups 50\nClientAliveInterval 0\n" + self.extra_config
        )
        host_pub = self.host_key.with_suffix(".pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")

    def start(self, timeout: float = 20.0) -> None:
        """Start (or restart on the same port) and return once sshd says it is listening."""
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        for attempt in range(5):
            if not self.port or attempt:
                self.port = self.port if (self.port and attempt == 0) else _free_port()
            self._write_config()
            args = [SSHD, "-D", "-e", "-f", str(self.config)]
            if os.geteuid() != 0:
                args += ["-h", str(self.host_key)]
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                         start_new_session=True)
            self.log: list[str] = []
            listening = threading.Event()

            # Each attempt's reader gets that attempt's process, event and log as arguments: a reader
            # of a failed attempt still finishing must not mark the next attempt ready or write its log.
            def drain(proc: subprocess.Popen[str], listening: threading.Event, log: list[str]) -> None:
                assert proc.stderr is not None
                for line in proc.stderr:  # keep reading, or sshd blocks on a full pipe
                    log.append(line.strip())
                    if "Server listening on" in line:
                        listening.set()
                listening.set()

            threading.Thread(target=drain, args=(self.proc, listening, self.log), name="sshd-log", daemon=True).start()
            if listening.wait(timeout) and self.proc.poll() is None and any(
                    "Server listening on" in x for x in self.log):
                return
            self.proc.wait(timeout=10)
            log = self.log
            if not any("Address already in use" in x for x in log):
                raise SshdUnavailable("sshd did not start: " + " | ".join(log[-5:]))
        raise SshdUnavailable("sshd could not bind a free port")

    def restart_same_port(self) -> None:
        port = self.port
        self.stop()
        self.port = port
        self.start()

    def kill(self) -> None:
        """SIGKILL sshd and every session process it started (a crash, not a shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            for pid in [self.proc.pid, *_descendants(self.proc.pid)]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop sshd and its sessions."""
        self.kill()
        self.proc = None

    def watcher_toml(self, name: str, remote_dir: Path, *, after_transfer: str = "archive",
                     io_timeout_s: float = 10.0) -> str:
        if after_transfer == "archive":  # as deploy does for a Pi: the SFTP account cannot create it
            (Path(remote_dir).parent / "transferred").mkdir(parents=True, exist_ok=True)
        return (
            f'[[watcher]]\nname = "{name}"\nhost = "127.0.0.1"\nport = {self.port}\nuser = "{self.user}"\n'
            f'identity_file = "{self.user_key}"\nknown_hosts = "{self.known_hosts}"\nremote_dir = "{remote_dir}"\n'
            f'after_transfer = "{after_transfer}"\nconnect_timeout_s = 5.0\nio_timeout_s = {io_timeout_s}\n'
        )
