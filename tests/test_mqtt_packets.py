"""A QoS 0 chunk as one real ``paho.publish`` carrying the rest of the chunk's packets,
encoded by ``encode_qos0`` and joined to its queued packet (``join_queued``, the sink's one
reach into paho's internals).  The encoder is held to paho's own packets to the byte; the
join fails here if paho's packet queue changes underneath (the join would then silently
stop, or lose messages); a subscriber of a real Mosquitto (conftest.py) gets every message
of a chunk as it was put, on MQTT 5 and 3.1.1, joined or not."""

from __future__ import annotations

import asyncio
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from test_service_mqtt import client, retained, run_sink, until

import gateway.publish.mqtt as sink_module
from gateway.publish.mqtt import MqttSink, join_queued
from gateway.publish.outbox import Outbox
from gateway.publish.packets import encode_qos0
from gateway.publish.topics import Outbound


def _paho(c: Any) -> mqtt.Client:
    paho = c._client
    assert isinstance(paho, mqtt.Client)
    return paho


def _paho_packets(messages: list[Outbound], v5: bool) -> list[bytes]:
    """What paho's own ``publish`` (``_send_publish``) queues for each message, captured
    from its packet queue (a client that believes it is connected and writes nothing)."""
    paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                       protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
    paho._sock = object()  # type: ignore[assignment]  # "connected": publish queues
    paho.on_socket_register_write = lambda *_: None  # and leaves the writing to a loop
    packets = []
    for m in messages:
        props = None
        if v5 and m.expiry_s is not None:
            props = Properties(PacketTypes.PUBLISH)
            props.MessageExpiryInterval = m.expiry_s
        assert paho.publish(m.topic, m.payload, m.qos, m.retain, props).rc == 0
        packets.append(bytes(paho._out_packet.pop()["packet"]))
    paho._sock = None
    return packets


def _sized(remaining: int, v5: bool, topic: str = "t/c/size", expiry: int | None = None
           ) -> Outbound:
    """A message whose PUBLISH has exactly this remaining length."""
    props = (6 if expiry is not None else 1) if v5 else 0
    size = remaining - 2 - len(topic.encode()) - props
    return Outbound(topic, bytes(i % 251 for i in range(size)), expiry_s=expiry)


# Remaining lengths at the edges of 1, 2, 3 and 4 varint bytes.
EDGES = (127, 128, 16_383, 16_384, 2_097_151, 2_097_152)


def _messages(v5: bool) -> list[Outbound]:
    return [
        Outbound("t/c/a", b"m0"),
        Outbound("t/c/ended", b"", retain=True, expiry_s=60),  # a fused track's end
        Outbound("t/c/fused/ü✈/𝛼", "Zürich ✈ 𝛼".encode(), retain=True, expiry_s=3600),
        Outbound("t/c/ретейн", b"r", retain=True),
        Outbound("t/c/exp0", b"x", expiry_s=0),
        Outbound("t/c/expmax", b"x", retain=True, expiry_s=0xFFFF_FFFF),
        Outbound("t/c/" + "l" * 65_531, b"longest topic"),
        *(_sized(n, v5) for n in EDGES),
        *(_sized(n, v5, expiry=60) for n in EDGES[:4]),
    ]


@pytest.mark.parametrize("v5", [True, False], ids=["mqtt5", "mqtt311"])
def test_packets_are_paho_s_own_to_the_byte(v5: bool) -> None:
    messages = _messages(v5)
    ours = [encode_qos0([m], v5) for m in messages]
    assert ours == _paho_packets(messages, v5)
    assert encode_qos0(messages, v5, {}) == b"".join(_paho_packets(messages, v5))
    assert [len(p) - len(m.payload) - len(m.topic.encode()) for p, m in
            zip(ours[-10:-4], messages[-10:-4], strict=True)] == [
        (1 if v5 else 0) + 2 + 1 + k for k in (1, 2, 2, 3, 3, 4)]  # the varint's bytes


