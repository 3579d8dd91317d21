"""A throwaway Mosquitto broker on a loopback port, and an MQTT subscriber that records what it receives.

The broker logs in its users from a ``mosquitto_passwd`` file and applies an ACL file (no anonymous
logins); with ``tls=True`` its one listener speaks TLS with a certificate for 127.0.0.1 and localhost signed
by a throwaway CA (``ca_file``). Readiness is read from the broker's own log line ("mosquitto version …
running", written after its listeners are open), never guessed with a sleep; every log line is kept in
``log`` so tests can assert on refused logins and denied publishes.

Threads: each broker process has one reader thread that drains its stderr into ``log`` (under ``_log_cond``,
which also wakes ``wait_for_log``); it ends when the process does and is joined by ``kill``/``stop``. A
``Subscriber``'s paho network thread runs its callbacks: they append to its lists under ``_cond`` and put
messages on ``messages``; the test's thread reads both, and ``close`` joins the network thread.
"""

from __future__ import annotations

import importlib
import itertools
import os
import pwd
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

# tests/proc.py's LIVE: the processes tests/conftest.py kills after every test. Looked up rather than imported
# so that `mypy tests/mosquitto.py` (strict) checks this file, not tests/proc.py, which mypy's `files` leave out.
LIVE: list[subprocess.Popen[str]] = importlib.import_module("tests.proc").LIVE

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"

DEFAULT_USERS: dict[str, str] = {"pi": "pi-secret", "inspector": "inspector-secret", "ha": "ha-secret"}
DEFAULT_ACL = (
    "user pi\ntopic readwrite motion-watcher/#\ntopic readwrite homeassistant/#\n\n"
    "user inspector\ntopic readwrite motion-watcher/#\ntopic readwrite homeassistant/#\n\n"
    "user ha\ntopic read #\n"
)
RUNNING = re.compile(r"mosquitto version \S+ running")

_client_ids = itertools.count(1)


class BrokerUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*args: str) -> None:
    subprocess.run(args, check=True, timeout=30, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_tls_files(workdir: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost signed by it: (ca, cert, key)."""
    ca_key, ca, key, csr, cert = (workdir / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run("openssl", "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
         "-subj", "/CN=motion-watcher throwaway test CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _run("openssl", "req", "-new", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    ext = workdir / "server.ext"
    ext.write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    _run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
         "-out", str(cert), "-days", "2", "-extfile", str(ext))
    for private in (ca_key, key):
        private.chmod(0o600)
    return ca, cert, key


class ThrowawayBroker:
    """Mosquitto on 127.0.0.1:``port`` with password logins and an ACL; see the module docstring."""

    def __init__(self, workdir: Path, *, users: dict[str, str] | None = None, acl: str | None = None,
                 tls: bool = False) -> None:
        if not os.path.exists(MOSQUITTO) or not os.path.exists(MOSQUITTO_PASSWD):
            raise BrokerUnavailable(f"{MOSQUITTO} or {MOSQUITTO_PASSWD} not found (apt install mosquitto)")
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = 0
        self.tls = tls
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.acl = DEFAULT_ACL if acl is None else acl
        # Run as root, mosquitto drops to the user named here ("mosquitto" if none), which could not read
        # a 0600 file in a 0700 pytest directory; as anyone else it ignores the setting. So: ourselves.
        self.run_as = pwd.getpwuid(os.geteuid()).pw_name
        self.config = self.dir / "mosquitto.conf"
        self.password_file = self.dir / "passwd"
        self.acl_file = self.dir / "acl"
        self.ca_file: Path | None = None
        self.cert_file: Path | None = None
        self.key_file: Path | None = None
        self.proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []  # every line of every start, in order
        self._log_cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self._write_credentials()
        if tls:
            self.ca_file, self.cert_file, self.key_file = make_tls_files(self.dir)

    def _write_credentials(self) -> None:
        self.password_file.unlink(missing_ok=True)
        self.password_file.touch(mode=0o600)
        for user, password in self.users.items():
            _run(MOSQUITTO_PASSWD, "-b", str(self.password_file), user, password)
        self.password_file.chmod(0o600)
        self.acl_file.write_text(self.acl)
        self.acl_file.chmod(0o600)

    def _write_config(self) -> None:
        tls = (f"cafile {self.ca_file}\ncertfile {self.cert_file}\nkeyfile {self.key_file}\n"
               if self.tls else "")
        self.config.write_text(
            f"user {self.run_as}\npersistence false\nlog_dest stderr\nlog_type all\nconnection_messages true\n"
            f"listener {self.port} {self.host}\n{tls}allow_anonymous false\n"
            f"password_file {self.password_file}\nacl_file {self.acl_file}\n"
        )

    def start(self, timeout: float = 20.0, *, same_port: bool = False) -> None:
        """Start (on a free port, or on ``port`` again) and return once mosquitto says it is running."""
        for _attempt in range(5):
            if not (same_port and self.port):
                self.port = _free_port()
            self._write_config()
            first_line = len(self.log)
            proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                    start_new_session=True)
            LIVE.append(proc)  # killed after the test by tests/conftest.py even if the test fails
            self.proc = proc
            ended = threading.Event()
            self._reader = threading.Thread(target=self._drain, args=(proc, ended), name="mosquitto-log",
                                            daemon=True)
            self._reader.start()
            deadline = time.monotonic() + timeout
            with self._log_cond:
                # Ready when this start's lines say "running"; failed when its reader saw the end of stderr.
                while not any(RUNNING.search(x) for x in self.log[first_line:]) and not ended.is_set():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._log_cond.wait(remaining)
                lines = self.log[first_line:]
            if any(RUNNING.search(x) for x in lines) and proc.poll() is None:
                return
            self.kill()
            if same_port or not any("Address already in use" in x for x in lines):
                raise BrokerUnavailable(f"mosquitto did not start on port {self.port}: " + " | ".join(lines[-6:]))
        raise BrokerUnavailable("mosquitto could not bind a free port")

    def _drain(self, proc: subprocess.Popen[str], ended: threading.Event) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:  # keep reading, or mosquitto blocks on a full pipe
            with self._log_cond:
                self.log.append(line.rstrip("\n"))
                self._log_cond.notify_all()
        with self._log_cond:
            ended.set()
            self._log_cond.notify_all()

    def wait_for_log(self, needle: str | re.Pattern[str], timeout: float = 10.0, *, since: int = 0) -> str:
        """The first log line from index ``since`` on containing ``needle`` (a string or a regex)."""
        def match(line: str) -> bool:
            return needle in line if isinstance(needle, str) else needle.search(line) is not None

        deadline = time.monotonic() + timeout
        with self._log_cond:
            while True:
                found = next((x for x in self.log[since:] if match(x)), None)
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no mosquitto log line with {needle!r} within {timeout:g} s; "
                                         f"log since line {since}: {self.log[since:][-15:]}")
                self._log_cond.wait(remaining)

    def log_mark(self) -> int:
        """The index the next log line will have: pass it as ``since`` to ignore earlier lines."""
        with self._log_cond:
            return len(self.log)

    def restart_same_port(self, timeout: float = 20.0) -> None:
        """Stop (if still running) and start again on the same port (mosquitto sets SO_REUSEADDR)."""
        self.stop()
        self.start(timeout, same_port=True)

    def kill(self) -> None:
        """SIGKILL the broker (a crash, not a shutdown) and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self._reap(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM and wait; SIGKILL if it has not ended within ``timeout``."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._reap(timeout=10)

    def _reap(self, timeout: float) -> None:
        if self.proc is not None:
            self.proc.wait(timeout=timeout)
            if self.proc in LIVE:
                LIVE.remove(self.proc)
        if self._reader is not None:
            self._reader.join(timeout=timeout)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None
        self._reader = None


class Message(NamedTuple):
    topic: str
    payload: bytes
    retain: bool


def new_client(broker: ThrowawayBroker, user: str, password: str | None = None, *, name: str = "client",
               tls: bool | None = None) -> mqtt.Client:
    """A paho 2.x client (callback API 2, MQTT 3.1.1) with a unique id, logging in as ``user`` with its
    password (or ``password``), trusting the broker's CA when the broker speaks TLS (``tls`` overrides:
    False connects in plain text, True needs the broker's CA). Not yet connected."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{user}-{os.getpid()}-{next(_client_ids)}")
    client.username_pw_set(user, broker.users.get(user, "") if password is None else password)
    if broker.tls if tls is None else tls:
        if broker.ca_file is None:
            raise ValueError("the broker has no CA: it was made with tls=False")
        client.tls_set(ca_certs=str(broker.ca_file))
    return client


class Subscriber:
    """Logged in as ``user``, subscribed (QoS 1) to ``topics``; every message received goes on ``messages``.

    Subscribes again on every (re)connection, so it follows the broker through a restart."""

    def __init__(self, broker: ThrowawayBroker, user: str, topics: Iterable[str], *, password: str | None = None,
                 tls: bool | None = None) -> None:
        self.user = user
        self.topics = list(topics)
        self.messages: queue.Queue[Message] = queue.Queue()
        self.seen: list[Message] = []  # messages expect() took off the queue and passed over
        self.connacks: list[ReasonCode] = []  # every CONNACK's reason code, in order
        self.disconnects: list[ReasonCode] = []
        self._cond = threading.Condition()
        self._connections = 0  # CONNACKs + disconnections: a connection attempt's result is either
        self._subscribed = False  # the current connection's SUBACK arrived and granted every filter
        self.ready_count = 0  # connections that got that far (2 after the broker's restart, say)
        self._suback_failures: list[str] = []
        self.client = new_client(broker, user, password, name="sub", tls=tls)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)  # TCP (and TLS handshake) here: errors raise now
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags, reason_code: ReasonCode,
                    properties: Properties | None) -> None:
        with self._cond:
            self.connacks.append(reason_code)
            self._connections += 1
            self._cond.notify_all()
        if not reason_code.is_failure and self.topics:
            client.subscribe([(t, 1) for t in self.topics])
        elif not reason_code.is_failure:
            with self._cond:
                self._set_subscribed(True)

    def _set_subscribed(self, subscribed: bool) -> None:  # with _cond held
        self._subscribed = subscribed
        self.ready_count += subscribed
        self._cond.notify_all()

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: list[ReasonCode],
                      properties: Properties | None) -> None:
        refused = [f"{t}: {rc}" for t, rc in zip(self.topics, reason_codes, strict=False) if rc.is_failure]
        with self._cond:
            self._suback_failures += refused
            self._set_subscribed(not refused)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: mqtt.DisconnectFlags,
                       reason_code: ReasonCode, properties: Properties | None) -> None:
        with self._cond:
            self.disconnects.append(reason_code)
            self._connections += 1
            self._subscribed = False
            self._cond.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.put(Message(message.topic, bytes(message.payload), bool(message.retain)))

    def _state(self) -> str:
        return (f"CONNACKs {[str(x) for x in self.connacks]}, disconnections {[str(x) for x in self.disconnects]}, "
                f"refused subscriptions {self._suback_failures}")

    def wait_connack(self, timeout: float = 10.0) -> ReasonCode:
        """The first CONNACK's reason code ("Success", "Not authorized", …); AssertionError if the
        connection closed before one came (a plain client on a TLS port, say) or none came in time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._connections:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.user}: no CONNACK within {timeout:g} s; {self._state()}")
                self._cond.wait(remaining)
            if not self.connacks:
                raise AssertionError(f"{self.user}: the connection closed before CONNACK; {self._state()}")
            return self.connacks[0]

    def wait_connected(self, timeout: float = 10.0, *, times: int = 1) -> None:
        """Return once logged in and subscribed, so anything published from now on reaches ``messages``;
        with ``times=n``, once that happened on the n-th connection (paho reconnects after a lost one)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (self._subscribed and self.ready_count >= times):
                if self.connacks and self.connacks[-1].is_failure:
                    raise AssertionError(f"{self.user}: login refused: {self.connacks[-1]}; {self._state()}")
                if self._suback_failures:
                    raise AssertionError(f"{self.user}: subscription refused; {self._state()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.user}: not connected and subscribed within {timeout:g} s; "
                                         f"{self._state()}")
                self._cond.wait(remaining)

    def _take(self, predicate: Callable[[Message], bool], timeout: float, what: str) -> list[Message]:
        deadline = time.monotonic() + timeout
        taken: list[Message] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.user} did not receive {what} within {timeout:g} s; "
                                     f"received meanwhile: {taken}; passed over before: {self.seen}")
            try:
                message = self.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            taken.append(message)
            if predicate(message):
                return taken

    def expect(self, predicate: Callable[[Message], bool], timeout: float = 10.0,
               what: str = "a matching message") -> Message:
        """Take messages off the queue until one matches and return it; the others go on ``seen``."""
        *passed, match = self._take(predicate, timeout, what)
        self.seen += passed
        return match

    def messages_until(self, predicate: Callable[[Message], bool], timeout: float = 10.0,
                       what: str = "a matching message") -> list[Message]:
        """Every message taken off the queue up to and including the first that matches."""
        return self._take(predicate, timeout, what)

    def close(self) -> None:
        """Disconnect and join the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


def publish(broker: ThrowawayBroker, user: str, topic: str, payload: bytes | str, *, password: str | None = None,
            qos: int = 1, retain: bool = False, timeout: float = 10.0) -> None:
    """Log in as ``user``, publish one message and return once the broker acknowledged it (QoS 1: its
    PUBACK, sent after it routed the message to subscribers or dropped it by the ACL), then disconnect."""
    client = new_client(broker, user, password, name="pub")
    connack: queue.Queue[ReasonCode] = queue.Queue()
    client.on_connect = lambda c, u, f, rc, p: connack.put(rc)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        try:
            result = connack.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{user}: no CONNACK from the broker within {timeout:g} s") from None
        if result.is_failure:
            raise AssertionError(f"{user}: login refused: {result}")
        info = client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise AssertionError(f"{user}: {topic!r} not acknowledged within {timeout:g} s")
    finally:
        client.disconnect()
        client.loop_stop()
