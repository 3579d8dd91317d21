"""tests/mosquitto.py against the real Mosquitto: logins, the ACL, a crash and restart, TLS.

Nothing here waits on a guessed duration: a publish returns after the broker's PUBACK, which Mosquitto
sends only after it has routed the message to every subscriber (or dropped it by the ACL), and each
subscriber's connection delivers in order; log lines are waited for with a deadline.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.mosquitto import MOSQUITTO, Message, Subscriber, ThrowawayBroker, publish

pytestmark = pytest.mark.skipif(not os.path.exists(MOSQUITTO) and not os.environ.get("CI"),
                                reason=f"{MOSQUITTO} not found: apt install mosquitto (never skipped in CI)")

MakeSubscriber = Callable[..., Subscriber]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[ThrowawayBroker]:
    server = ThrowawayBroker(tmp_path / "broker")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[ThrowawayBroker]:
    server = ThrowawayBroker(tmp_path / "tls-broker", tls=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def subscriber() -> Iterator[MakeSubscriber]:
    """Make subscribers (the arguments of Subscriber); every one is closed after the test."""
    made: list[Subscriber] = []

    def make(broker: ThrowawayBroker, user: str, topics: list[str], *, password: str | None = None,
             tls: bool | None = None) -> Subscriber:
        made.append(Subscriber(broker, user, topics, password=password, tls=tls))
        return made[-1]

    yield make
    for sub in made:
        sub.close()


def payload_is(payload: bytes) -> Callable[[Message], bool]:
    return lambda m: m.payload == payload


def test_a_publish_by_pi_reaches_ha(broker: ThrowawayBroker, subscriber: MakeSubscriber) -> None:
    ha = subscriber(broker, "ha", ["motion-watcher/#"])
    ha.wait_connected()
    publish(broker, "pi", "motion-watcher/pi-1/event", b'{"motion": true}')
    got = ha.expect(payload_is(b'{"motion": true}'), what="pi's event")
    assert got == Message("motion-watcher/pi-1/event", b'{"motion": true}', False) and ha.seen == []


def test_a_late_subscriber_gets_a_retained_message_flagged_retained(broker: ThrowawayBroker,
                                                                     subscriber: MakeSubscriber) -> None:
    publish(broker, "pi", "homeassistant/binary_sensor/pi-1/motion/config", b"{}", retain=True)
    ha = subscriber(broker, "ha", ["homeassistant/#"])
    ha.wait_connected()
    got = ha.expect(lambda m: m.topic.endswith("/motion/config"), what="the retained config")
    assert got.retain and got.payload == b"{}"


def test_a_wrong_password_is_refused_and_the_broker_logs_it(broker: ThrowawayBroker,
                                                            subscriber: MakeSubscriber) -> None:
    mark = broker.log_mark()
    intruder = subscriber(broker, "pi", ["motion-watcher/#"], password="not-" + broker.users["pi"])
    reason = intruder.wait_connack()
    assert reason.is_failure and str(reason) == "Not authorized", reason  # MQTT 3.1.1 CONNACK return code 5
    with pytest.raises(AssertionError, match="login refused: Not authorized"):
        intruder.wait_connected()
    assert broker.wait_for_log("disconnected, not authorised", since=mark)
    with pytest.raises(AssertionError, match="login refused"):
        publish(broker, "ha", "motion-watcher/x", b"x", password="")


def test_the_acl_stops_ha_from_publishing(broker: ThrowawayBroker, subscriber: MakeSubscriber) -> None:
    inspector = subscriber(broker, "inspector", ["motion-watcher/#"])
    inspector.wait_connected()
    mark = broker.log_mark()
    # Both publishes return after the broker's PUBACK: had it routed ha's message, that message would sit
    # ahead of pi's in the inspector's (ordered) connection.
    publish(broker, "ha", "motion-watcher/pi-1/event", b"forged by ha")
    publish(broker, "pi", "motion-watcher/pi-1/event", b"from pi")
    assert inspector.messages_until(payload_is(b"from pi"), what="pi's message") == [
        Message("motion-watcher/pi-1/event", b"from pi", False)]
    denied = broker.wait_for_log("Denied PUBLISH", since=mark)
    assert "'motion-watcher/pi-1/event'" in denied, denied


def test_after_a_crash_the_broker_comes_back_on_the_same_port(broker: ThrowawayBroker,
                                                               subscriber: MakeSubscriber) -> None:
    port = broker.port
    ha = subscriber(broker, "ha", ["motion-watcher/#"])
    ha.wait_connected()
    proc = broker.proc
    broker.kill()
    assert proc is not None and proc.returncode == -9
    broker.restart_same_port()
    assert broker.port == port and broker.proc is not None and broker.proc.poll() is None
    ha.wait_connected(timeout=20, times=2)  # paho reconnected and subscribed again
    inspector = subscriber(broker, "inspector", ["motion-watcher/#"])
    inspector.wait_connected()
    publish(broker, "pi", "motion-watcher/pi-1/state", b"back")
    for sub in (ha, inspector):
        sub.expect(payload_is(b"back"), what="the message published after the restart")


def test_tls_verifies_the_broker_with_its_ca(tls_broker: ThrowawayBroker, subscriber: MakeSubscriber) -> None:
    assert tls_broker.ca_file is not None and tls_broker.ca_file.is_file()
    ha = subscriber(tls_broker, "ha", ["homeassistant/#"])  # trusts tls_broker.ca_file
    ha.wait_connected()
    publish(tls_broker, "pi", "homeassistant/sensor/pi-1/state", b"over tls")
    ha.expect(payload_is(b"over tls"), what="the message sent over TLS")

    untrusting = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="no-ca")
    untrusting.username_pw_set("pi", tls_broker.users["pi"])
    untrusting.tls_set()  # the system's CAs only
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        untrusting.connect(tls_broker.host, tls_broker.port)

    mark = tls_broker.log_mark()
    plain = subscriber(tls_broker, "pi", ["motion-watcher/#"], tls=False)
    with pytest.raises(AssertionError, match="closed before CONNACK"):
        plain.wait_connack()
    # "OpenSSL Error[0]: …" or "Client connection from … failed: …", by when the plain CONNECT arrived
    tls_broker.wait_for_log("wrong version number", since=mark)
