"""``asterix-gateway demo``: simulated border traffic through the whole gateway, live view.

The shipped capture (eight radars and two SDPS either side of a border) is replayed into
the gateway, which publishes to an MQTT broker: one found at 127.0.0.1:1883, or one
started inside this process.  The view on the terminal is made from what a separate MQTT
client receives back from that broker, so what it shows has really been through MQTT,
and ``mosquitto_sub`` from another terminal sees the same.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import shlex
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from contextlib import AsyncExitStack, ExitStack, suppress
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gateway.captures import shipped
from gateway.commands import UsageError, positive
from gateway.commands.peer import PeerProcess, neighbour_engine, play
from gateway.commands.replay import speed
from gateway.commands.service import ended, handoff_store, load_config, with_nodes, with_web
from gateway.config import Config, MqttConfig, MqttUrl
from gateway.handoff.neighbour import Neighbour
from gateway.ingest import CaptureError, IngestStats
from gateway.messages import (
    Aidc,
    Alert,
    Fused,
    MessageError,
    Status,
    decode,
    decode_batch,
)
from gateway.publish.mqtt import client_options
from gateway.publish.nodes import Nodes
from gateway.publish.topics import Topics
from gateway.service.broker import broker_reachable, embedded_broker
from gateway.service.inputs import Pacer, replay_captures
from gateway.service.logs import setup_logging
from gateway.service.shell import Service, stopped_by_signals
from gateway.service.tuning import tune_for_service

log = logging.getLogger(__name__)

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
DEFAULT_WEB = ("127.0.0.1", 8080)  # the map, unless --web says otherwise
MAX_TRACKS = 5000  # fused tracks the view keeps (a flood of ids cannot eat the memory)
EVENTS = 10  # handoff events listed
REFRESH_S = 0.5  # terminal view
PLAIN_EVERY_S = 2.0  # one summary line when stdout is not a terminal
TABLE_FRAME = 5  # lines of a table that are not rows: borders, heading, caption
SUBSCRIBE_WAIT_S = 5.0  # at the start, for the view to be subscribed
OFFLINE_WAIT_S = 2.0  # at the end, for the gateway's offline status to come back
VIEW_RETRY_S = 1.0  # the view connecting again (the next node of a cluster's)


# -- arguments -------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--broker", metavar="mqtt://HOST[:PORT][,...]",
                       help="publish to this broker (default: 127.0.0.1:1883 if a broker "
                       "answers there, else an embedded one); several, comma-separated: "
                       "the nodes of a broker cluster")
    where.add_argument("--embedded", action="store_true",
                       help="always start the embedded broker (amqtt, MQTT 3.1.1, free port)")
    parser.add_argument("--speed", type=speed, default=5.0, metavar="N|max",
                        help="times real time, by the capture's timestamps (default: 5)")
    parser.add_argument("--duration", type=positive("--duration", "seconds"), metavar="S",
                        help="stop after S seconds (default: at the end of the capture)")
    parser.add_argument("--capture", metavar="FILE.pcap",
                        help="default: the shipped border scenario (package data)")
    parser.add_argument("--config", metavar="FILE.toml",
                        help="default: the border scenario's (package data)")


# -- the command -----------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_format, args.log_level)
    with ExitStack() as files:
        # the shipped files are package data: real paths only while the stack is open
        if args.capture is None:
            args.capture = str(files.enter_context(shipped("border-10min.pcap.gz")))
        if args.config is None:
            args.config = str(files.enter_context(shipped("border.toml")))
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    for option, path in (("--capture", args.capture), ("--config", args.config)):
        if not Path(path).is_file():
            raise UsageError(f"{option} {path}: no such file")
    config = with_web(load_config(args.config), DEFAULT_WEB if args.web is False else args.web)
    if args.broker is not None:
        with_nodes(None, args.broker)  # bad usage before anything starts
    try:
        service = asyncio.run(main(args, config))
    except CaptureError as exc:
        raise UsageError(str(exc)) from None
    return ended("demo", service)


async def main(args: argparse.Namespace, config: Config) -> Service:
    """Broker, gateway and view in one event loop, so the embedded broker can live in it."""
    async with AsyncExitStack() as stack:
        mqtt, embedded = await choose_broker(args, config, stack)
        pacer = Pacer(args.speed)
        store = stack.enter_context(handoff_store(config))
        service = Service(config, mqtt=mqtt, pacer=pacer, store=store, mode="demo")
        try:  # the default port may be taken: then a free one, said so
            url = await service.start_web(any_port_if_busy=args.web is False)
        except OSError as exc:
            raise UsageError(str(exc)) from None
        tune_for_service()  # the process is the gateway's now: allocator and collector
        print(introduction(args, mqtt, service.topics, embedded, url), flush=True)
        with stopped_by_signals(service.stopping):
            await replay_with_view(args, service, mqtt, pacer)
    return service


async def replay_with_view(args: argparse.Namespace, service: Service, mqtt: MqttConfig,
                           pacer: Pacer) -> None:
    """The capture through the gateway (as ``replay`` does it) while the view runs."""
    handoff = service.config.handoff
    picture = Picture(service.topics, handoff.units if handoff is not None else ())
    helpers = [asyncio.create_task(view(mqtt, picture, service))]
    if handoff is not None:  # the neighbours: the same engine, fed by the demo's picture
        engine = neighbour_engine(service.config, list(handoff.peers))
        peer = PeerProcess(Neighbour(engine), service.topics)
        helpers.append(asyncio.create_task(play(
            mqtt, peer, asyncio.Event(), client_id=f"asterix-gateway-demo-peer-{os.getpid()}")))
    with suppress(TimeoutError):  # so that the view misses nothing; it retries anyway
        await asyncio.wait_for(picture.subscribed.wait(), SUBSCRIBE_WAIT_S)
    source = asyncio.create_task(replay_captures(
        [args.capture], service.intake, pacer, IngestStats(), stopping=service.stopping))
    if args.duration is not None:
        helpers.append(asyncio.create_task(_stop_after(args.duration, service)))
    try:
        await service.run([source])
        with suppress(TimeoutError):  # the view is complete once "offline" came back
            await asyncio.wait_for(picture.offline.wait(), OFFLINE_WAIT_S)
        for line in picture.directions():
            print(line, flush=True)
    finally:
        for task in helpers:
            task.cancel()
        for failed in await asyncio.gather(*helpers, return_exceptions=True):
            if isinstance(failed, Exception):
                log.error("demo view failed: %r", failed)


async def _stop_after(seconds: float, service: Service) -> None:
    await asyncio.sleep(seconds)
    service.stopping.set()


async def choose_broker(args: argparse.Namespace, config: Config,
                        stack: AsyncExitStack) -> tuple[MqttConfig, bool]:
    """The [mqtt] settings for the broker to use, and whether it is the embedded one.

    A broker given with --broker must answer (one of its nodes, for a cluster's: the
    gateway fails over between them, and so does the view); the default one may not, and
    then the demo starts its own.  The config's [mqtt] url or urls are not used (the
    demo's broker is the one it finds or starts), its other settings are.  The gateway
    connects under its own client id so that a gateway already publishing to the same
    broker is not thrown off it.
    """
    base = config.mqtt or MqttConfig(url=DEFAULT_BROKER)
    base = dataclasses.replace(base, client_id=base.client_id
                               or f"asterix-gateway-demo-{os.getpid()}")
    if not args.embedded:
        found = with_nodes(base, args.broker or DEFAULT_BROKER)
        for node in found.brokers:  # the first node that answers
            if await _answers(node, found, "3.1.1"):
                # MQTT 5 as configured, unless the broker only speaks 3.1.1
                v5 = found.protocol == "5" and await _answers(node, found, "5")
                return dataclasses.replace(found, protocol="5" if v5 else "3.1.1"), False
        if args.broker is not None:
            raise UsageError(f"--broker {args.broker}: no MQTT broker answers there")
    host, port = await stack.enter_async_context(embedded_broker())
    url = f"mqtt://[{host}]:{port}" if ":" in host else f"mqtt://{host}:{port}"
    # amqtt: 3.1.1 only
    return dataclasses.replace(base, url=url, urls=(), protocol="3.1.1"), True


async def _answers(node: MqttUrl, mqtt: MqttConfig, protocol: str) -> bool:
    return await broker_reachable(node.host, node.port, protocol=protocol, tls=node.tls,
                                  ca_file=mqtt.ca_file)


def introduction(args: argparse.Namespace, mqtt: MqttConfig, topics: Topics,
                 embedded: bool, web: str | None = None) -> str:
    """How to watch the demo from elsewhere, and what is published where."""
    broker = mqtt.broker
    which = "embedded, amqtt" if embedded else "found"
    pace = "as fast as it goes" if args.speed is None else f"at {args.speed:g}x real time"
    sub = ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port),
           "-t", topics.everything, "-v"]
    if mqtt.username:
        sub[5:5] = ["-u", mqtt.username, "-P", "PASSWORD"]
    if broker.tls:
        sub[5:5] = ["--cafile", mqtt.ca_file or "CA.pem"]
    lines = [
        f"asterix-gateway demo: replaying {args.capture} {pace}",
        f"MQTT broker: {', '.join(mqtt.nodes)} ({which}, MQTT {mqtt.protocol})",
        *([f"Web map: {web}  (open it in a browser)"] if web else []),
        "Watch it from another terminal:",
        f"  {shlex.join(sub)}",
        "Topics:",
        *(f"  {pattern:<34} {what}" for pattern, what in topics.table()),
        "",
    ]
    return "\n".join(lines)


# -- what came back through the broker -------------------------------------------------------

class Picture:
    """The air picture as a subscriber sees it: fused tracks by id, the last handoff events,
    the gateways' status.  Hostile or garbled payloads are counted, never fatal."""

    def __init__(self, topics: Topics, units: Iterable[str] = ()) -> None:
        self.topics = topics
        self.units = frozenset(units)  # the gateway's: the rest are the peers'
        # AIDC messages seen, by (the offering side, "gateway" or "peer"; message type)
        self.exchanges: Counter[tuple[str, str]] = Counter()
        self.tracks: dict[str, Fused] = {}
        self.events: deque[Aidc | Alert] = deque(maxlen=EVENTS)
        self.status: dict[str, str] = {}
        self.counters: Counter[str] = Counter()
        self.subscribed = asyncio.Event()
        self.offline = asyncio.Event()  # our gateway said goodbye (not a retained one)

    @property
    def filters(self) -> list[str]:
        topics = self.topics
        return [topics.picture, topics.aidc_filter, topics.alerts, topics.status_filter]

    def take(self, topic: str, payload: object, retained: bool = False) -> None:
        """One MQTT message from the subscription."""
        if not isinstance(payload, (bytes, bytearray, str)):
            payload = b""
        try:
            if topic == self.topics.picture:
                for m in decode_batch(payload):
                    self._fused(m)
            else:
                self._one(decode(payload), retained)
        except MessageError:
            self.counters["undecodable"] += 1

    def _fused(self, m: object) -> None:
        if not isinstance(m, Fused):
            raise MessageError("not a fused message")
        self.counters["fused"] += 1
        self.tracks.pop(m.id, None)  # re-inserted last: the dict is in update order
        if m.state != "ended":
            self.tracks[m.id] = m
            if len(self.tracks) > MAX_TRACKS:
                del self.tracks[next(iter(self.tracks))]  # the longest silent

    def _one(self, m: object, retained: bool) -> None:
        if isinstance(m, (Aidc, Alert)):
            self.events.append(m)
            self.counters[str(m.__struct_config__.tag)] += 1
            if isinstance(m, Aidc):
                self.exchanges[(self._offering(m), m.msg)] += 1
        elif isinstance(m, Status):
            self.status[m.gateway] = m.state
            if m.gateway == self.topics.gateway and m.state == "offline" and not retained:
                self.offline.set()
        else:
            raise MessageError("not an aidc, alert or status message")

    def _offering(self, m: Aidc) -> str:
        """Which side's transfer a message belongs to: the offering unit's messages (ABI,
        EST, CPL, CDN, TOC, MAC) are its own side's; the answers (ACP, REJ, AOC) and the
        refusals (LRM: the receiving side refused a message) the other side's offers.
        LAM acknowledges both ways and is counted apart."""
        ours = m.from_ in self.units
        if m.msg in ("ACP", "REJ", "AOC", "LRM"):
            ours = not ours
        return "gateway" if ours else "peer"

    def directions(self) -> list[str]:
        """One summary line per direction of the border: what was offered, answered and
        handed over, as received over MQTT."""
        units = ",".join(sorted(self.units))
        lines = []
        for side, what in (("gateway", f"{units} -> peers"), ("peer", f"peers -> {units}")):
            counts = " ".join(f"{msg}={self.exchanges[(side, msg)]}" for msg in (
                "ABI", "EST", "CPL", "ACP", "REJ", "TOC", "AOC", "MAC", "LRM"))
            lines.append(f"demo: handoff {what} (offered by the {side}): {counts}")
        return lines

    def confirmed(self) -> int:
        return sum(1 for m in self.tracks.values() if m.state == "confirmed")


