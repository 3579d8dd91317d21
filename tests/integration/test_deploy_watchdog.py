"""The pipeline speaks sd_notify: READY=1 at the first frame, WATCHDOG=1 only while frames flow, STOPPING=1."""

from __future__ import annotations

import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from watcher.config import GeneralSettings, WatcherConfig
from watcher.frames import Frame
from watcher.pipeline import run_watcher
from watcher.sources.base import SourceInfo
from watcher.sources.synthetic import SyntheticSource


class GatedSource:
    """A synthetic scene that yields one frame per gate.release()."""

    def __init__(self) -> None:
        self.inner = SyntheticSource(seed=3, duration_s=60.0)
        self.gate = threading.Semaphore(0)
        self.closed = threading.Event()

    def open(self) -> SourceInfo:
        return self.inner.open()

    def frames(self) -> Iterator[Frame]:
        for frame in self.inner.frames():
            self.gate.acquire()
            if self.closed.is_set():
                return
            yield frame

    def close(self) -> None:
        self.closed.set()
        self.gate.release()
        self.inner.close()


def test_pipeline_notifies(tmp_path: Path, monkeypatch) -> None:
    sock_dir = tempfile.mkdtemp(prefix="sdn-")
    address = f"{sock_dir}/notify"
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(address)
    systemd.settimeout(60)
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    monkeypatch.setenv("WATCHDOG_USEC", "2")  # 1 us interval: every processed frame pings once
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    cfg = WatcherConfig(watcher=GeneralSettings(data_dir=str(tmp_path / "data")))
    source, stop = GatedSource(), threading.Event()
    runner = threading.Thread(target=run_watcher, args=(cfg,), kwargs={"source": source, "stop": stop})
    runner.start()
    try:
        source.gate.release()
        assert systemd.recv(4096).decode().startswith("READY=1\nSTATUS=synthetic: ")
        assert systemd.recv(4096) == b"WATCHDOG=1"
        for _ in range(20):
            source.gate.release()
            assert systemd.recv(4096) == b"WATCHDOG=1"
        # the source stalls; the loop keeps spinning (0.5 s queue timeout) and must not ping
        systemd.settimeout(1.5)
        try:
            unexpected = systemd.recv(4096)
        except TimeoutError:
            unexpected = None
        assert unexpected is None, unexpected
        systemd.settimeout(60)
        source.gate.release()
        assert systemd.recv(4096) == b"WATCHDOG=1"
        stop.set()
        assert systemd.recv(4096).decode().startswith("STOPPING=1")
    finally:
        stop.set()
        source.close()
        runner.join(timeout=60)
        systemd.close()
        Path(address).unlink(missing_ok=True)
        Path(sock_dir).rmdir()
    assert not runner.is_alive()
