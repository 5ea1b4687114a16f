"""``asterix-gateway peer --config FILE --unit A[,B...]``: the neighbouring units, played by
the gateway's own handoff engine from the picture the gateway publishes.

It subscribes to the gateway's ``picture`` topic and to the AIDC addressed to its units
(``aidc/+/{unit}``), and runs ``handoff.neighbour.Neighbour``: the engine with the
``--unit`` ids as its units and the config's ``[handoff] units`` as its peers, on the
picture's data clock.  It offers the flights leaving its units and answers for those
entering them; ``--reject-every``, ``--delay``, ``--ignore`` make it a difficult
neighbour for tests.  Its dialogues are kept in ``--store FILE`` (SQLite), saved before
anything they made is published, so a kill -9 loses nothing: a restart takes them up where
they were, and what awaited a LAM is sent again under its serial.

The broker connection is the gateway's own (``publish.mqtt.MqttSink``): reconnects with
back-off, a persistent session under a fixed client id (the broker keeps the AIDC sent to
the peer while it is away), bounded queues.  Hostile payloads are counted and skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from collections import Counter
from contextlib import ExitStack, closing
from typing import Any

from gateway.commands import UsageError, positive
from gateway.commands.service import broker_config, load_config
from gateway.config import Config, MqttConfig
from gateway.handoff.airspace import Airspace
from gateway.handoff.engine import Handoff
from gateway.handoff.neighbour import Neighbour
from gateway.handoff.parameters import HandoffParameters
from gateway.messages import Aidc, Alert, Fused, MessageError, decode, decode_batch
from gateway.publish.batch import Kind, Published
from gateway.publish.mqtt import MqttSink
from gateway.publish.outbox import Outbox
from gateway.publish.topics import Outbound, Topics
from gateway.service.logs import setup_logging
from gateway.service.shell import stopped_by_signals
from gateway.store import HandoffStore, StoreError
from gateway.store.sqlite import SqliteStore

log = logging.getLogger("gateway.peer")

# The largest message the peer takes: a picture (an association cycle's fused updates; the
# first cycles of a busy sky hold hundreds of tracks, 85 KB in the border capture) is far
# larger than the AIDC the gateway's [mqtt] max_packet_bytes is sized for, and a picture
# the broker does not deliver is a cycle of the sky the peer never sees.
PICTURE_MAX_BYTES = 16 * 1024 * 1024


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, metavar="FILE.toml")
    p.add_argument("--unit", required=True, metavar="ID[,ID...]",
                   help="the unit (or units) to play, e.g. KZAB")
    p.add_argument("--broker", metavar="mqtt://HOST[:PORT][,...]",
                   help="instead of [mqtt] url; several: the nodes of a broker cluster")
    p.add_argument("--store", metavar="FILE.sqlite",
                   help="keep the dialogues in this file (default: in memory only)")
    p.add_argument("--reject-every", type=int, default=0, metavar="N",
                   help="answer every Nth offer (EST, CPL) with REJ")
    p.add_argument("--delay", type=positive("--delay", "seconds", 3600), default=None,
                   metavar="S", help="answer S seconds of data time late")
    p.add_argument("--ignore", default="", metavar="TYPES",
                   help="message types to leave unanswered, e.g. TOC,EST")
    p.add_argument("--lam-timeout", type=positive("--lam-timeout", "seconds", 600),
                   default=None, metavar="S",
                   help="send a message again when its LAM has not come in S seconds of "
                   "data time (default: [handoff] lam_timeout_s)")


def neighbour_engine(config: Config, units: list[str], lam_timeout_s: float | None = None,
                     reject_every: int = 0) -> Handoff:
    """The handoff engine for the other side of ``config``'s border: ``units`` (each one
    of its ``[handoff] peers``) are its own, the gateway's units its peers, with the same
    airspace and timing.  Bad usage (a UsageError) if the config has no [handoff] or a
    unit is not one of its peers."""
    h = config.handoff
    if h is None:
        raise UsageError("the config has no [handoff] section: no border to play")
    for unit in units:
        if unit not in h.peers:
            raise UsageError(f"--unit {unit}: not a peer in [handoff] ({', '.join(h.peers)})")
    params = HandoffParameters(**{f.name: getattr(h, f.name)
                                  for f in dataclasses.fields(HandoffParameters)})
    # the gateway's own policy (its accepted levels, its rejections) is not the peer's
    params = dataclasses.replace(params, units=tuple(units), peers=tuple(h.units), cpl_to=(),
                                 accept_levels=(), reject_every=reject_every)
    if lam_timeout_s is not None:
        params = dataclasses.replace(params, lam_timeout_s=lam_timeout_s)
    return Handoff(Airspace.load(h.airspace), params)


class PeerProcess:
    """The IO around a ``Neighbour``: MQTT messages in (from the sink's receive callback,
    never raising), the engine's answers stored, then queued for the broker."""

    def __init__(self, neighbour: Neighbour, topics: Topics,
                 store: HandoffStore | None = None) -> None:
        self.neighbour = neighbour
        self.topics = topics
        self.store = store
        self.units = frozenset(neighbour.units)
        self.counters: Counter[str] = Counter()
        self.outbox: Outbox | None = None
        self.sink: MqttSink | None = None
        self.failed: str | None = None  # the store failed: nothing more is handled
        self.stopping = asyncio.Event()

    @property
    def subscriptions(self) -> tuple[str, ...]:
        return (self.topics.picture, *(self.topics.aidc("+", unit) for unit in sorted(self.units)))

    def sink_for(self, mqtt: MqttConfig, outbox: Outbox, client_id: str | None = None
                 ) -> MqttSink:
        """Our broker connection: the gateway's sink, under a client id of our own (by
        default fixed, so that the broker's session, and what it kept for us, outlives a
        restart; never the gateway's, which the broker would throw off)."""
        name = "-".join(sorted(self.units))
        self.outbox = outbox
        mqtt = dataclasses.replace(mqtt, client_id=None, max_packet_bytes=max(
            mqtt.max_packet_bytes, PICTURE_MAX_BYTES))
        self.sink = MqttSink(mqtt, outbox,
                             client_id=client_id or f"asterix-gateway-peer-{name}",
                             status=self.status, subscriptions=self.subscriptions,
                             on_message=self.take)
        return self.sink

    def status(self, state: str) -> Outbound:
        counters = dict(self.all_counters()) if state == "online" else {}
        clock = self.neighbour.clock
        return Topics(self.topics.prefix, f"peer-{'-'.join(sorted(self.units))}").status(
            state, clock if clock > 0 else 0.0, counters)

    def take(self, topic: str, payload: bytes) -> None:
        """One MQTT message: a picture, or an AIDC message for one of our units."""
        if self.failed is not None:
            self.counters["not-taken-store-failed"] += 1
            return
        if topic == self.topics.picture:
            made = self._picture(payload)
        else:
            made = self._aidc(topic, payload)
        self._publish(made)

    def _picture(self, payload: bytes) -> list[Any]:
        try:
            fused = [m for m in decode_batch(payload) if isinstance(m, Fused)]
        except MessageError:
            self.counters["picture-undecodable"] += 1
            return []
        return self.neighbour.picture(fused) if fused else []

    def _aidc(self, topic: str, payload: bytes) -> list[Any]:
        via = self.topics.aidc_units(topic)
        if via is None or via[1] not in self.units:
            self.counters["aidc-wrong-topic"] += 1
            return []
        try:
            message = decode(payload)
        except MessageError:
            self.counters["aidc-undecodable"] += 1
            return []
        if not isinstance(message, Aidc):
            self.counters["aidc-undecodable"] += 1
            return []
        return self.neighbour.receive(message, via)

    def _publish(self, made: list[Any]) -> None:
        """Stored first, then queued (``HandoffStore`` says why).  A store that cannot save
        stops the peer (one line): what it made is never sent unsaved."""
        engine = self.neighbour.engine
        for text in [*self.neighbour.notices, *engine.notices]:
            log.warning("peer: %s", text)
        self.neighbour.notices.clear()
        engine.notices.clear()
        if self.store is not None and (made or engine.dirty):
            try:
                self.store.save(engine)
            except StoreError as exc:
                self.failed = f"the store cannot save: {exc}"
                log.error("peer: %s; stopping (nothing unsaved is sent)", self.failed)
                self.stopping.set()
                return
        engine.mark_saved()
        aidc = [m for m in made if isinstance(m, Aidc)]
        for alert in (m for m in made if isinstance(m, Alert)):
            self.counters[f"alert-{alert.type}"] += 1
            log.info("peer: alert %s: %s", alert.type, alert.text)  # counted, not published
        if aidc and self.outbox is not None and self.sink is not None:
            self.outbox.put(self.topics.outbound(Published(Kind.AIDC, aidc)))
            self.sink.notify()

    def all_counters(self) -> Counter[str]:
        counts = self.counters + self.neighbour.counters + self.neighbour.engine.counters
        if self.sink is not None:
            counts.update({f"mqtt-{k}": v for k, v in self.sink.counters.items()})
        return counts

    def summary(self) -> str:
        counts = " ".join(f"{k}={v}" for k, v in sorted(self.all_counters().items()) if v)
        return f"peer {','.join(sorted(self.units))}: {counts or 'no messages'}"