async def subscribe(mqtt: MqttConfig, picture: Picture) -> None:
    """Feed the picture from the broker until cancelled, reconnecting when it drops (to
    the next node of a cluster's, as the gateway does)."""
    nodes = Nodes(mqtt.brokers, backoff_min_s=VIEW_RETRY_S, backoff_max_s=VIEW_RETRY_S)
    while True:
        try:
            async with aiomqtt.Client(
                    **client_options(mqtt, nodes.current),
                    identifier=f"asterix-gateway-demo-view-{os.getpid()}",
                    logger=log) as client:
                for topic in picture.filters:
                    await client.subscribe(topic, qos=1)
                nodes.connected()
                picture.subscribed.set()
                async for message in client.messages:
                    picture.take(str(message.topic), message.payload, message.retain)
        except aiomqtt.MqttError as exc:
            if picture.subscribed.is_set():
                log.warning("view: MQTT connection lost: %s", exc)
            else:
                log.info("view: cannot subscribe: %s", exc)
        picture.subscribed.clear()
        await asyncio.sleep(nodes.failed())


# -- showing it ------------------------------------------------------------------------------

def gateway_counts(service: Service, picture: Picture) -> dict[str, int]:
    """The few figures worth a glance, from the gateway and from the view."""
    c = service.status_counters()
    dropped = sum(int(v) for k, v in c.items()
                  if k == "input-dropped" or k.startswith("mqtt-dropped"))
    counts = {"datagrams": int(c.get("datagrams", 0)), "plots": int(c.get("plots", 0)),
              "sdps-tracks": int(c.get("tracks", 0)),
              "fused-updates": picture.counters["fused"],  # as received over MQTT
              "published": int(c.get("mqtt-published", 0)), "dropped": dropped}
    if picture.counters["undecodable"]:
        counts["undecodable"] = picture.counters["undecodable"]
    return counts


