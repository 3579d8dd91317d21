"""Webhooks: an HTTP POST of a JSON body per event, for what is not MQTT (ntfy, Gotify, a chat hook).

    [[webhook]]
    url = "https://ntfy.example/garden"      # http or https
    secret_file = "/etc/motion-watcher/hook"  # optional (mode 600): signs each body
    events = ["clip_published"]               # optional: which event types go to this hook (default: all)
    timeout_s = 10                            # each attempt's deadline (connect, send, response)
    attempts = 5                              # then the event is given up and counted as failed
    backoff_max_s = 60                        # retries after 1 s, 2 s, 4 s ... at most this

Each POST carries ``Content-Type: application/json``, ``X-Motion-Watcher-Event`` (the event type),
``X-Motion-Watcher-Delivery`` (one id per event, the same on every retry: a receiver can drop
duplicates) and, with a secret, ``X-Motion-Watcher-Signature: sha256=<hex HMAC-SHA256 of the body>``
(GitHub's scheme: the receiver computes the HMAC of the raw body with the shared secret and compares
in constant time). A 2xx answer is delivered; a connection error, a timeout, 408, 429 or 5xx is
retried with a doubling delay; any other answer (a 4xx: the hook will not take it) is given up at once.

Each hook has its own bounded queue and thread (:class:`WebhookSender`): a slow or dead target holds
up only its own events, never the caller; when its queue is full the oldest event is dropped and
counted. Nothing here logs the secret or the URL's query string (a token often lives there).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from shared.event_queue import EventQueue
from shared.secrets import read_secret
from shared.validation import Items, Strict

logger = logging.getLogger(__name__)

EVENT_HEADER = "X-Motion-Watcher-Event"
DELIVERY_HEADER = "X-Motion-Watcher-Delivery"
SIGNATURE_HEADER = "X-Motion-Watcher-Signature"
RETRY_STATUSES = frozenset({408, 425, 429}) | frozenset(range(500, 600))


class WebhookSettings(Strict):
    url: str = Field(min_length=1, max_length=2048)
    secret_file: str | None = None
    events: Items[str] | None = Field(default=None, description="event types sent here (default: all)")
    timeout_s: float = Field(default=10.0, ge=0.1, le=300.0)
    attempts: int = Field(default=5, ge=1, le=100)
    backoff_s: float = Field(default=1.0, ge=0.01, le=600.0, description="the first retry's delay")
    backoff_max_s: float = Field(default=60.0, ge=0.01, le=3600.0)
    queue_size: int = Field(default=100, ge=1, le=100_000)

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return url


def resolve_webhooks(hooks: tuple[WebhookSettings, ...], config_path: str) -> tuple[WebhookSettings, ...]:
    """The hooks with their secret files made relative to the config file and checked now."""
    out = []
    for i, hook in enumerate(hooks):
        if hook.secret_file is None:
            out.append(hook)
            continue
        path = Path(hook.secret_file)
        if not path.is_absolute() and config_path not in ("<defaults>", "command line"):
            path = Path(config_path).parent / path
        read_secret(path, config=config_path, key=f"webhook[{i}].secret_file")
        out.append(hook.model_copy(update={"secret_file": str(path)}))
    return tuple(out)


def safe_url(url: str) -> str:
    """The URL without its query, fragment or user info: what may be logged."""
    p = urllib.parse.urlsplit(url)
    host = p.hostname or ""
    return urllib.parse.urlunsplit((p.scheme, host + (f":{p.port}" if p.port else ""), p.path, "", ""))


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class _Event:
    kind: str
    body: bytes
    delivery: str


class WebhookSender:
    """One hook's queue and thread; see the module docstring."""

    def __init__(self, settings: WebhookSettings, *, secret: str | None, index: int) -> None:
        self.settings = settings
        self.where = safe_url(settings.url)
        self._secret = secret.encode() if secret is not None else None
        self.queue: EventQueue[_Event] = EventQueue(settings.queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"webhook-{index}", daemon=True)
        self.delivered = 0
        self.failed = 0  # given up after the attempts, or refused by the target
        self.last_error: str | None = None

    @classmethod
    def create(cls, settings: WebhookSettings, *, config_path: str, index: int) -> WebhookSender:
        secret = None
        if settings.secret_file is not None:
            secret = read_secret(Path(settings.secret_file), config=config_path, key=f"webhook[{index}].secret_file")
        return cls(settings, secret=secret, index=index)

    def wants(self, kind: str) -> bool:
        return self.settings.events is None or kind in self.settings.events

    def start(self) -> None:
        self._thread.start()

    def post(self, kind: str, body: dict[str, Any]) -> None:
        """Queue one event (never blocks; a full queue drops its oldest, counted)."""
        if self.wants(kind):
            raw = json.dumps({"event": kind, **body}, sort_keys=True, separators=(",", ":")).encode()
            self.queue.put(_Event(kind, raw, uuid.uuid4().hex))

    def stop(self, timeout_s: float) -> None:
        """Deliver what is queued within ``timeout_s`` (no retry waits beyond it), then stop."""
        self.queue.close()
        self._thread.join(timeout_s)
        self._stop.set()  # cuts a retry's wait short; an attempt in progress ends by its own timeout
        self._thread.join(self.settings.timeout_s + 1.0)
        self.failed += self.queue.drop_all()

    @property
    def dropped(self) -> int:
        return self.queue.dropped

    def _loop(self) -> None:
        while (event := self.queue.get()) is not None:
            self._deliver(event)

    def _deliver(self, event: _Event) -> None:
        s = self.settings
        delay = s.backoff_s
        for attempt in range(1, s.attempts + 1):
            verdict = self._attempt(event)
            if verdict is None:
                self.delivered += 1
                self.last_error = None
                return
            problem, retry = verdict
            self.last_error = problem
            if not retry or attempt == s.attempts:
                self.failed += 1
                logger.warning("webhook %s: %s event given up after %d attempt(s): %s", self.where, event.kind,
                               attempt, problem)
                return
            logger.info("webhook %s: %s (attempt %d of %d); retrying in %.1f s", self.where, problem, attempt,
                        s.attempts, delay)
            if self._stop.wait(delay):
                self.failed += 1
                return
            delay = min(delay * 2, s.backoff_max_s)

    def _attempt(self, event: _Event) -> tuple[str, bool] | None:
        """None if delivered, else (what went wrong, whether to retry)."""
        headers = {"Content-Type": "application/json", "User-Agent": "motion-watcher",
                   EVENT_HEADER: event.kind, DELIVERY_HEADER: event.delivery}
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = signature(self._secret, event.body)
        request = urllib.request.Request(self.settings.url, data=event.body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as response:
                response.read(65536)
                return None
        except urllib.error.HTTPError as e:
            return f"HTTP {e.code} {e.reason}", e.code in RETRY_STATUSES
        except (urllib.error.URLError, OSError, ValueError) as e:  # refused, unreachable, timed out, TLS
            reason = getattr(e, "reason", e)
            return f"no answer: {reason}", True
