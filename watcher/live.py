"""Live view: what the camera sees, with the mask and the current motion boxes drawn on it, over HTTP.

    [live]
    enabled = true                      # off by default
    host = "127.0.0.1"                  # bound to localhost unless configured (deploy/README.md: reach it
    port = 8081                         #   through an SSH tunnel, or on the LAN with the token)
    token_file = "/etc/motion-watcher/live-token"   # required: mode 600, its first line is the token
    max_viewers = 3
    fps = 5                             # the stream's rate at most
    width = 640                         # frames are scaled down to this width

    GET /health          "ok" (no token): for a monitor
    GET /stream.mjpg     multipart/x-mixed-replace JPEG stream (MJPEG)   token required
    GET /snapshot.jpg    one JPEG                                         token required
    GET /status.json     the watcher's status.json                        token required

The token goes in ``Authorization: Bearer <token>`` or ``?token=<token>`` (for an <img> in a browser);
without it: 401. Compared in constant time; never logged.

Never at recording's cost: the pipeline thread only hands over a reference to the newest frame and its
boxes (:meth:`LiveView.offer`, no copy, no encoding); one render thread draws and encodes at most
``fps`` frames a second, and only while someone watches; each viewer has its own thread and socket
timeout, waits for the next rendered frame and skips any it was too slow for (newest only). A viewer that
stalls blocks only its own thread until the timeout; viewers beyond ``max_viewers`` get 503.

Threads: the pipeline thread calls ``offer``; the render thread owns drawing and encoding; the HTTP
server's threads serve requests. One condition guards the newest frame, the newest JPEG and their
sequence numbers.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import cv2
import numpy as np
from pydantic import Field, model_validator

from shared.secrets import read_secret
from shared.validation import Problem, Strict

logger = logging.getLogger(__name__)

BOUNDARY = "motionwatcherframe"
VIEWER_TIMEOUT_S = 10.0  # a viewer whose socket takes no bytes for this long is dropped
MASK_COLOUR = (255, 0, 255)  # BGR magenta: the ignored areas, outlined and shaded
BOX_COLOUR = (0, 255, 0)  # BGR green: the motion boxes of the current frame


class LiveSettings(Strict):
    enabled: bool = False
    host: str = Field(default="127.0.0.1", min_length=1, max_length=253)
    port: int = Field(default=8081, ge=0, le=65535)  # 0: any free port (tests)
    token_file: str | None = Field(default=None, description="file holding the token (mode 600)")
    max_viewers: int = Field(default=3, ge=1, le=32)
    fps: float = Field(default=5.0, gt=0.0, le=30.0)
    width: int = Field(default=640, ge=64, le=3840)
    jpeg_quality: int = Field(default=75, ge=10, le=100)

    @model_validator(mode="after")
    def _token(self) -> Self:
        if self.enabled and self.token_file is None:
            raise Problem("token_file", "is required with enabled = true (a file holding the token, mode 600)")
        return self


def resolve_live(live: LiveSettings, config_path: str) -> LiveSettings:
    """``live`` with its token file made relative to the config file's folder and checked now."""
    if not live.enabled or live.token_file is None:
        return live
    path = Path(live.token_file)
    if not path.is_absolute() and config_path not in ("<defaults>", "command line"):
        path = Path(config_path).parent / path
    read_secret(path, config=config_path, key="live.token_file")
    return live.model_copy(update={"token_file": str(path)})


