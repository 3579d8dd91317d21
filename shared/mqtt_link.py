"""One MQTT connection that publishes what it is given, never at the cost of the caller's time.

The only module that imports paho-mqtt. :meth:`MqttLink.publish` puts a message on a bounded
:class:`~shared.event_queue.EventQueue` and returns at once; a sender thread hands the messages to
paho, in order, only while connected, with at most ``INFLIGHT`` unacknowledged (QoS 1). While the
broker is down, slow or refusing, messages wait in the queue and the oldest are dropped and counted.

Connecting: ``connect_async`` + paho's own network thread, which connects (each attempt with a
``timeout_s`` deadline), and reconnects after a loss or a refusal with a delay doubling from 1 s to
``reconnect_max_s``. A broker unreachable at start is not an error: it is logged once and retried.
A refused login is one error line naming the reason and the keys to check (never the password).

The last will: the broker publishes ``offline`` (retained) on ``availability_topic`` when the
connection drops without a goodbye (the Pi lost power or the process was killed); on each connect the
link publishes its announcement (Home Assistant's discovery: retained config messages) and then
``online``. :meth:`stop` publishes ``offline`` itself, waits for it up to the deadline, and disconnects.

Threads: paho's network thread runs the callbacks (they set ``connected`` and log); the sender thread
is the only caller of ``client.publish`` for queued messages (the callbacks publish the announcement
on connect). ``stats()`` may be called from any thread.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from shared.event_queue import EventQueue
from shared.mqtt_message import MqttMessage
from shared.mqtt_settings import MqttSettings

logger = logging.getLogger(__name__)

INFLIGHT = 20  # messages handed to paho and not yet acknowledged by the broker
ONLINE, OFFLINE = b"online", b"offline"


@dataclass(frozen=True)
class LinkStats:
    connected: bool
    queued: int  # waiting in the queue now
    sent: int  # handed to the broker's connection
    dropped: int  # dropped because the queue was full (oldest first)
    last_error: str | None


class MqttLink:
    def __init__(self, settings: MqttSettings, *, client_id: str, availability_topic: str,
                 password: str | None = None, announce: Callable[[], list[MqttMessage]] = list,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.where = f"{settings.host}:{settings.port}"
        self.availability_topic = availability_topic
        self._announce = announce
        self._clock = clock
        self.queue: EventQueue[MqttMessage] = EventQueue(settings.queue_size)
        self.connected = threading.Event()
        self._stopping = threading.Event()
        self._sent = 0
        self._last_error: str | None = None
        self._said: str | None = None  # the last connection problem logged (one line per new problem)
        self._unacked: deque[mqtt.MQTTMessageInfo] = deque()
        self._fresh = False
        self._client = self._make_client(client_id, password)
        self._sender = threading.Thread(target=self._send_loop, name="mqtt-sender", daemon=True)

    def _make_client(self, client_id: str, password: str | None) -> mqtt.Client:
        s = self.settings
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if s.username is not None:
            c.username_pw_set(s.username, password)
        if s.tls:
            c.tls_set(ca_certs=s.ca_file, cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.will_set(self.availability_topic, OFFLINE, qos=1, retain=True)
        c.reconnect_delay_set(min_delay=1, max_delay=max(1, round(s.reconnect_max_s)))
        c.connect_timeout = s.timeout_s
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_connect_fail = self._on_connect_fail
        c.enable_logger(logging.getLogger(f"{__name__}.paho"))
        return c

    # --- life -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin connecting (in the background) and sending; returns at once."""
        self._client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        self._client.loop_start()
        self._sender.start()

    def publish(self, message: MqttMessage) -> None:
        """Queue ``message``; never blocks (a full queue drops its oldest message, counted)."""
        self.queue.put(message)

    def stop(self, timeout_s: float | None = None) -> None:
        """Send what is queued (up to the deadline: waiting for the first connection if it is still being
        made, not for a broker known to be away), say ``offline``, disconnect."""
        deadline = self._clock() + (self.settings.timeout_s if timeout_s is None else timeout_s)
        self.queue.close()
        if not self.connected.is_set() and self._last_error is None:  # still on its first attempt
            self.connected.wait(max(0.0, deadline - self._clock()))
        if not self.connected.is_set():
            self._stopping.set()  # the broker is away or refusing: what is queued is dropped (counted)
        self._sender.join(max(0.0, deadline - self._clock()))
        self._stopping.set()
        self._sender.join(max(0.0, deadline - self._clock()))
        self.queue.drop_all()  # what could not be sent in time counts as dropped
        if self.connected.is_set():
            info = self._client.publish(self.availability_topic, OFFLINE, qos=1, retain=True)
            self._wait_acked(info, deadline)
        self._client.disconnect()
        self._client.loop_stop()

    def stats(self) -> LinkStats:
        return LinkStats(self.connected.is_set(), len(self.queue), self._sent, self.queue.dropped, self._last_error)

    # --- paho's network thread -------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            hint = ""
            if reason.value in (4, 5, 134, 135):  # bad user name or password / not authorized (3.1.1 and 5)
                hint = " (check mqtt.username and mqtt.password_file, and the broker's ACL)"
            self._problem(f"MQTT broker {self.where} refused the connection: {reason}{hint}", logging.ERROR)
            return
        for m in self._announce():
            client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)
        client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
        if self._said is not None:
            logger.info("MQTT broker %s: connected again", self.where)
        else:
            logger.info("MQTT broker %s: connected", self.where)
        self._said = None
        self._last_error = None
        self._fresh = True  # a new connection: what the old one left unacknowledged is paho's to resend
        self.connected.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._problem(f"MQTT broker {self.where} unreachable; retrying (events wait, the oldest are dropped "
                      f"once {self.settings.queue_size} are waiting)", logging.WARNING)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was and not self._stopping.is_set():
            self._problem(f"MQTT broker {self.where}: connection lost ({reason}); reconnecting", logging.WARNING)

    def _problem(self, message: str, level: int) -> None:
        self._last_error = message
        if message != self._said:  # one line per new problem, not one per retry
            self._said = message
            logger.log(level, "%s", message)

    # --- the sender thread -----------------------------------------------------------------------

    def _send_loop(self) -> None:
        while True:
            m = self.queue.get()
            if m is None:
                return  # closed and empty
            while not self.connected.wait(0.5):
                if self._stopping.is_set():
                    return
            self._make_room()
            info = self._client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:  # pragma: no cover - no paho queue limit is set
                self.queue.put_front(m)
                continue
            self._sent += 1  # QoS 1: paho sends it, or again after a reconnect, until the broker has it
            self._unacked.append(info)

    def _make_room(self) -> None:
        """At most INFLIGHT messages unacknowledged: a slow broker holds the sender, not paho's memory."""
        if self._fresh:
            self._fresh = False
            self._unacked.clear()
        while self._unacked and self._unacked[0].is_published():
            self._unacked.popleft()
        while len(self._unacked) >= INFLIGHT and not self._stopping.is_set() and not self._fresh:
            try:
                self._unacked[0].wait_for_publish(0.5)
            except (RuntimeError, ValueError):  # handed over while the connection was dropping: resent later
                self.connected.wait(0.5)
            while self._unacked and self._unacked[0].is_published():
                self._unacked.popleft()

    def _wait_acked(self, info: mqtt.MQTTMessageInfo, deadline: float) -> None:
        try:
            while not info.is_published() and self._clock() < deadline and self.connected.is_set():
                info.wait_for_publish(min(0.5, max(0.0, deadline - self._clock())))
        except (RuntimeError, ValueError):  # not queued (disconnected meanwhile): the last will says offline
            pass
