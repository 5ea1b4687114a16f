"""The MQTT sink: drains the outbox into a broker through aiomqtt, and keeps at it.

The reconnect loop is written out, as aiomqtt's documentation recommends, rather than
hidden: connect (with a last will saying ``offline``), announce ``online``, send QoS 1
messages first and acknowledge each only once the broker has it, then QoS 0 batches; when
anything fails, back off (0.5 s doubling to 30 s, +-20 % jitter) and connect again, to the
next of a cluster's nodes (``publish.nodes``).  A connection attempt is bounded by ``[mqtt]
connect_timeout_s`` (``session``): a dead or paused node is given up, not waited on.
What was taken but not confirmed goes back into the outbox, so a broker restart loses
nothing that still fits in it (QoS 1 may then arrive twice, as MQTT allows).

The broker's answer to each QoS 1 message is read, not just awaited: aiomqtt's ``publish``
drops the PUBACK's reason code, so the reliable lane hands its window to paho itself and
hears the code through paho's ``on_publish``, wrapped (aiomqtt's own callback still runs).
Code 16, no matching subscribers, on ``aidc`` or ``alerts`` means nobody is listening: a
warning, once a minute per topic.  A code of 128 or more is the broker refusing that
message (135: not authorized): sending the same bytes again gets the same answer, so it
is dropped, counted (``dropped-refused``) and logged, never retried in a loop; for AIDC the
dialogue's own LAM timeout then resends or alerts.  Every code is counted by topic kind.

Connected means subscribed: "MQTT connected", ``connected`` (hence /health) and the
``online`` status come only once the broker has acknowledged every subscription, so a
peer's message sent at that moment is not lost.  Inbound messages are handed over from
paho's receive callback (no unbounded queue in between): a retained one (a broker's copy
of an old message, delivered again on every subscription) is skipped and counted, one
larger than ``max_packet_bytes`` (which MQTT 5 brokers are told when connecting) too.
One with the DUP flag (QoS 1 sent again, its PUBACK not seen) is taken and also counted
``redelivered``: a burst's received count may exceed what its sender sent by that many.

Stopping is bounded: ``drain_timeout_s`` for the outbox to drain, and at most
``STOP_GRACE_S`` more for a broker that is connected but silent; then the connection is
abandoned and what is left counted as ``dropped-at-exit``.

Throughput does not hang on one publish at a time.  QoS 1 messages are awaited together,
a window at a time, each answered by its PUBACK.  QoS 0 has nothing to await but the
socket write, and aiomqtt's per-publish bookkeeping (an Event and a wait per message)
capped it near 28,000 messages/s here, against 61,000/s for the paho client underneath: an
SDPS cycle of 265 fused states took 10-19 ms to hand over, the whole of the latency
budget.  So a QoS 0 batch goes straight to aiomqtt's paho client, and the sink waits until
paho has written the last of it to the socket (flow control: nothing piles up inside paho):
``SINK_TURNS`` turns of the loop, in which aiomqtt's socket writer runs, then, if the
socket is still full, until paho's ``on_publish`` says the chunk is written.

paho's own ``publish`` was then most of the sink: ~13 us of CPU a QoS 0 message over MQTT 5
(7-9 us over 3.1.1) for topic checks, a mid, an info, the packet built in a bytearray, the
expiry property packed every time and a queue entry, after a chunk's packets had already
been joined into one ``send()`` (one each was 24 us a message).  Now a chunk's first
message alone goes through ``paho.publish``; the others are encoded by the sink
(``encode_qos0``, gateway/publish/packets.py, held to paho's own bytes) and joined to its
queued packet (``join_queued``): ~1.05 us of CPU a message, against 13 us (a 256-message
chunk of fused states, no socket, medians).  Measured alternately with the code before
(five runs each, medians, a shared and noisy machine): the sink alone (50,000 messages
into Mosquitto) 61,800 -> 116,700 messages/s; the latency at the live rate, p99 36.0 ->
19.7 ms for the whole run, 25.2 -> 17.9 ms for the first 10 s, 32.7 -> 18.0 ms steady.
A replay at ``max`` into Mosquitto sends ~27,000 messages in its 10-20 s, so this saves
it ~0.3 s of CPU: within the noise of those runs (10,570 -> 11,780 plots+tracks per CPU
second, and wall-clock rates that varied by half for the same code).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.config import MqttConfig, MqttUrl
from gateway.publish.nodes import BACKOFF_MIN, Nodes
from gateway.publish.outbox import Outbox
from gateway.publish.packets import encode_qos0
from gateway.publish.topics import Outbound

log = logging.getLogger(__name__)

BATCH = 256  # QoS 0 messages handed to paho before waiting for the socket write
# Loop turns (``sleep(0)``, no timer) a QoS 0 chunk is given to reach the socket before the
# sink waits for paho's ``on_publish`` instead.  A 0.5 ms timer per chunk let the pipeline
# run its next chunk in between: a cycle's burst waited behind it (issue 16).
SINK_TURNS = 8
RELIABLE_WINDOW = 32  # QoS 1 messages in flight at once
SESSION_EXPIRY_S = 3600  # how long the broker keeps the session of a gateway that is away
PUBLISH_TIMEOUT_S = 5.0  # a publish not confirmed by then means the connection is gone
NO_SUBSCRIBERS = 16  # MQTT 5 PUBACK: accepted, but nobody subscribes to the topic
REFUSED = 128  # MQTT 5 PUBACK codes from here on are errors (135: not authorized)
WARN_EVERY_S = 60.0  # one log line per topic and reason code per minute, at most
STOP_GRACE_S = 2.0  # after the drain deadline, how long a silent broker may hold the stop


def client_options(config: MqttConfig, broker: MqttUrl | None = None) -> dict[str, Any]:
    """What every client of this project takes from [mqtt]: where (``broker``, one of a
    cluster's nodes; by default the first), who, which protocol, TLS.  (The sink adds its
    session, will and flow control; subscribers need no more.)"""
    broker = broker or config.broker
    return {
        "hostname": broker.host, "port": broker.port,
        "username": config.username, "password": config.password,
        "protocol": (aiomqtt.ProtocolVersion.V5 if config.protocol == "5"
                     else aiomqtt.ProtocolVersion.V311),
        "tls_params": aiomqtt.TLSParameters(ca_certs=config.ca_file) if broker.tls else None,
    }


class MqttSink:
    """One broker connection at a time, forever, until ``stopping`` is set and drained.

    ``status(state)`` makes the gateway's status message; ``latency(seconds)`` is told, for
    each message that carries a receive time, how long it took from datagram to broker.
    """

    def __init__(self, config: MqttConfig, outbox: Outbox, *, client_id: str,
                 status: Callable[[str], Outbound],
                 latency: Callable[[float], None] | None = None,
                 drain_timeout_s: float = 10.0, backoff_min_s: float = BACKOFF_MIN,
                 publish_timeout_s: float = PUBLISH_TIMEOUT_S,
                 subscriptions: tuple[str, ...] = (),
                 on_message: Callable[[str, bytes], object] | None = None,
                 gate: Callable[[], bool] | None = None) -> None:
        """``gate``: while it says False, no connection is made (a redundant pair's
        process that is not active: it shares the client id with the active one, and
        connecting would take the broker's session from it)."""
        self.config = config
        self.gate = gate
        # The nodes of the broker (one, or a cluster's): connected to one at a time, the
        # next one round robin whenever a connection fails or drops (``failovers`` counts
        # the connections made to a node other than the last one connected to).
        self.nodes = Nodes(config.brokers, backoff_min_s=backoff_min_s)
        self.outbox = outbox
        self.client_id = config.client_id or client_id
        self.status = status
        self.latency = latency
        self.drain_timeout_s = drain_timeout_s
        self.publish_timeout_s = publish_timeout_s
        self.v5 = config.protocol == "5"
        self.subscriptions = subscriptions  # QoS 1: the peers' AIDC answers
        self.on_message = on_message
        self.connected = False  # and subscribed
        self.closing = False  # stopping, drained: inbound messages are no longer taken
        self.down_since: float | None = time.monotonic()  # not connected since (monotonic)
        self.problem: str | None = None  # why the broker will not have us, while it will not
        self.counters: Counter[str] = Counter()
        # PUBACK reason codes by topic kind (aidc, alerts, status, ...) and code
        self.pubacks: Counter[tuple[str, int]] = Counter()
        self._prefix_levels = config.topic_prefix.count("/") + 1
        self._acks: dict[int, asyncio.Future[int]] = {}
        self._written: dict[int, asyncio.Future[int]] = {}  # QoS 0 chunks' last messages
        self._warned: dict[tuple[str, int], tuple[float, int]] = {}
        self.wakeup = asyncio.Event()
        self.reliable_wakeup = asyncio.Event()
        # Set whenever messages have gone to the broker: a replay waiting for the outbox to
        # drain (``Service._wait_for_broker``) goes on at once, not at its next poll.
        self.progress = asyncio.Event()
        self._expiry: dict[int, Properties] = {}
        self._blocks: dict[int | None, bytes] = {}  # encode_qos0's property blocks
        self._deadline: float | None = None

    def notify(self) -> None:
        """Something was put in the outbox."""
        self.wakeup.set()
        self.reliable_wakeup.set()

    @property
    def node(self) -> int:
        """The node connected to, or being tried (an index into ``[mqtt] urls``)."""
        return self.nodes.index

    @property
    def broker(self) -> MqttUrl:
        return self.nodes.current

    @property
    def where(self) -> str:
        return self.nodes.where

    def _client(self) -> aiomqtt.Client:
        will = self.status("offline")
        # With subscriptions (the peers' AIDC answers) the session outlives the connection,
        # and the process: the broker keeps what the peers send while the gateway is away
        # or restarting, and delivers it when it is back.
        persistent = bool(self.subscriptions)
        properties = None
        if self.v5:
            properties = Properties(PacketTypes.CONNECT)
            properties.MaximumPacketSize = self.config.max_packet_bytes
            if persistent:
                properties.SessionExpiryInterval = SESSION_EXPIRY_S
        client = aiomqtt.Client(
            **client_options(self.config, self.broker),
            identifier=self.client_id,
            will=aiomqtt.Will(will.topic, will.payload, qos=1, retain=True),
            keepalive=self.config.keepalive_s,
            timeout=self.publish_timeout_s,
            max_inflight_messages=RELIABLE_WINDOW,
            logger=log,
            clean_session=None if self.v5 else not persistent,
            clean_start=False if self.v5 and persistent else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )
        # aiomqtt warns on every publish beyond 10 pending; we mean to have BATCH pending.
        client.pending_calls_threshold = BATCH + RELIABLE_WINDOW + 1
        paho = getattr(client, "_client", None)
        if isinstance(paho, mqtt.Client):
            self._acks.clear()  # a fresh session: no PUBACK of the old one will come
            self._written.clear()
            inner: Callable[..., None] | None = paho.on_publish  # aiomqtt's (paho API 2)

            def on_publish(c: mqtt.Client, userdata: Any, mid: int, reason: Any,
                           properties: Any) -> None:
                for waiting in (self._acks, self._written):
                    ack = waiting.pop(mid, None)
                    if ack is not None and not ack.done():
                        ack.set_result(_code(reason))
                if inner is not None:
                    inner(c, userdata, mid, reason, properties)

            paho.on_publish = on_publish
        return client

    async def run(self, stopping: asyncio.Event) -> None:
        """Connected, reconnecting, until ``stopping`` and drained, or the stop deadline:
        ``drain_timeout_s`` + ``STOP_GRACE_S`` after ``stopping`` at most, whatever the
        broker does (a broker that is connected but silent held a stop for 18 s)."""
        work = asyncio.ensure_future(self._connection(stopping))
        try:
            await _wait(stopping, None, done=work)
            if not work.done():
                await asyncio.wait([work], timeout=self.drain_timeout_s + STOP_GRACE_S)
            if not work.done():
                while not work.done():  # aiomqtt's goodbye waits for an answer: insist
                    work.cancel()
                    await asyncio.wait([work], timeout=0.5)
                self.connected = False
                self._give_up("the broker did not take them before the stop deadline")
            if not work.cancelled():
                work.result()
        finally:
            if not work.done():
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)

    async def _connection(self, stopping: asyncio.Event) -> None:
        while True:
            if self.gate is not None and not self.gate():
                self.counters["connect-gated"] += 1
                log.warning("MQTT: not connecting: this process is no longer active")
                return
            client = self._client()
            try:
                async with session(client, self.config.connect_timeout_s,
                                   self.publish_timeout_s):
                    await self._subscribe(client)
                    self.connected = True
                    self.down_since = None
                    self.problem = None
                    self.counters["connects"] += 1
                    if self.nodes.connected():
                        self.counters["failovers"] += 1
                        log.warning("MQTT failed over to %s (node %d of %d); %d QoS 1 "
                                    "messages waiting, the unacknowledged ones first",
                                    self.where, self.node + 1, len(self.nodes),
                                    len(self.outbox.reliable))
                    log.info("MQTT connected to %s as %s (MQTT %s)%s", self.where,
                             self.client_id, self.config.protocol,
                             f", subscribed to {len(self.subscriptions)} topics"
                             if self.subscriptions else "")
                    self.outbox.put([self.status("online")])
                    self.notify()
                    await self._pump(client, stopping)
                    # From here no inbound message is taken (its answer could not go out,
                    # and an answer left in the outbox would be counted undelivered): the
                    # peer sends it again for want of a LAM.  What was handled up to now
                    # has its answers in the outbox, sent before the goodbye.
                    self.closing = True
                    if len(self.outbox):
                        await self._pump(client, stopping)
                    await client.publish(*self._args(self.status("offline")))
                    self.connected = False
                    log.info("MQTT: outbox drained, offline status sent, disconnecting")
                    return
            except (aiomqtt.MqttError, TimeoutError, OSError) as exc:
                # After a failed or dropped connection: the next of a cluster's nodes.  What
                # the dead node had not acknowledged is still in the outbox's QoS 1 lane
                # (acknowledged only on PUBACK), so it goes to the next node first;
                # subscriptions are made again there (``_subscribe``), and with a persistent
                # session the cluster's shared session store still has what arrived for us
                # meanwhile.
                failed, delay = self.where, self.nodes.failed()
                if self.down_since is None:
                    self.down_since = time.monotonic()
                if self.connected:
                    self.counters["disconnects"] += 1
                    log.warning("MQTT connection to %s lost: %s; %s in %.1f s", failed,
                                _why(exc), self.nodes.next_attempt, delay)
                else:
                    self.counters["connect-failures"] += 1
                    log.warning("MQTT cannot connect to %s: %s; %s in %.1f s", failed,
                                _why(exc), self.nodes.next_attempt, delay)
                self.connected = False
                _retrieve_disconnect(client)
            except _Abandon:
                self.connected = False
                return
            if self._out_of_time(stopping):
                return
            if self._deadline is not None:
                delay = min(delay, max(self._deadline - time.monotonic(), 0.0))
            if stopping.is_set():
                await asyncio.sleep(delay)  # still trying to drain, until the deadline
            else:
                await _wait(stopping, delay)

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        """Subscribe (again: the broker may have lost the session) and wait for every
        SUBACK; a refused subscription is a failed connection (retried, and shown on
        /health), never a gateway that looks connected but hears nothing.  Inbound messages
        go from paho's receive callback straight to ``on_message``."""
        if not self.subscriptions or self.on_message is None:
            return
        paho = getattr(client, "_client", None)
        if not isinstance(paho, mqtt.Client):
            raise TypeError("aiomqtt no longer has its paho client as _client")
        paho.on_message = self._received
        granted = await asyncio.gather(*(client.subscribe(topic, qos=1)
                                         for topic in self.subscriptions))
        for topic, codes in zip(self.subscriptions, granted, strict=True):
            refused = [code for code in map(_code, codes) if code >= 0x80]
            if refused:
                self.counters["subscribe-refused"] += 1
                self.problem = f"broker refused the subscription to {topic} (reason {refused[0]})"
                raise aiomqtt.MqttError(self.problem)

    def _received(self, _client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        """paho's receive callback (in the event loop's reader): never raises into paho,
        never waits."""
        try:
            if self.closing:
                self.counters["inbound-at-stop"] += 1
                return
            if message.retain:
                self.counters["inbound-retained"] += 1
                return
            payload = message.payload
            if len(payload) > self.config.max_packet_bytes:
                self.counters["inbound-oversize"] += 1
                return
            self.counters["received"] += 1
            if message.dup:  # the broker sending it again: the first copy may have come
                self.counters["redelivered"] += 1  # (handled again: AIDC knows its serials)
            if self.on_message is not None:
                self.on_message(message.topic, bytes(payload))
            self.notify()
        except Exception as exc:  # noqa: BLE001 - the connection must go on; say why
            self.counters["inbound-errors"] += 1
            log.error("MQTT: inbound message on %r not taken: %r", message.topic, exc,
                      exc_info=self.counters["inbound-errors"] == 1)

    def _out_of_time(self, stopping: asyncio.Event) -> bool:
        """Stopping and past the drain deadline: what is still queued is counted as lost."""
        if not stopping.is_set():
            return False
        if self._deadline is None:
            self._deadline = time.monotonic() + self.drain_timeout_s
        if time.monotonic() < self._deadline:
            return False
        self._give_up(f"not drained within {self.drain_timeout_s:g} s")
        return True

    def _give_up(self, why: str) -> None:
        """What is still in the outbox will not be sent: counted, and said once."""
        left = len(self.outbox)
        if left and not self.counters["dropped-at-exit"]:
            self.counters["dropped-at-exit"] += left
            log.error("MQTT: stopping with %d messages unsent (%s: %s)", left, self.where, why)

    def _args(self, m: Outbound) -> tuple[str, bytes, int, bool, Properties | None]:
        props = None
        if self.v5 and m.expiry_s is not None:
            props = self._expiry.get(m.expiry_s)
            if props is None:
                props = self._expiry[m.expiry_s] = Properties(PacketTypes.PUBLISH)
                props.MessageExpiryInterval = m.expiry_s
        return m.topic, m.payload, m.qos, m.retain, props

    async def _pump(self, client: aiomqtt.Client, stopping: asyncio.Event) -> None:
        """Both lanes at once: QoS 1 messages wait for their PUBACKs without holding up the
        QoS 0 stream (which measured 40 ms behind them otherwise).  Returns when stopping
        and both are drained; raises as soon as either fails."""
        lanes = [asyncio.create_task(self._lane(client, stopping, reliable=True)),
                 asyncio.create_task(self._lane(client, stopping, reliable=False))]
        watch = asyncio.create_task(_disconnection(client))
        try:
            waiting = {*lanes, watch}
            while not all(lane.done() for lane in lanes):
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # a lane's error, or the watch's: the connection is gone
        finally:
            for task in (*lanes, watch):
                task.cancel()
            await asyncio.gather(*lanes, watch, return_exceptions=True)

    async def _lane(self, client: aiomqtt.Client, stopping: asyncio.Event,
                    reliable: bool) -> None:
        outbox = self.outbox
        wakeup = self.reliable_wakeup if reliable else self.wakeup
        while True:
            if self._out_of_time(stopping):
                raise _Abandon
            if reliable:
                head = outbox.reliable_head(RELIABLE_WINDOW)
                if head:
                    codes = await self._publish_reliable(client, head)
                    outbox.acknowledge(head)  # accepted, or refused for good: dropped
                    self._sent([m for m, code in zip(head, codes, strict=True)
                                if code < REFUSED])
                    self._answered(head, codes)
                    continue
            else:
                batch = outbox.take(BATCH)
                if batch:
                    try:
                        await self._publish_batch(client, batch)
                    except BaseException:
                        outbox.give_back(batch)
                        raise
                    self._sent(batch)
                    continue
            if stopping.is_set():
                return
            wakeup.clear()
            await _wait(stopping, None, wakeup)

    async def _publish_batch(self, client: aiomqtt.Client, batch: list[Outbound]) -> None:
        paho = getattr(client, "_client", None)
        if not isinstance(paho, mqtt.Client):
            await asyncio.gather(*(client.publish(*self._args(m)) for m in batch))
            return
        if any(m.qos for m in batch):  # a status among the states: hear its PUBACK
            codes = await self._publish_reliable(client, batch)
            self._answered(*zip(*((m, c) for m, c in zip(batch, codes, strict=True)
                                  if m.qos), strict=True))
            return
        last = self._publish_qos0(paho, batch)
        if last is None or last.is_published():
            return
        written: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._written[last.mid] = written  # settled by on_publish once it is on the socket
        try:
            for _ in range(SINK_TURNS):  # aiomqtt's writer runs within a turn or two
                await asyncio.sleep(0)
                if last.is_published():
                    return
            try:
                async with asyncio.timeout(self.publish_timeout_s):
                    await written
            except TimeoutError:
                raise TimeoutError("QoS 0 batch not written to the broker's socket") from None
        finally:
            self._written.pop(last.mid, None)
            written.cancel()

    def _publish_qos0(self, paho: mqtt.Client,
                      batch: list[Outbound]) -> mqtt.MQTTMessageInfo | None:
        """Hand a QoS 0 chunk to paho: the first message through ``paho.publish``, the rest
        encoded (``encode_qos0``) and joined to its queued packet (``join_queued``).  The
        info to wait on (written once the chunk is), None for an empty chunk.  When the rest
        cannot be encoded (paho would refuse one: it then raises, as it always did) or
        joined, each goes through ``paho.publish`` after the first, so still in order, and
        paho writes them one ``send()`` each: slower, never lost."""
        if not batch:
            return None
        info = self._publish_one(paho, batch[0])
        rest = batch[1:]
        if not rest:
            return info
        more = encode_qos0(rest, self.v5, self._blocks)
        if more is not None and join_queued(paho, info, more):
            return info
        for m in rest:
            info = self._publish_one(paho, m)
        return info

    def _publish_one(self, paho: mqtt.Client, m: Outbound) -> mqtt.MQTTMessageInfo:
        info = paho.publish(*self._args(m))
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        return info

    async def _publish_reliable(self, client: aiomqtt.Client,
                                head: list[Outbound]) -> list[int]:
        """Send a window of QoS 1 messages; their PUBACK reason codes, in order (a QoS 0
        one among them: 0 once written).  Raises (the connection is gone) when one cannot
        be sent or is not answered in time.  paho calls ``on_publish`` only from the event
        loop's socket callbacks (aiomqtt registers them), so never before ``publish``
        has returned the mid that the answer is filed under."""
        paho = getattr(client, "_client", None)
        if not isinstance(paho, mqtt.Client):  # not aiomqtt's paho: no codes to be had
            await asyncio.gather(*(client.publish(*self._args(m)) for m in head))
            return [0] * len(head)
        loop = asyncio.get_running_loop()
        acks: list[asyncio.Future[int]] = []
        runs: list[int] = []  # how many messages of ``head`` each of ``acks`` answers for
        try:
            i = 0
            while i < len(head):
                # A run of QoS 0 messages (fused states around a registration or a status)
                # goes as one joined chunk (``_publish_qos0``), answered when its last byte
                # is written; each went through ``paho.publish`` before, ~40 us a message
                # with its own send() (issue 16).  paho writes its queue in order, so the
                # messages keep theirs.
                j = i
                while j < len(head) and not head[j].qos:
                    j += 1
                if j > i:
                    info = self._publish_qos0(paho, head[i:j])
                else:
                    j = i + 1
                    info = self._publish_one(paho, head[i])
                if info is None:  # an empty run: never
                    raise RuntimeError("no message published")
                ack: asyncio.Future[int] = loop.create_future()
                if info.is_published():
                    ack.set_result(0)
                else:
                    self._acks[info.mid] = ack
                acks.append(ack)
                runs.append(j - i)
                i = j
            async with asyncio.timeout(self.publish_timeout_s):
                codes = await asyncio.gather(*acks)
            return [code for code, n in zip(codes, runs, strict=True) for _ in range(n)]
        finally:
            for ack in acks:
                ack.cancel()  # no-op once answered; a timed-out one is not waited for

    def _answered(self, head: Sequence[Outbound], codes: Sequence[int]) -> None:
        """Count each PUBACK's code by topic kind; say when nobody listens or the broker
        refuses (rate-limited: a refused flood is one line a minute, all of it counted)."""
        for m, code in zip(head, codes, strict=True):
            kind = self.kind(m.topic)
            self.pubacks[kind, code] += 1
            if code >= REFUSED:
                self.counters["dropped-refused"] += 1
                self._say(logging.ERROR, m.topic, code,
                          "MQTT: the broker refused a QoS 1 message on %s (reason code %d%s); "
                          "dropped, not retried")
            elif code == NO_SUBSCRIBERS and kind in ("aidc", "alerts"):
                self._say(logging.WARNING, m.topic, code,
                          "MQTT: nobody subscribes to %s (PUBACK reason code %d%s): "
                          "the broker accepted the message but delivers it to no one")

    def _say(self, level: int, topic: str, code: int, text: str) -> None:
        now = time.monotonic()
        last, quiet = self._warned.get((topic, code), (-WARN_EVERY_S, 0))
        if now - last < WARN_EVERY_S:
            self._warned[topic, code] = (last, quiet + 1)
            return
        if len(self._warned) > 1000:  # topics come from the traffic: keep this bounded
            self._warned.clear()
        self._warned[topic, code] = (now, 0)
        more = f"; {quiet} more since the last report" if quiet else ""
        log.log(level, text, topic, code, more)

    def kind(self, topic: str) -> str:
        """The topic's kind, its first level under the prefix (``aidc``, ``alerts``...)."""
        levels = topic.split("/")
        return levels[self._prefix_levels] if len(levels) > self._prefix_levels else topic

    def _sent(self, messages: list[Outbound]) -> None:
        self.counters["published"] += len(messages)
        self.progress.set()
        if self.latency is not None:
            now = time.time()
            for m in messages:
                if m.received is not None:
                    self.latency(now - m.received)


def join_queued(paho: mqtt.Client, info: mqtt.MQTTMessageInfo, more: bytes) -> bool:
    """Append ``more`` (whole QoS 0 PUBLISH packets, ``encode_qos0``) to the packet that the
    ``paho.publish`` returning ``info`` just queued, so that paho writes them right after
    it, in the same ``send()``: one real publish carries a chunk.  paho builds and queues
    each packet itself at ~13 us a message, and writes each with its own ``send()`` and its
    own ``on_publish`` (a ReasonCode and a Properties made for each): 35-50 us a message,
    up to 13 ms for a 256-message chunk, before (issue 16).

    paho has no public way to do this, so this is the one place that touches its internals:
    the queue ``_out_packet`` of packet dicts (``command``, ``mid``, ``qos``, ``pos``,
    ``to_process``, ``packet``, ``info``).  The joined packet keeps the published message's
    mid and info, so paho's own writer still handles partial writes, a full socket and a
    lost connection, and still says when the last byte of it is written (``on_publish`` for
    its mid, ``is_published()``) -- which is all the sink waits for.  The joined messages
    have no mid or info: nothing waits on them (QoS 0 has no acknowledgement and paho keeps
    no other state for them).  Anything unexpected (that packet not at the queue's tail,
    begun or already written, not a QoS 0 PUBLISH, the queue not a deque of dicts) leaves
    the queue as it was and says False: the caller then publishes the rest through paho.
    tests/test_mqtt_packets.py fails if paho's queue changes underneath."""
    queue = getattr(paho, "_out_packet", None)
    if not isinstance(queue, deque) or not queue:
        return False
    packet = queue[-1]
    if not (isinstance(packet, dict) and packet.get("info") is info
            and packet.get("qos") == 0 and packet.get("pos") == 0
            and packet.get("command", 0) & 0xF0 == mqtt.PUBLISH
            and isinstance(packet.get("packet"), bytes | bytearray)
            and packet.get("to_process") == len(packet["packet"])):
        return False
    joined = bytes(packet["packet"]) + more
    queue[-1] = {**packet, "packet": joined, "to_process": len(joined)}
    return True


def _code(reason: Any) -> int:
    """A PUBACK's or SUBACK's reason code as a number: paho gives a ReasonCode (MQTT 5) or
    an int (a 3.1.1 SUBACK's granted QoS; a 3.1.1 PUBACK always says 0)."""
    value = getattr(reason, "value", reason)
    return value if isinstance(value, int) else 0


@asynccontextmanager
async def session(client: aiomqtt.Client, connect_timeout_s: float,
                  timeout_s: float) -> AsyncIterator[aiomqtt.Client]:
    """``async with client``, with the connection attempt bounded by ``connect_timeout_s``.

    aiomqtt connects in two steps, each with its own wait: paho's TCP connect in an
    executor thread (paho's ``connect_timeout``, 5 s by default) and then the CONNACK
    (aiomqtt's ``timeout``, which is also how long each later request may take).  A node
    of a cluster that is paused while JetStream elects leaders accepts the TCP connection
    and sends no CONNACK: both are bounded here by ``connect_timeout_s``, then
    ``timeout_s`` is the client's for the rest of the session.  A connection attempt that
    fails has its socket closed: aiomqtt leaves it open, and a CONNACK arriving later on it
    could give that abandoned connection the client id (and the session) on its node,
    taking them from the connection made meanwhile to the next node.  When the session
    ends in an error, the goodbye (a DISCONNECT, and the wait for the socket to close) is
    bounded by ``connect_timeout_s`` too: a node that stopped answering does not hold the
    failover for another ``timeout_s``."""
    paho = getattr(client, "_client", None)
    if isinstance(paho, mqtt.Client):
        paho.connect_timeout = connect_timeout_s
    client.timeout = connect_timeout_s
    try:
        await client.__aenter__()
    except BaseException:
        _close_socket(paho)
        raise
    client.timeout = timeout_s
    try:
        yield client
    except BaseException as exc:
        client.timeout = connect_timeout_s
        try:  # what ended the session is what the caller hears, not the goodbye's failure
            with suppress(aiomqtt.MqttError, TimeoutError, OSError):
                await client.__aexit__(type(exc), exc, exc.__traceback__)
        finally:
            _close_socket(paho)
        raise
    await client.__aexit__(None, None, None)


def _close_socket(paho: object) -> None:
    """Close paho's socket, if it has one open (through paho, so that aiomqtt's
    ``on_socket_close`` unregisters it from the event loop and ends its misc task)."""
    close = getattr(paho, "_sock_close", None)
    if getattr(paho, "_sock", None) is not None and callable(close):
        close()


def _why(exc: BaseException) -> str:
    """An exception as a log line says it (a bare TimeoutError has no text)."""
    return str(exc) or type(exc).__name__


async def _disconnection(client: aiomqtt.Client) -> None:
    """Raises once the connection is lost.  With nothing to send, the lanes sit waiting
    for work and would never notice: a broker killed while the gateway was quiet left it
    "connected" (and /health ok) until its next publish, 30 s and more.  paho's keepalive
    does notice, and aiomqtt then settles this future."""
    disconnected = getattr(client, "_disconnected", None)
    if not isinstance(disconnected, asyncio.Future):
        await asyncio.Event().wait()  # not aiomqtt's future: the lanes' errors still tell
        return
    await asyncio.shield(disconnected)
    raise aiomqtt.MqttError("disconnected")


def _retrieve_disconnect(client: aiomqtt.Client) -> None:
    """aiomqtt leaves the reason of an unexpected disconnection in a future that nobody
    awaits once the context has exited, and asyncio then logs "Future exception was never
    retrieved" at garbage collection: we have logged the reason already, so consume it."""
    disconnected = getattr(client, "_disconnected", None)
    if isinstance(disconnected, asyncio.Future) and disconnected.done():
        if not disconnected.cancelled():
            disconnected.exception()


class _Abandon(Exception):
    """Stopping, and the drain deadline passed."""


async def _wait(stopping: asyncio.Event, timeout: float | None,
                other: asyncio.Event | None = None,
                done: asyncio.Future[None] | None = None) -> None:
    """Until ``stopping`` (or ``other``) is set, ``done`` is done, or ``timeout`` passes."""
    waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(stopping.wait())]
    if other is not None:
        waits.append(asyncio.ensure_future(other.wait()))
    if done is not None:
        waits.append(asyncio.ensure_future(asyncio.shield(done)))
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
