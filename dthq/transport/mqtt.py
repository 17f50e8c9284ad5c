"""The MQTT bus: paho-mqtt 2.x (callback API version 2) against any broker.

- MQTT 5 where the broker speaks it (Mosquitto), else 3.1.1 (amqtt): the first client
  of a process to reach a broker learns which under a throwaway anonymous id (amqtt
  answers an anonymous MQTT 5 CONNECT with "unsupported protocol version" at once, but
  never answers one that carries a user name), and later clients use what it learnt.
- ``persistent=True`` keeps the session at the broker across disconnects (MQTT 5
  clean start off with a session expiry; 3.1.1 clean session off), so QoS 1 messages
  published while a consumer is away wait for it.
- Reconnects with exponential backoff (paho's own, 0.1 s doubling to 2 s), and every
  subscription is renewed on each connect; the time spent disconnected is counted.
- A cluster's URL names every node (``mqtt://USER:PASSWORD@H:P1,H:P2,H:P3``): a client
  starts on the node its id hashes to, and each disconnect or failed reconnect moves it
  to the next (paho itself knows one host only).
- Acknowledgements are ours, not paho's (its ``manual_ack`` mode): a message of an
  auto-ack subscription is acked when its handlers return, one of a manual-ack
  subscription when :meth:`Message.ack` is called (see :mod:`dthq.transport.bus`). An
  ack given after the connection it came on dropped is not sent: the broker redelivers
  that message on the resumed session (under a packet id that may by then name
  another message), and the handler's duplicate check takes it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import ssl
import threading
import time
import zlib
from dataclasses import dataclass
from functools import partial
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from dthq.errors import StateError, UnsupportedError
from dthq.transport.base import ROLES, Flight, peer_of
from dthq.transport.bus import (
    BusError,
    Handler,
    LinkStats,
    Message,
    Subscription,
    Taken,
    check_qos,
    dispatch,
    topic_matches,
)

DEFAULT_PORT = 1883
MQTT_311 = paho.MQTTv311  # 4: what a RabbitMQ node speaks (it closes an MQTT 5 connection)
USERNAME = "dthq"
CONNECT_TIMEOUT_S = 10.0
SESSION_EXPIRY_S = 3600
# CONNACK codes meaning "speak an older MQTT": 3.1.1's 1 and MQTT 5's 132. A broker
# closing the connection before any CONNACK is taken to mean the same.
_OLD_BROKER = {1, 132}
_SPOKEN: dict[str, int] = {}  # broker URL -> the protocol it answered, for later clients
MAX_ROUTES = 4096  # topics whose matching subscriptions are remembered (then forgotten)


@dataclass(frozen=True)
class BrokerAddress:
    """Where a broker is: one node, or a cluster's nodes (a client connects to one and
    rotates to the next when it fails), and the user to log in as (None: ours)."""

    hosts: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None


def _host_port(shown: str, item: str) -> tuple[str, int]:
    parts = urlsplit(f"mqtt://{item}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise UnsupportedError(f"broker URL {shown!r}: the port is not a number 1..65535") from None
    if not parts.hostname or parts.username is not None or parts.path:
        raise UnsupportedError(f"broker URL {shown!r}: {item!r} is not HOST[:PORT]")
    return parts.hostname, port


def redacted(url: str) -> str:
    """``url`` with its password, if any, shown as ``***`` (for messages and results)."""
    scheme, sep, rest = url.partition("://")
    user, at, nodes = rest.rpartition("@")
    if not sep or not at or ":" not in user:
        return url
    return f"{scheme}://{user.partition(':')[0]}:***@{nodes}"


def parse_broker(url: str) -> BrokerAddress:
    """``mqtt://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]``; anything else is refused
    with the reason (the password never shown)."""
    shown = redacted(url)
    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        raise UnsupportedError(f"broker URL {shown!r}: the scheme must be mqtt:// (no TLS here)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UnsupportedError(f"broker URL {shown!r}: only mqtt://HOST:PORT is understood")
    user, _, nodes = parts.netloc.rpartition("@")  # a host holds no "@"; a user may
    if not nodes:
        raise UnsupportedError(f"broker URL {shown!r} names no host")
    username = password = None
    if user:
        username, colon, password = (unquote(v) for v in user.partition(":"))
        if not username or not colon:
            raise UnsupportedError(f"broker URL {shown!r}: a user goes as USER:PASSWORD@")
    hosts = tuple(_host_port(shown, item) for item in nodes.split(","))
    if len(set(hosts)) != len(hosts):
        raise UnsupportedError(f"broker URL {shown!r} names a node twice")
    return BrokerAddress(hosts, username, password)


def parse_broker_url(url: str) -> tuple[str, int]:
    """The (host, port) of a broker URL's first node (see :func:`parse_broker`)."""
    return parse_broker(url).hosts[0]