def draw(image: np.ndarray, width: int, mask: tuple[tuple[tuple[float, float], ...], ...],
         boxes: tuple[tuple[float, float, float, float], ...]) -> np.ndarray:
    """A copy of ``image`` (BGR or grayscale) scaled to ``width``, the mask's polygons shaded and outlined,
    the motion boxes drawn (both in 0..1 coordinates)."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    h, w = image.shape[:2]
    out = cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA) \
        if w != width else image.copy()
    oh, ow = out.shape[:2]
    if mask:
        polys = [np.array([[round(x * (ow - 1)), round(y * (oh - 1))] for x, y in poly], np.int32) for poly in mask]
        shade = out.copy()
        cv2.fillPoly(shade, polys, MASK_COLOUR)
        out = cv2.addWeighted(shade, 0.35, out, 0.65, 0)
        cv2.polylines(out, polys, True, MASK_COLOUR, 2)
    for x, y, bw, bh in boxes:
        cv2.rectangle(out, (round(x * ow), round(y * oh)), (round((x + bw) * ow), round((y + bh) * oh)), BOX_COLOUR, 2)
    return out


class LiveView:
    def __init__(self, settings: LiveSettings, *, token: str, mask: tuple[tuple[tuple[float, float], ...], ...],
                 status_file: Path) -> None:
        self.settings = settings
        self.mask = mask
        self.status_file = status_file
        self._token = token.encode()
        self._cond = threading.Condition()
        self._frame: tuple[np.ndarray, tuple[tuple[float, float, float, float], ...]] | None = None
        self._frame_seq = 0
        self._jpeg: bytes | None = None
        self._jpeg_seq = 0
        self._rendered_seq = 0  # the frame the render thread last drew
        self._viewers = 0
        self._stopping = False
        self.frames_rendered = 0
        self.viewers_refused = 0
        self._server = ThreadingHTTPServer((settings.host, settings.port), self._handler())
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._threads = [threading.Thread(target=self._server.serve_forever, name="live-http", daemon=True),
                         threading.Thread(target=self._render_loop, name="live-render", daemon=True)]

    @classmethod
    def create(cls, settings: LiveSettings, *, config_path: str, mask: tuple[tuple[tuple[float, float], ...], ...],
               status_file: Path) -> LiveView:
        assert settings.token_file is not None, "LiveSettings requires it when enabled"
        token = read_secret(Path(settings.token_file), config=config_path, key="live.token_file")
        return cls(settings, token=token, mask=mask, status_file=status_file)

    def start(self) -> None:
        for t in self._threads:
            t.start()
        logger.info("live view on http://%s:%d/ (token required)", self.settings.host, self.port)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        for t in self._threads:
            t.join(timeout=VIEWER_TIMEOUT_S)

    # --- the pipeline thread ---------------------------------------------------------------------

    def offer(self, image: np.ndarray, boxes: tuple[tuple[float, float, float, float], ...]) -> None:
        """The newest frame: a reference is kept (the pipeline does not reuse frame arrays), nothing else."""
        with self._cond:
            self._frame = (image, boxes)
            self._frame_seq += 1
            if self._viewers:
                self._cond.notify_all()

    # --- the render thread -----------------------------------------------------------------------

    def _render_loop(self) -> None:
        period = 1.0 / self.settings.fps
        while True:
            with self._cond:
                self._cond.wait_for(self._render_due)
                if self._stopping:
                    return
                frame, self._rendered_seq = self._frame, self._frame_seq
            started = time.monotonic()
            if frame is not None:
                jpeg = self._encode(frame)
                with self._cond:
                    self._jpeg, self._jpeg_seq = jpeg, self._jpeg_seq + 1
                    self.frames_rendered += 1
                    self._cond.notify_all()
            with self._cond:  # at most fps frames a second (a stop ends the wait)
                self._cond.wait_for(lambda: self._stopping, max(0.0, period - (time.monotonic() - started)))

    def _render_due(self) -> bool:  # with the condition held
        return self._stopping or bool(self._viewers and self._frame_seq != self._rendered_seq)

    def _encode(self, frame: tuple[np.ndarray, tuple[tuple[float, float, float, float], ...]]) -> bytes:
        image = draw(frame[0], self.settings.width, self.mask, frame[1])
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.settings.jpeg_quality])
        return bytes(buf) if ok else b""

    def snapshot(self) -> bytes | None:
        with self._cond:
            frame = self._frame
        return self._encode(frame) if frame is not None else None

    # --- the HTTP threads ------------------------------------------------------------------------

    def _authorized(self, headers: Any, path: str) -> bool:
        given = ""
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = auth[7:].strip()
        else:
            given = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("token", [""])[0]
        return hmac.compare_digest(given.encode(), self._token)

    def _join_viewers(self) -> bool:
        with self._cond:
            if self._viewers >= self.settings.max_viewers:
                self.viewers_refused += 1
                return False
            self._viewers += 1
            self._cond.notify_all()
            return True

    def _leave_viewers(self) -> None:
        with self._cond:
            self._viewers -= 1

    def _next_jpeg(self, seen: int) -> tuple[bytes | None, int]:
        """The newest rendered JPEG after ``seen`` (any skipped ones are simply not sent)."""
        with self._cond:
            self._cond.wait_for(lambda: self._stopping or self._jpeg_seq != seen, timeout=VIEWER_TIMEOUT_S)
            if self._stopping:
                return None, seen
            return self._jpeg, self._jpeg_seq

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        live = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "motion-watcher-live"
            timeout = VIEWER_TIMEOUT_S  # every socket operation of this connection

            def do_GET(self) -> None:
                route = urllib.parse.urlsplit(self.path).path
                if route == "/health":
                    return self._send(200, "text/plain", b"ok\n")
                if route not in ("/stream.mjpg", "/snapshot.jpg", "/status.json", "/"):
                    return self._send(404, "text/plain", b"not found\n")
                if not live._authorized(self.headers, self.path):
                    return self._send(401, "text/plain", b"a token is required\n",
                                      {"WWW-Authenticate": 'Bearer realm="motion-watcher"'})
                if route == "/snapshot.jpg":
                    jpeg = live.snapshot()
                    return self._send(200, "image/jpeg", jpeg) if jpeg else self._send(503, "text/plain",
                                                                                      b"no frame yet\n")
                if route == "/status.json":
                    try:
                        return self._send(200, "application/json", live.status_file.read_bytes())
                    except OSError:
                        return self._send(503, "text/plain", b"no status yet\n")
                if route == "/":
                    page = (b'<!doctype html><meta name="viewport" content="width=device-width">'
                            b'<title>live</title><img id="live" style="max-width:100%" src="stream.mjpg?'
                            + urllib.parse.urlsplit(self.path).query.encode() + b'">')
                    return self._send(200, "text/html; charset=utf-8", page)
                return self._stream()

            def _stream(self) -> None:
                if not live._join_viewers():
                    return self._send(503, "text/plain", b"too many viewers\n")
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                    self.send_header("Cache-Control", "no-store")
                    self.end_headers()
                    seen = 0
                    while True:
                        jpeg, seen = live._next_jpeg(seen)
                        if jpeg is None:
                            if live._stopping:
                                return
                            continue
                        self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         f"{len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                        self.wfile.flush()
                except OSError:  # the viewer went away or stalled past the timeout
                    return
                finally:
                    live._leave_viewers()

            def _send(self, code: int, ctype: str, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                # never the request line itself: its query may hold the token
                logger.debug("live: %s %s from %s", self.command, urllib.parse.urlsplit(self.path).path,
                             self.client_address[0])

        return Handler
