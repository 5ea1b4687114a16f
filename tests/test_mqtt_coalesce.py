"""The sink's one reach into paho's internals (``coalesce_queued``): a QoS 0 chunk's packets
joined into one socket write.  These fail if paho's packet queue changes underneath (the
join would then silently stop, or lose messages), against a real Mosquitto (conftest.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import paho.mqtt.client as mqtt
from test_service_mqtt import client

from gateway.publish.mqtt import coalesce_queued


def _paho(c: Any) -> mqtt.Client:
    paho = c._client
    assert isinstance(paho, mqtt.Client)
    return paho


def test_a_chunk_is_one_queued_packet_and_every_message_arrives_in_order(
        mosquitto: Any) -> None:
    async def main() -> list[bytes]:
        got: list[bytes] = []
        async with client(mosquitto.port) as sub, client(mosquitto.port) as pub:
            await sub.subscribe("c/#", qos=0)
            paho = _paho(pub)
            before = len(paho._out_packet)
            infos = [paho.publish(f"c/{i % 7}", b"m%d" % i, qos=0) for i in range(300)]
            assert all(info.rc == mqtt.MQTT_ERR_SUCCESS for info in infos)
            assert len(paho._out_packet) == before + 300  # queued, not yet written
            assert coalesce_queued(paho, infos)
            assert len(paho._out_packet) == before + 1
            async with asyncio.timeout(10):
                while not infos[-1].is_published():  # paho's writer says it is written
                    await asyncio.sleep(0.001)
                async for m in sub.messages:
                    got.append(bytes(m.payload))  # type: ignore[arg-type]
                    if len(got) == 300:
                        break
        return got

    assert asyncio.run(main()) == [b"m%d" % i for i in range(300)]


def test_packets_not_all_ours_untouched_at_the_tail_are_left_to_paho(mosquitto: Any) -> None:
    """A QoS 1 message queued among them, or a chunk already partly written: no join."""
    async def main() -> None:
        async with client(mosquitto.port) as pub:
            paho = _paho(pub)
            ours = [paho.publish("c/a", b"x", qos=0) for _ in range(3)]
            reliable = paho.publish("c/b", b"y", qos=1)
            queue = list(paho._out_packet)
            assert not coalesce_queued(paho, ours)  # not at the tail
            assert not coalesce_queued(paho, [*ours[1:], reliable])  # a QoS 1 among them
            assert list(paho._out_packet) == queue
            more = [paho.publish("c/a", b"z", qos=0) for _ in range(2)]
            paho._out_packet[-2]["pos"] = 1  # as if the writer had begun on it
            paho._out_packet[-2]["to_process"] -= 1
            assert not coalesce_queued(paho, more)
            paho._out_packet[-2]["pos"] = 0
            paho._out_packet[-2]["to_process"] += 1
            assert coalesce_queued(paho, more)
            await asyncio.wait_for(asyncio.to_thread(reliable.wait_for_publish, 5), 10)
            assert reliable.is_published()

    asyncio.run(main())