def stop_loop(client: paho.Client) -> None:
    """``loop_stop`` after a ``disconnect``: paho 2.2's network thread clears its own
    ``_thread`` as it ends, which loop_stop may read between its check and its join
    (paho-mqtt issue 872), an AttributeError although the thread is gone as asked."""
    with contextlib.suppress(AttributeError):
        client.loop_stop()


def _no_delay(client: paho.Client, userdata: object, sock: socket.socket) -> None:
    # paho leaves Nagle on: a small publish would wait for the broker's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MQTTBus:
    name = "mqtt"

    def __init__(
        self,
        url: str,
        client_id: str,
        *,
        persistent: bool = False,
        keepalive: int = 30,
        protocol: int | None = None,
        connect: bool = True,
        tls: ssl.SSLContext | None = None,
        _anonymous: bool = False,
    ) -> None:
        """``protocol``: paho.MQTTv5 or paho.MQTTv311 when known (the embedded brokers
        say); otherwise offered 5, falling back once per broker URL. ``tls``: the
        client's context for a TLS listener (its certificate is its identity there)."""
        self.url = url
        self.shown_url = redacted(url)  # what messages name: no password
        self.tls = tls
        self.address = parse_broker(url)
        # Clients of a cluster start on different nodes: the load spreads over them.
        self._at = zlib.crc32(client_id.encode()) % len(self.address.hosts)
        self.host, self.port = self.address.hosts[self._at]
        self.client_id = client_id
        self.persistent = persistent
        self.stats = LinkStats()
        self._subs: list[Subscription] = []
        # topic -> its matching subscriptions: a devices process's bus holds one per
        # device, and matching each receipt against all of them was its largest cost.
        self._routes: dict[str, list[Subscription]] = {}
        self._taken: dict[int, Taken] = {}  # QoS 1 publish mid -> its on_taken
        self._ack_lock = threading.Lock()  # the two below
        self._generation = 0  # connections so far: an ack names the one it came on
        self._unacked = 0
        self._subacks: dict[int, threading.Event] = {}  # SUBSCRIBE mid -> SUBACK seen
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._refused: str | None = None
        self._down_since: float | None = None
        self._closing = False
        self.protocol = protocol or _SPOKEN.get(url, paho.MQTTv5)
        self._anonymous = _anonymous  # the protocol probe: no user name, nothing kept
        self._probe = protocol is None and url not in _SPOKEN and not _anonymous
        self._keepalive = keepalive
        self._client: paho.Client | None = None
        if connect:
            self.connect()

    def connect(self) -> None:
        """Connect (the constructor does unless ``connect=False``). A persistent consumer
        subscribes first and connects after: the broker may hand over the messages it
        kept the moment the session resumes, and each must find its handler."""
        if self._probe:
            self.protocol = self._learn_protocol()
        for tried in range(len(self.address.hosts)):  # a node that fails: the next one
            try:
                self._client = self._connect_one()
                return
            except BusError:
                if tried == len(self.address.hosts) - 1:
                    raise
                self._rotate()

    def _connect_one(self) -> paho.Client:
        client = self._connect(self.protocol, self._keepalive)
        if client is None:  # the broker speaks only 3.1.1
            self.protocol = _SPOKEN[self.url] = paho.MQTTv311
            client = self._connect(paho.MQTTv311, self._keepalive)
        if client is None:
            raise BusError(f"{self.shown_url}: the broker refused MQTT 5 and 3.1.1")
        return client

    def _learn_protocol(self) -> int:
        """The broker's protocol, learnt under a throwaway anonymous id and a clean
        session (a refused MQTT 5 CONNECT must not touch the real id's kept session)."""
        probe = MQTTBus(
            self.url,
            f"{self.client_id}-probe-{os.urandom(3).hex()}",
            protocol=paho.MQTTv5,
            connect=False,
            tls=self.tls,
            _anonymous=True,
        )
        try:
            client = probe._connect(paho.MQTTv5, self._keepalive)
        except BusError:
            # Refused for another reason (not authorised, say), or no broker at all: the
            # real CONNECT that follows says which, in MQTT 5.
            return paho.MQTTv5
        if client is None:
            _SPOKEN[self.url] = paho.MQTTv311
            return paho.MQTTv311
        client.disconnect()
        stop_loop(client)
        _SPOKEN[self.url] = paho.MQTTv5
        return paho.MQTTv5

    @property
    def protocol_name(self) -> str:
        return "MQTT 5" if self.protocol == paho.MQTTv5 else "MQTT 3.1.1"

    def _connect(self, protocol: int, keepalive: int) -> paho.Client | None:
        v5 = protocol == paho.MQTTv5
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=protocol,
            clean_session=None if v5 else not self.persistent,
            manual_ack=True,  # we ack: after the handlers, or when a manual handler says
        )
        if self.tls is not None:
            client.tls_set_context(self.tls)
        if not self._anonymous:  # amqtt keeps nothing for anonymous sessions
            client.username_pw_set(self.address.username or USERNAME, self.address.password)
        client.max_inflight_messages_set(1000)
        client.reconnect_delay_set(min_delay=0.1, max_delay=2)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_socket_open = _no_delay
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        properties = None
        if v5 and self.persistent:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = SESSION_EXPIRY_S
        self._refused, self._old_protocol = None, False
        self._connected.clear()
        try:
            if v5:
                client.connect(
                    self.host,
                    self.port,
                    keepalive,
                    clean_start=not self.persistent,
                    properties=properties,
                )
            else:
                client.connect(self.host, self.port, keepalive)
        except ssl.SSLError as exc:  # an OSError too: named as what it is
            raise BusError(f"TLS with {self.shown_url} failed: {exc.reason or exc}") from None
        except OSError as exc:
            where = f"{self.host}:{self.port}"
            raise BusError(
                f"no MQTT broker at {where} ({self.shown_url}): {exc.strerror or exc}"
            ) from None
        client.loop_start()
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while not self._connected.wait(0.02):
            if self._refused or time.monotonic() > deadline:
                client.loop_stop()
                client.disconnect()
                if self._old_protocol and v5:
                    return None
                raise BusError(
                    f"{self.shown_url} refused the connection: {self._refused or 'no CONNACK'}"
                )
        return client

    # paho callbacks (its network thread)

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:  # type: ignore[no-untyped-def]
        if reason.is_failure:
            self._old_protocol = reason.value in _OLD_BROKER
            self._refused = str(reason)
            if self._old_protocol:
                client.disconnect()  # stop paho retrying in this protocol
            return
        self.stats.connects += 1
        with self._ack_lock:
            self._generation += 1
        if self._down_since is not None:
            self.stats.down_ms += (time.perf_counter() - self._down_since) * 1000
            self._down_since = None
        with self._lock:
            subs = list(self._subs)
        for pattern, _, qos, _ in subs:
            client.subscribe(pattern, qos=qos)
        self._connected.set()

    def _rotate(self, client: paho.Client | None = None) -> None:
        """Aim the next (re)connect at the cluster's next node. paho's host setter
        refuses while its state is "connection lost", which is when this is needed."""
        hosts = self.address.hosts
        if len(hosts) > 1:
            self._at = (self._at + 1) % len(hosts)
            self.host, self.port = hosts[self._at]
            if client is not None:
                client._host, client._port = self.host, self.port  # no public way, see above

    def _on_connect_fail(self, client, userdata) -> None:  # type: ignore[no-untyped-def]
        self._rotate(client)

    def _on_disconnect(self, client, userdata, flags, reason, properties) -> None:  # type: ignore[no-untyped-def]
        if self.stats.connects == 0 and self._refused is None:
            # Closed before any CONNACK: amqtt does this to an MQTT 5 CONNECT it cannot
            # parse (one with properties), instead of answering "unsupported version".
            self._refused, self._old_protocol = f"connection closed before CONNACK ({reason})", True
            return
        if self._connected.is_set() and not self._closing:
            self.stats.disconnects += 1
            self._down_since = time.perf_counter()
        if not self._closing:
            # The node may be gone, or took the connection and closed it before any
            # CONNACK (a dying node, a proxy in front of one): the next takes the session.
            self._rotate(client)
        self._connected.clear()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self._subacks.setdefault(mid, threading.Event()).set()

    def _on_publish(self, client, userdata, mid, reason, properties) -> None:  # type: ignore[no-untyped-def]
        # paho calls this holding its out-message lock, which publish() below held while
        # it registered the mid: no PUBACK can overtake its registration.
        taken = self._taken.pop(mid, None)
        if taken is not None and not getattr(reason, "is_failure", False):
            taken()

    def _on_message(self, client, userdata, msg) -> None:  # type: ignore[no-untyped-def]
        message = Message(msg.topic, msg.payload, msg.qos, time.perf_counter_ns())
        subs = self._routes.get(message.topic)
        if subs is None:
            subs = self._route(message.topic)
        with self._ack_lock:
            self._unacked += 1
            generation = self._generation
        send = partial(self._send_ack, msg.mid, msg.qos, generation)
        # A handler that raises is counted; it must not stop the network loop.
        dispatch(message, subs, send, self.stats.handler_errors)

    def _route(self, topic: str) -> list[Subscription]:
        with self._lock:
            subs = [s for s in self._subs if topic_matches(s[0], topic)]
            if len(self._routes) >= MAX_ROUTES:
                self._routes.clear()
            self._routes[topic] = subs
        return subs

    def _send_ack(self, mid: int, qos: int, generation: int) -> None:
        with self._ack_lock:
            self._unacked -= 1
            current = generation == self._generation
        client = self._client
        if current and qos > 0 and client is not None:
            client.ack(mid, qos)  # queued for the network thread: safe from any thread

    # the Bus interface

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    @property
    def unacked(self) -> int:
        """Messages delivered and not acknowledged yet (manual-ack handlers holding them)."""
        with self._ack_lock:
            return self._unacked

    def subscribe(
        self, pattern: str, handler: Handler, qos: int = 1, *, manual_ack: bool = False
    ) -> None:
        with self._lock:
            self._subs.append((pattern, handler, check_qos(qos), manual_ack))
            self._routes.clear()
        if self._client is not None and self._connected.is_set():
            # Wait for the SUBACK: a message published right after must be delivered.
            drops = self.stats.disconnects
            with self._lock:
                result, mid = self._client.subscribe(pattern, qos=qos)
                done = self._subacks.setdefault(mid, threading.Event())
            if result == MQTTErrorCode.MQTT_ERR_NO_CONN:
                return  # the link dropped just now: the reconnect subscribes it
            if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise BusError(f"subscribe {pattern!r} failed: {paho.error_string(result)}")
            if not done.wait(CONNECT_TIMEOUT_S):
                with self._lock:
                    self._subacks.pop(mid, None)
                if self.stats.disconnects != drops or not self._connected.is_set():
                    return  # the link dropped before the SUBACK: the reconnect renews it
                raise BusError(f"{self.shown_url}: no SUBACK for {pattern!r}")
            with self._lock:
                self._subacks.pop(mid, None)

    def publish(
        self, topic: str, payload: bytes, qos: int = 1, *, on_taken: Taken | None = None
    ) -> bool:
        """``on_taken``: at QoS 1 called on paho's network thread with the broker's
        PUBACK (after a reconnect if need be); at QoS 0 before this returns, once paho
        has it. Never for a message that was dropped (False)."""
        check_qos(qos)
        client = self._client
        if client is None:
            raise BusError("publish before connect()")
        if on_taken is None or qos == 0:
            info = client.publish(topic, payload, qos=qos)
        else:
            # paho's own lock (an RLock publish takes too): the PUBACK handler, which runs
            # under it, cannot look the mid up before it is registered.
            with client._out_message_mutex:  # no public way to make this atomic
                info = client.publish(topic, payload, qos=qos)
                if info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                    self._taken[info.mid] = on_taken
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (
            qos > 0 and info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN  # paho sends it on reconnect
        ):
            if on_taken is not None and qos == 0:
                on_taken()
            return True
        self.stats.dropped += 1
        return False

    def publish_acked(self, topic: str, payload: bytes, qos: int, timeout: float) -> bool:
        """Publish and wait for the broker's PUBACK (QoS 1) or the write (QoS 0); False
        when it did not come within ``timeout`` seconds (paho still delivers it later)."""
        if self._client is None:
            raise BusError("publish before connect()")
        info = self._client.publish(topic, payload, qos=check_qos(qos))
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self.stats.dropped += 1
            return False
        try:
            info.wait_for_publish(timeout)
        except RuntimeError:  # paho: the message was dropped (queue full, disconnected)
            return False
        return info.is_published()

    def idle(self) -> bool:
        """Nothing of ours waiting to go out or to be acknowledged."""
        return self._client is None or not self._client._out_messages  # no public accessor

    def close(self) -> None:
        self._closing = True
        if self._client is not None:
            self._client.disconnect()
            stop_loop(self._client)


