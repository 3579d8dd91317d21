"""The live view through real HTTP and real headless Chromium: the MJPEG stream updates, the mask is drawn
on it, no token is a 401, and a viewer that stalls costs the recording nothing."""

from __future__ import annotations

import itertools
import json
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.chromium import chromium
from tests.footage import footage_path
from tests.proc import WatcherProcess, wait_for_file
from watcher.live import BOUNDARY

TOKEN = "live-token-9f3a"
MASK = "[[[0.0, 0.0], [0.3, 0.0], [0.3, 0.3], [0.0, 0.3]]]"  # the top-left corner


def _config(tmp_path: Path, extra: str = "") -> Path:
    token = tmp_path / "live-token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(f'[watcher]\ncamera = "yard"\ndata_dir = "data"\nstatus_interval_s = 0.5\n'
                   f'[detector]\nmask = {MASK}\n'
                   f'[live]\nenabled = true\nport = 0\ntoken_file = "{token.name}"\nfps = 10\n{extra}')
    return cfg


@pytest.fixture
def live_watcher(tmp_path: Path) -> Iterator[tuple[WatcherProcess, str]]:
    w = WatcherProcess("--config", str(_config(tmp_path)), "--source", "synthetic", "--realtime", "--duration", "120")
    line = w.wait_for("live view on http://", timeout=60)
    base = re.search(r"(http://\S+?)/ ", line)[1]  # type: ignore[index]
    try:
        yield w, base
    finally:
        w.proc.terminate()
        w.finish(timeout=60)


def _frames(url: str, n: int) -> list[np.ndarray]:
    """The first ``n`` JPEGs of the multipart stream, decoded by OpenCV."""
    out = []
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.headers["Content-Type"] == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
        while len(out) < n:
            assert r.readline().strip() == f"--{BOUNDARY}".encode()
            headers = {}
            while (line := r.readline().strip()):
                k, v = line.decode().split(": ", 1)
                headers[k] = v
            jpeg = r.read(int(headers["Content-Length"]))
            r.readline()
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None, "each part is a JPEG"
            out.append(image)
    return out


def _magenta_share(image: np.ndarray, region: tuple[slice, slice]) -> float:
    """Share of pixels in ``region`` that lean to the mask's colour (magenta: blue and red over green)."""
    b, g, r = (image[region][..., i].astype(int) for i in range(3))
    return float(np.mean((b - g > 40) & (r - g > 40)))


def test_stream_updates_with_the_mask_drawn_and_a_token_is_required(live_watcher: tuple[WatcherProcess, str],
                                                                   tmp_path: Path) -> None:
    _, base = live_watcher
    assert urllib.request.urlopen(f"{base}/health", timeout=10).read() == b"ok\n"  # no token needed
    for path in ("/stream.mjpg", "/snapshot.jpg", "/status.json", "/stream.mjpg?token=wrong"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{base}{path}", timeout=10)
        assert e.value.code == 401, path
    frames = _frames(f"{base}/stream.mjpg?token={TOKEN}", 3)
    h, w = frames[0].shape[:2]
    assert w == 640 and all(f.shape == frames[0].shape for f in frames)
    assert any(float(np.mean(cv2.absdiff(a, b))) > 0.5 for a, b in itertools.pairwise(frames)), \
        "the stream moves on"
    corner = (slice(0, int(h * 0.28)), slice(0, int(w * 0.28)))
    rest = (slice(int(h * 0.4), h), slice(int(w * 0.4), w))
    assert _magenta_share(frames[0], corner) > 0.5 and _magenta_share(frames[0], rest) < 0.05, "the mask, drawn"
    req = urllib.request.Request(f"{base}/status.json", headers={"Authorization": f"Bearer {TOKEN}"})
    assert json.loads(urllib.request.urlopen(req, timeout=10).read())["state"] in ("starting", "running")
    shots = []
    for i in range(2):  # the page as a person sees it: Chromium shows the stream, which changes
        shot = tmp_path / f"live-{i}.png"
        chromium(tmp_path, "--window-size=700,500", f"--screenshot={shot}", "--virtual-time-budget=3000",
                 f"{base}/?token={TOKEN}")
        image = cv2.imread(str(shot))
        assert image is not None
        shots.append(image)
        assert _magenta_share(image, (slice(10, 100), slice(10, 150))) > 0.3, "the mask in Chromium's rendering"
    assert float(np.mean(cv2.absdiff(shots[0], shots[1]))) > 0.2, "the image updates"


def test_a_stalled_viewer_costs_the_recording_nothing(tmp_path: Path) -> None:
    vtest = footage_path("vtest.avi")
    cfg = _config(tmp_path, "max_viewers = 2\n")
    # 30 s of real footage at its own pace, as a live camera delivers it: a slow pipeline would drop frames
    w = WatcherProcess("--config", str(cfg), "--source", f"file:{vtest}", "--realtime", "--duration", "30")
    base = re.search(r"(http://\S+?)/ ", w.wait_for("live view on http://", timeout=60))[1]  # type: ignore[index]
    host, port = base.removeprefix("http://").split(":")
    stalled = socket.create_connection((host, int(port)), timeout=10)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(f"GET /stream.mjpg?token={TOKEN} HTTP/1.1\r\nHost: x\r\n\r\n".encode())  # and never reads
    try:
        frames = _frames(f"{base}/stream.mjpg?token={TOKEN}", 5)  # a second viewer is served meanwhile
        assert len(frames) == 5
        with pytest.raises(urllib.error.HTTPError) as e:  # two viewers: the most
            urllib.request.urlopen(f"{base}/stream.mjpg?token={TOKEN}", timeout=10)
        assert e.value.code == 503
        assert w.finish(timeout=300) == 0, w.log[-20:]
    finally:
        stalled.close()
    status = json.loads(wait_for_file(tmp_path / "data" / "status.json", lambda t: '"stopped"' in t))
    assert status["frames_in"] == 300 and status["frames_dropped"] == 0, "no frame lost to the stalled viewer"
    assert status["clips_published"] > 0
