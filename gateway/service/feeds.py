"""``mqtt://`` inputs: other gateways' plot and track batches from a broker, into a bounded
inbox the pipeline task drains (``gateway.remote`` checks each payload there).

One connection per broker, for every input's filter on it (one TCP stream keeps the
broker's order: with a connection per filter, a centre that falls behind drained one
connection's backlog before the other's, and plots came a hundred seconds of data ahead
of tracks), kept up for ever: connect, subscribe, hand every message to the
inbox from paho's receive callback (no queue in between but the bounded inbox), and when
the broker goes away, back off (0.5 s doubling to 30 s, +-20 % jitter) and connect again,
to the next node when the input names a cluster's (``publish.nodes``, as the sink does;
each attempt bounded by ``[mqtt] connect_timeout_s``).
The session is clean: plots that were missed while away are not worth more than the ones
coming now (the picture moves on), so nothing is kept for the centre by the broker.
Retained messages (a broker's stale copy) and payloads above ``MAX_BATCH_BYTES`` are
skipped and counted here; MQTT 5 brokers are told that bound when connecting.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.config import MqttConfig
from gateway.config.sections import CONNECT_TIMEOUT_S
from gateway.config.values import MqttInputUrl
from gateway.publish.mqtt import (
    PUBLISH_TIMEOUT_S,
    _code,
    _disconnection,
    _retrieve_disconnect,
    _wait,
    _why,
    session,
)
from gateway.publish.nodes import BACKOFF_MIN, Nodes
from gateway.remote import MAX_BATCH_BYTES
from gateway.service.inputs import Inbox

log = logging.getLogger(__name__)

KEEPALIVE_S = 30


class MqttFeed:
    """The ``mqtt://HOST:PORT[,...]/FILTER`` inputs on one broker (``urls``: the same nodes,
    one connection).  ``mqtt``: the gateway's [mqtt] section, for credentials, protocol,
    CA file and connect timeout (None: anonymous MQTT 5, the system's CAs)."""

    def __init__(self, urls: list[MqttInputUrl], inbox: Inbox,
                 mqtt_config: MqttConfig | None, *, client_id: str,
                 backoff_min_s: float = BACKOFF_MIN) -> None:
        if any(u.brokers != urls[0].brokers for u in urls):
            raise ValueError("the inputs of one feed name the same nodes")
        self.urls = urls
        self.nodes = Nodes(urls[0].brokers, backoff_min_s=backoff_min_s)
        self.filters = [u.filter for u in urls]
        self.inbox = inbox
        self.config = mqtt_config
        self.client_id = f"{client_id}-{os.getpid()}"  # clean sessions: never shared
        self.connect_timeout_s = (mqtt_config.connect_timeout_s if mqtt_config is not None
                                  else CONNECT_TIMEOUT_S)
        self.counters: Counter[str] = Counter()
        self.connected = False  # and subscribed
        self.down_since: float | None = time.monotonic()
        self.last: float | None = None  # wall clock of the last message taken
        self.problem: str | None = None  # why we are not connected, while we are not

    def __str__(self) -> str:
        return " ".join(map(str, self.urls))

    @property
    def where(self) -> str:
        """The node connected to, or being tried."""
        return self.nodes.where

    def _client(self) -> aiomqtt.Client:
        c, broker = self.config, self.nodes.current
        v5 = c is None or c.protocol == "5"
        properties = None
        if v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.MaximumPacketSize = MAX_BATCH_BYTES + 1024  # the batch and its header
        return aiomqtt.Client(
            broker.host, broker.port, identifier=self.client_id,
            username=c.username if c else None, password=c.password if c else None,
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            tls_params=(aiomqtt.TLSParameters(ca_certs=c.ca_file if c else None)
                        if broker.tls else None),
            keepalive=c.keepalive_s if c else KEEPALIVE_S, logger=log,
            clean_session=None if v5 else True, properties=properties)

    async def run(self, stopping: asyncio.Event) -> None:
        """Connected, reconnecting, until ``stopping``."""
        while not stopping.is_set():
            client = self._client()
            try:
                async with session(client, self.connect_timeout_s, PUBLISH_TIMEOUT_S):
                    paho = getattr(client, "_client", None)
                    if not isinstance(paho, mqtt.Client):
                        raise TypeError("aiomqtt no longer has its paho client as _client")
                    paho.on_message = self._received
                    granted = await client.subscribe([(f, 0) for f in self.filters])
                    refused = [code for code in map(_code, granted) if code >= 0x80]
                    if refused:
                        self.counters["subscribe-refused"] += 1
                        raise aiomqtt.MqttError(f"broker refused a subscription of "
                                                f"{self} (reason {refused[0]})")
                    self.connected, self.down_since, self.problem = True, None, None
                    self.counters["connects"] += 1
                    if self.nodes.connected():
                        self.counters["failovers"] += 1
                        log.warning("input %s: failed over to %s (node %d of %d)", self,
                                    self.where, self.nodes.index + 1, len(self.nodes))
                    log.info("input %s: connected and subscribed, on %s", self, self.where)
                    lost = asyncio.ensure_future(_disconnection(client))
                    await _wait(stopping, None, done=lost)
                    if not lost.done():
                        lost.cancel()
                        await asyncio.gather(lost, return_exceptions=True)
                        return
                    lost.result()  # raises: the connection is gone
            except (aiomqtt.MqttError, TimeoutError, OSError) as exc:
                failed, delay = self.where, self.nodes.failed()
                nxt = self.nodes.next_attempt
                if self.down_since is None:
                    self.down_since = time.monotonic()
                if self.connected:
                    self.counters["disconnects"] += 1
                    log.warning("input %s: connection to %s lost: %s; %s in %.1f s", self,
                                failed, _why(exc), nxt, delay)
                else:
                    self.counters["connect-failures"] += 1
                    log.warning("input %s: cannot connect to %s: %s; %s in %.1f s", self,
                                failed, _why(exc), nxt, delay)
                self.connected = False
                self.problem = f"not connected to {failed}: {_why(exc)}"[:300]
                _retrieve_disconnect(client)
                await _wait(stopping, delay)
        self.connected = False

    def _received(self, _client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        """paho's receive callback: never raises into paho, never waits."""
        try:
            if message.retain:
                self.counters["skipped-retained"] += 1
                return
            payload = message.payload
            if len(payload) > MAX_BATCH_BYTES:
                self.counters["dropped-oversize"] += 1
                return
            self.counters["received"] += 1
            self.last = time.time()
            self.inbox.offer(message.topic, bytes(payload))
        except Exception as exc:  # noqa: BLE001 - the connection must go on; say why
            self.counters["not-taken"] += 1
            log.error("input %s: message on %r not taken: %r", self, message.topic, exc,
                      exc_info=self.counters["not-taken"] == 1)