def _mqtt_state(service: Service) -> str:
    return "connected" if service.sink is not None and service.sink.connected else "disconnected"


def plain_line(service: Service, picture: Picture) -> str:
    counts = gateway_counts(service, picture)
    figures = " ".join(f"{k}={v}" for k, v in counts.items())
    return (f"demo: tracks={len(picture.tracks)} confirmed={picture.confirmed()} {figures} "
            f"mqtt={_mqtt_state(service)}")


def _fmt(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def tracks_table(picture: Picture, rows: int) -> Table:
    """The fused tracks by id, as many as ``rows`` lines hold."""
    tracks = sorted(picture.tracks.values(), key=lambda m: m.id)
    shown = tracks[:max(rows, 1)]
    hidden = len(tracks) - len(shown)
    table = Table(expand=False, caption=f"{hidden} more not shown" if hidden else None,
                  caption_justify="left")
    for name in ("id", "callsign", "icao24", "mode3a", "lat", "lon", "FL", "GS kt",
                 "TRK deg", "state", "sources"):
        table.add_column(name, justify="left" if name in ("id", "callsign", "state")
                         else "right", no_wrap=True)
    for m in shown:
        table.add_row(m.id, m.callsign or "", m.icao24 or "", m.mode3a or "",
                      _fmt(m.lat, ".4f"), _fmt(m.lon, ".4f"), _fmt(m.fl, ".0f"),
                      _fmt(m.gs_kt, ".0f"), _fmt(m.trk_deg, ".0f"), m.state,
                      str(len(m.sources)))
    return table


def _event_line(m: Aidc | Alert) -> str:
    at = datetime.fromtimestamp(m.t, UTC).strftime("%H:%M:%S")
    if isinstance(m, Aidc):
        who = " ".join(x for x in (m.callsign, m.track_id) if x)
        return f"{at}  AIDC {m.msg} {m.from_} -> {m.to} #{m.serial}  {who}  {m.text}"
    return f"{at}  ALERT {m.type} {m.track_id or ''}  {m.text}"


def events_panel(picture: Picture) -> Panel:
    lines = [_event_line(m) for m in picture.events]
    body = Text("\n".join(lines), no_wrap=True, overflow="ellipsis") if lines else Text(
        "none yet", style="dim")
    return Panel(body, title="handoff events", title_align="left")


def screen(service: Service, picture: Picture, height: int) -> RenderableType:
    """The whole view, cut to ``height`` lines."""
    counts = gateway_counts(service, picture)
    counters = "  ".join(f"{k} {v:,}" for k, v in counts.items())
    state = ", ".join(f"{g} {s}" for g, s in sorted(picture.status.items())) or "no status yet"
    header = Text(f"fused tracks: {len(picture.tracks)} ({picture.confirmed()} confirmed)"
                  f"   gateway: {state}")
    footer = Text(f"{counters}  MQTT {_mqtt_state(service)}", no_wrap=True,
                  overflow="ellipsis")
    events = events_panel(picture)
    events_lines = max(len(picture.events), 1) + 2  # with the panel's borders
    rows = height - 2 - events_lines - TABLE_FRAME - 1  # a spare line for the cursor
    return Group(header, tracks_table(picture, rows), footer, events)


def _ticks(every: float) -> Iterator[float]:
    start = time.monotonic()
    n = 0
    while True:
        n += 1
        yield max(start + n * every - time.monotonic(), 0.0)


async def show(service: Service, picture: Picture, console: Console) -> None:
    """Until cancelled: the live view on a terminal, else a summary line every few seconds.
    Either way the last state is shown at the end."""
    if console.is_terminal:
        await _show_live(service, picture, console)
    else:
        await _show_plain(service, picture)


async def _show_plain(service: Service, picture: Picture) -> None:
    try:
        for wait in _ticks(PLAIN_EVERY_S):
            await asyncio.sleep(wait)
            print(plain_line(service, picture), flush=True)
    finally:
        print(plain_line(service, picture), flush=True)


async def _show_live(service: Service, picture: Picture,
                     console: Console) -> None:
    def draw() -> None:
        live.update(screen(service, picture, console.size.height), refresh=True)

    # refreshed from this task rather than rich's thread: the picture changes in this loop
    with Live(console=console, auto_refresh=False, transient=False) as live:
        try:
            for wait in _ticks(REFRESH_S):
                draw()
                await asyncio.sleep(wait)
        finally:
            draw()


async def view(mqtt: MqttConfig, picture: Picture, service: Service) -> None:
    """Subscriber and display together; cancelling it ends both, as does a failure of either."""
    async with asyncio.TaskGroup() as group:
        group.create_task(subscribe(mqtt, picture))
        group.create_task(show(service, picture, Console()))