async def play(mqtt: MqttConfig, process: PeerProcess, stopping: asyncio.Event,
               client_id: str | None = None) -> None:
    """Play the units on the broker until ``stopping`` (or a store failure); the sink
    reconnects whenever the broker drops."""
    sink = process.sink_for(mqtt, Outbox(mqtt.outbox, mqtt.outbox_reliable), client_id)
    log.info("peer %s playing on %s", ", ".join(sorted(process.units)),
             ", ".join(mqtt.nodes))
    watch = asyncio.create_task(process.stopping.wait())
    done = asyncio.create_task(stopping.wait())
    stop = asyncio.Event()

    async def relay() -> None:
        await asyncio.wait([watch, done], return_when=asyncio.FIRST_COMPLETED)
        stop.set()

    relaying = asyncio.create_task(relay())
    try:
        await sink.run(stop)
    finally:
        for task in (watch, done, relaying):
            task.cancel()
        await asyncio.gather(watch, done, relaying, return_exceptions=True)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    setup_logging(args.log_format, args.log_level)
    mqtt = broker_config(config, args.broker)
    if mqtt is None:
        raise UsageError(f"{args.config}: no [mqtt] section and no --broker")
    units = [u for u in args.unit.split(",") if u]
    if not units:
        raise UsageError("--unit: no unit named")
    if not 0 <= args.reject_every <= 1000:
        raise UsageError("--reject-every: must be 0 (never) to 1000")
    engine = neighbour_engine(config, units, args.lam_timeout, args.reject_every)
    ignore = frozenset(t for t in args.ignore.split(",") if t)
    with ExitStack() as stack:
        store: HandoffStore | None = None
        if args.store is not None:
            try:
                store = stack.enter_context(closing(SqliteStore(args.store)))
            except StoreError as exc:
                raise UsageError(f"--store {exc}") from None
            restored = store.restore(engine)
            if restored:
                log.info("peer: %d dialogues restored from %s", restored, args.store)
        else:
            log.warning("peer: no --store: the dialogues are kept in memory only; a restart "
                        "loses them")
        process = PeerProcess(Neighbour(engine, delay_s=args.delay or 0.0, ignore=ignore),
                              Topics.of(config.gateway.id, mqtt), store)

        async def main() -> None:
            stopping = asyncio.Event()
            with stopped_by_signals(stopping):
                await play(mqtt, process, stopping)

        asyncio.run(main())
    print(process.summary(), file=sys.stderr)
    if process.failed is not None:
        print(f"asterix-gateway: peer: {process.failed}", file=sys.stderr)
        return 1
    return 0
