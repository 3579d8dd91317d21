"""Webhooks against a real local HTTP server: the body is signed (HMAC-SHA256), a 500 is retried with the
same delivery id, a 4xx is given up at once, a server that never answers times out, and a watcher run
posts its motion and clip events with the manifests' sha256."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, WebhookSender, WebhookSettings
from tests.clips import verify_recorded
from tests.hook_server import HookServer, Received
from watcher.config import load_config
from watcher.pipeline import run_watcher
from watcher.sources.synthetic import SyntheticSource

SECRET = "hook-secret-1"


@pytest.fixture
def server() -> Iterator[HookServer]:
    s = HookServer()
    yield s
    s.close()


def _secret_file(tmp_path: Path) -> Path:
    p = tmp_path / "hook-secret"
    p.write_text(SECRET + "\n")
    p.chmod(0o600)
    return p


def _sender(url: str, **kw: object) -> WebhookSender:
    return WebhookSender(WebhookSettings.model_validate({"url": url, "backoff_s": 0.05, **kw}), secret=SECRET,
                         index=0)


def _verified(r: Received) -> dict[str, object]:
    want = "sha256=" + hmac.new(SECRET.encode(), r.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(r.headers[SIGNATURE_HEADER], want), "the signature is the HMAC of the raw body"
    assert r.headers["Content-Type"] == "application/json"
    return dict(json.loads(r.body))


def test_the_body_is_signed_and_a_500_is_retried_with_the_same_delivery_id(server: HookServer) -> None:
    server.statuses = [500, 503]
    hook = _sender(server.url)
    hook.start()
    hook.post("clip_published", {"id": "garden_20261202T060000Z_0001", "sha256": "ab" * 32})
    tries = [server.take() for _ in range(3)]
    hook.stop(10)
    assert [_verified(r)["id"] for r in tries] == ["garden_20261202T060000Z_0001"] * 3
    assert {r.headers[DELIVERY_HEADER] for r in tries} == {tries[0].headers[DELIVERY_HEADER]}
    assert tries[0].headers[EVENT_HEADER] == "clip_published" and tries[0].path == "/hook?token=abc"
    assert (hook.delivered, hook.failed) == (1, 0)


def test_a_4xx_is_given_up_at_once_and_a_tampered_body_fails_the_check(server: HookServer) -> None:
    server.statuses = [404]
    hook = _sender(server.url, attempts=5)
    hook.start()
    hook.post("motion_started", {"camera": "garden"})
    r = server.take()
    hook.stop(10)
    assert (hook.delivered, hook.failed) == (0, 1) and server.received.empty(), "no retry after a 404"
    assert "HTTP 404" in (hook.last_error or "")
    forged = Received(r.path, r.headers, r.body.replace(b"garden", b"porch"))
    with pytest.raises(AssertionError, match="signature"):
        _verified(forged)


def test_a_server_that_never_answers_times_out_and_the_caller_never_waits() -> None:
    silent = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # takes connections and never answers
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(silent.accept()[0])
            except TimeoutError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        hook = _sender(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout_s=0.5, attempts=2, queue_size=2)
        hook.start()
        for i in range(5):  # returns at once: the queue keeps the newest two, drops (and counts) the rest
            hook.post("motion_started", {"n": i})
        hook.stop(30)
        assert hook.delivered == 0
        assert hook.failed + hook.dropped == 5 and hook.dropped >= 2
        assert "timed out" in (hook.last_error or ""), hook.last_error
    finally:
        stop.set()
        t.join(10)
        for s in accepted:
            s.close()
        silent.close()


def test_a_watcher_run_posts_motion_and_clips_with_their_sha256(tmp_path: Path, server: HookServer) -> None:
    secret = _secret_file(tmp_path)
    cfg_file = tmp_path / "watcher.toml"
    cfg_file.write_text(f'[watcher]\ncamera = "garden"\ndata_dir = "data"\n'
                        f'[[webhook]]\nurl = "{server.url}"\nsecret_file = "{secret.name}"\n'
                        f'[[webhook]]\nurl = "{server.url.replace("/hook", "/clips")}"\nevents = ["clip_published"]\n')
    cfg = load_config(str(cfg_file))
    result = run_watcher(cfg, source=SyntheticSource(seed=7, duration_s=30.0, first_event_s=3.0, event_period_s=12.0))
    manifests = {m.id: m for m in verify_recorded(tmp_path / "data" / "recorded_clips", decode=False)}
    assert manifests and len(result.clips) == len(manifests)
    got: list[Received] = []
    while not server.received.empty():
        got.append(server.received.get())
    signed = [r for r in got if r.path.startswith("/hook")]
    clips_only = [r for r in got if r.path.startswith("/clips")]
    kinds = [_verified(r)["event"] for r in signed]
    assert kinds.count("clip_published") == len(manifests)
    motion = [k for k in kinds if k != "clip_published"]
    assert motion and motion == ["motion_started", "motion_ended"] * (len(motion) // 2), kinds
    for r in signed + clips_only:
        body = json.loads(r.body)
        if body["event"] == "clip_published":
            assert body["sha256"] == manifests[body["id"]].sha256 and body["camera"] == "garden"
    assert SIGNATURE_HEADER not in clips_only[0].headers, "no secret, no signature"
    assert sorted(json.loads(r.body)["id"] for r in clips_only) == sorted(manifests)
    status = json.loads((tmp_path / "data" / "status.json").read_text())
    assert (status["webhooks_delivered"], status["webhooks_failed"]) == (len(got), 0)
