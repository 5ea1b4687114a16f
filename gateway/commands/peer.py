"""``asterix-gateway peer --config FILE --unit ID``: a simulated neighbouring unit.

It subscribes to the AIDC messages addressed to its unit and answers them over MQTT as the
accepting unit (``gateway/handoff/peer.py``): LAM, ACP, AOC; optionally it refuses every
Nth offer (``--reject-every``), answers late (``--delay``) or ignores a message type.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Iterable

import aiomqtt

from gateway.commands import UsageError, positive
from gateway.commands.service import broker_config, load_config
from gateway.config import MqttConfig
from gateway.handoff.peer import Peer
from gateway.messages import Aidc, MessageError, decode, encode
from gateway.publish.mqtt import client_options
from gateway.publish.topics import Topics
from gateway.service.logs import setup_logging
from gateway.service.shell import stopped_by_signals

log = logging.getLogger("gateway.peer")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, metavar="FILE.toml")
    p.add_argument("--unit", required=True, metavar="ID[,ID...]",
                   help="the unit (or units) to play, e.g. KZAB")
    p.add_argument("--broker", metavar="mqtt://HOST[:PORT]", help="instead of [mqtt] url")
    p.add_argument("--reject-every", type=int, default=0, metavar="N",
                   help="answer every Nth offer (EST, CPL) with REJ")
    p.add_argument("--delay", type=positive("--delay", "seconds", 3600), default=None,
                   metavar="S", help="answer S seconds late")
    p.add_argument("--ignore", default="", metavar="TYPES",
                   help="message types to leave unanswered, e.g. TOC,EST")
    p.add_argument("--lam-timeout", type=positive("--lam-timeout", "seconds", 3600),
                   default=30.0, metavar="S",
                   help="send an answer again when its LAM has not come in S seconds")


async def answer(mqtt: MqttConfig, peers: Iterable[Peer], prefix: str, stopping: asyncio.Event,
                 delay: float | None = None) -> None:
    """Play ``peers`` on the broker until ``stopping``; reconnects when the broker drops."""
    by_unit = {p.unit: p for p in peers}
    topics = Topics(prefix)
    while not stopping.is_set():
        try:
            async with aiomqtt.Client(**client_options(mqtt)) as client:
                for unit in by_unit:
                    await client.subscribe(topics.aidc("+", unit), qos=1)
                log.info("peer %s answering on %s", ", ".join(by_unit), mqtt.url)
                tasks = [asyncio.create_task(_serve(client, by_unit, topics, delay)),
                         asyncio.create_task(_resend(client, by_unit, topics)),
                         asyncio.create_task(stopping.wait())]
                try:
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in tasks:
                        task.cancel()
                    failed = await asyncio.gather(*tasks, return_exceptions=True)
                for result in failed:
                    if isinstance(result, aiomqtt.MqttError):
                        raise result
        except aiomqtt.MqttError as exc:
            log.warning("peer: MQTT %s: %s; retrying", mqtt.url, exc)
            try:
                await asyncio.wait_for(stopping.wait(), 1.0)
            except TimeoutError:
                pass


async def _serve(client: aiomqtt.Client, by_unit: dict[str, Peer], topics: Topics,
                 delay: float | None) -> None:
    async for message in client.messages:
        payload = message.payload
        try:
            m = decode(payload if isinstance(payload, (bytes, bytearray)) else b"")
        except MessageError as exc:
            log.warning("peer: not a valid message on %s: %s", message.topic, exc)
            continue
        if not isinstance(m, Aidc) or m.to not in by_unit:
            continue
        if delay:
            await asyncio.sleep(delay)
        for reply in by_unit[m.to].receive(m, time.time()):
            await client.publish(topics.aidc(reply.from_, reply.to), encode(reply), qos=1)


async def _resend(client: aiomqtt.Client, by_unit: dict[str, Peer],
                  topics: Topics) -> None:
    """Once a second: answers whose LAM did not come, sent again."""
    while True:
        await asyncio.sleep(1.0)
        for peer in by_unit.values():
            for reply in peer.tick(time.time()):
                await client.publish(topics.aidc(reply.from_, reply.to), encode(reply),
                                     qos=1)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    setup_logging(args.log_format, args.log_level)
    mqtt = broker_config(config, args.broker)
    if mqtt is None:
        raise UsageError(f"{args.config}: no [mqtt] section and no --broker")
    units = [u for u in args.unit.split(",") if u]
    for unit in units:
        if config.handoff is None or unit not in config.handoff.peers:
            raise UsageError(f"--unit {unit}: not a peer in [handoff] of {args.config}")
    ignore = frozenset(t for t in args.ignore.split(",") if t)
    peers = [Peer(u, reject_every=args.reject_every, ignore=ignore,
                  lam_timeout_s=args.lam_timeout) for u in units]

    async def main() -> None:
        stopping = asyncio.Event()
        with stopped_by_signals(stopping):
            await answer(mqtt, peers, mqtt.topic_prefix, stopping, args.delay)

    asyncio.run(main())
    for peer in peers:
        counts = " ".join(f"{k}={v}" for k, v in sorted(peer.counters.items()))
        print(f"peer {peer.unit}: {counts or 'no messages'}", file=sys.stderr)
    return 0