class MQTTTransport:
    """The :class:`~dthq.transport.base.Transport` seam over a broker: A and B each have
    their own connection and topic, so every flight and record crosses the broker (the
    Table 3 "latency over MQTT" column). ``receive`` waits up to ``timeout`` seconds."""

    def __init__(self, url: str, *, protocol: int | None = None, timeout: float = 5.0) -> None:
        tag = os.urandom(4).hex()
        self._topics = {role: f"dthq/v1/pair/{tag}/{role}" for role in ROLES}
        self._inbox: dict[str, queue.SimpleQueue[bytes]] = {r: queue.SimpleQueue() for r in ROLES}
        self._buses = {
            role: MQTTBus(url, f"dthq-pair-{tag}-{role}", protocol=protocol) for role in ROLES
        }
        for role, bus in self._buses.items():
            inbox = self._inbox[role]
            bus.subscribe(self._topics[role], lambda m, inbox=inbox: inbox.put(m.payload), qos=1)
        self.timeout = timeout
        self.log: list[Flight] = []

    def send(self, sender: str, data: bytes, name: str = "record") -> None:
        receiver = peer_of(sender)
        self._buses[sender].publish(self._topics[receiver], data, qos=1)
        self.log.append(Flight(sender, name, data))

    def receive(self, receiver: str) -> bytes:
        try:
            return self._inbox[receiver].get(timeout=self.timeout)
        except queue.Empty:
            raise StateError(f"nothing arrived for {receiver} in {self.timeout} s") from None

    def close(self) -> None:
        for bus in self._buses.values():
            bus.close()