@pytest.mark.parametrize("message", [
    Outbound("t/+/a", b""), Outbound("t/#", b""), Outbound("", b"x"),
    Outbound("t/" + "l" * 65_534, b""), Outbound("t/\udc80", b""),
    Outbound("t/a", b"", qos=1), Outbound("t/a", "text", expiry_s=1),  # type: ignore[arg-type]
    Outbound("t/a", b"", expiry_s=2**32), Outbound("t/a", b"", expiry_s=-1)],
    ids=["plus", "hash", "empty", "long", "surrogate", "qos1", "str", "expiry", "negative"])
def test_what_paho_would_refuse_is_left_to_paho(message: Outbound) -> None:
    assert encode_qos0([Outbound("t/ok", b"1"), message], True) is None


async def _chunk_through_the_sink(port: int, messages: list[Outbound],
                                  v5: bool) -> list[aiomqtt.Message]:
    """``messages`` put at once (one chunk: at most BATCH) into a sink; what a subscriber
    that was listening before gets, in order."""
    got: list[aiomqtt.Message] = []

    async def body(sink: MqttSink, outbox: Outbox) -> None:
        async with client(port, v5=v5) as sub:
            if v5:  # the retain flag as published (else the broker clears it for us)
                await sub.subscribe("t/c/#", options=SubscribeOptions(
                    qos=0, retainAsPublished=True))
            else:
                await sub.subscribe("t/c/#", qos=0)
            # the "online" status sent first: taken with them, it would make the chunk
            # one to await PUBACKs for (``_publish_reliable``), not one for this path
            await until(lambda: sink.counters["published"] >= 1)
            outbox.put(messages)
            sink.notify()
            async with asyncio.timeout(20):
                async for m in sub.messages:
                    got.append(m)
                    if len(got) == len(messages):
                        break

    await run_sink(port, body, protocol="5" if v5 else "3.1.1")
    return got


def _recording(monkeypatch: pytest.MonkeyPatch, joined: list[bool],
               join: Any = join_queued) -> None:
    def recorded(paho: mqtt.Client, info: mqtt.MQTTMessageInfo, more: bytes) -> bool:
        joined.append(join(paho, info, more))
        return joined[-1]
    monkeypatch.setattr(sink_module, "join_queued", recorded)


def _check(got: list[aiomqtt.Message], messages: list[Outbound], v5: bool) -> None:
    assert [str(m.topic) for m in got] == [m.topic for m in messages]
    assert [bytes(m.payload) for m in got] == [m.payload for m in messages]  # type: ignore
    if v5:
        assert [m.retain for m in got] == [m.retain for m in messages]
        for m, sent in zip(got, messages, strict=True):
            expiry = getattr(m.properties, "MessageExpiryInterval", None)
            if sent.expiry_s is None:
                assert expiry is None
            elif sent.expiry_s == 0:  # sent (the packets are paho's to the byte), but
                assert expiry in (None, 0)  # Mosquitto takes 0 as no expiry, and drops it
            else:  # the broker sends what is left of it: a second may have gone
                assert expiry is not None, sent
                assert sent.expiry_s - 1 <= expiry <= sent.expiry_s, sent


def _broker_messages(v5: bool) -> list[Outbound]:
    """A chunk of 200: multi-byte UTF-8, retained, expiring, and remaining lengths of 1, 2
    and 3 varint bytes (a subscriber's default limits take no more)."""
    special = [m for m in _messages(v5) if len(m.payload) < 1_000_000 and len(m.topic) < 1000]
    plain = [Outbound(f"t/c/{i % 7}", b"m%d" % i, retain=i % 5 == 0,
                      expiry_s=60 if i % 3 == 0 else None) for i in range(200 - len(special))]
    return [*plain[:50], *special, *plain[50:]]


@pytest.mark.parametrize("v5", [True, False], ids=["mqtt5", "mqtt311"])
def test_a_chunk_arrives_whole_and_in_order(mosquitto: Any, monkeypatch: pytest.MonkeyPatch,
                                           v5: bool) -> None:
    messages = _broker_messages(v5)
    joined: list[bool] = []
    _recording(monkeypatch, joined)
    got = asyncio.run(_chunk_through_the_sink(mosquitto.port, messages, v5))
    assert joined == [True], (joined, len(got))  # one paho.publish, 199 joined to it
    _check(got, messages, v5)
    if not v5:  # 3.1.1 subscribers are not told the retain flag live: the broker kept them
        kept = asyncio.run(retained(mosquitto.port, "t/c/#"))
        last = {m.topic: m.payload for m in messages if m.retain}
        assert kept == {t: p for t, p in last.items() if p}  # an empty payload clears


@pytest.mark.parametrize("v5", [True, False], ids=["mqtt5", "mqtt311"])
def test_the_chunk_falls_back_to_paho_when_the_join_is_refused(
        mosquitto: Any, monkeypatch: pytest.MonkeyPatch, v5: bool) -> None:
    """paho's queue not as expected: each message through ``paho.publish``, all delivered."""
    messages = _broker_messages(v5)
    joined: list[bool] = []
    _recording(monkeypatch, joined, join=lambda *_: False)
    got = asyncio.run(_chunk_through_the_sink(mosquitto.port, messages, v5))
    assert joined == [False]
    _check(got, messages, v5)


def test_a_chunk_is_one_queued_packet_and_every_message_arrives_in_order(
        mosquitto: Any) -> None:
    async def main() -> list[bytes]:
        got: list[bytes] = []
        async with client(mosquitto.port) as sub, client(mosquitto.port) as pub:
            await sub.subscribe("c/#", qos=0)
            paho = _paho(pub)
            before = len(paho._out_packet)
            info = paho.publish("c/0", b"m0", qos=0)
            assert info.rc == mqtt.MQTT_ERR_SUCCESS
            assert len(paho._out_packet) == before + 1  # queued, not yet written
            more = encode_qos0([Outbound(f"c/{i % 7}", b"m%d" % i) for i in range(1, 300)],
                               True)
            assert more is not None and join_queued(paho, info, more)
            assert len(paho._out_packet) == before + 1
            async with asyncio.timeout(10):
                while not info.is_published():  # paho's writer says it is all written
                    await asyncio.sleep(0.001)
                async for m in sub.messages:
                    got.append(bytes(m.payload))  # type: ignore[arg-type]
                    if len(got) == 300:
                        break
        return got

    assert asyncio.run(main()) == [b"m%d" % i for i in range(300)]


def test_a_packet_not_ours_untouched_at_the_tail_is_left_to_paho(mosquitto: Any) -> None:
    """A QoS 1 message, one queued after ours, or ours already begun: no join."""
    async def main() -> None:
        async with client(mosquitto.port) as pub:
            paho = _paho(pub)
            more = encode_qos0([Outbound("c/a", b"x")], True)
            assert more is not None
            ours = paho.publish("c/a", b"x", qos=0)
            reliable = paho.publish("c/b", b"y", qos=1)
            queue = list(paho._out_packet)
            assert not join_queued(paho, ours, more)  # not at the tail
            assert not join_queued(paho, reliable, more)  # QoS 1
            assert list(paho._out_packet) == queue
            ours = paho.publish("c/a", b"z", qos=0)
            paho._out_packet[-1]["pos"] = 1  # as if the writer had begun on it
            paho._out_packet[-1]["to_process"] -= 1
            assert not join_queued(paho, ours, more)
            paho._out_packet[-1]["pos"] = 0
            paho._out_packet[-1]["to_process"] += 1
            assert join_queued(paho, ours, more)
            await asyncio.wait_for(asyncio.to_thread(reliable.wait_for_publish, 5), 10)
            assert reliable.is_published()

    asyncio.run(main())
