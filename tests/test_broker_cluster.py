"""`[mqtt] urls`: the sink fails over between the nodes of a broker, round robin, and sends
what the dead node had not acknowledged to the next one.  Against two Mosquittos (quick:
the failover itself) and a real three-node NATS cluster with JetStream (slow: a clustered
broker, a node SIGKILLed under the gateway, nothing sent at QoS 1 lost)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from nats_cluster import NATS, NatsCluster
from test_broker import traffic
from test_service_live import http, live_config, start_run, stop, wait_listening
from test_service_mqtt import run_sink, until
from waiting import wait_until

from gateway.config import MqttConfig
from gateway.config.sections import CONNECT_TIMEOUT_S
from gateway.config.values import MqttInputUrl, parse_input_url
from gateway.publish.mqtt import MqttSink
from gateway.publish.outbox import Outbox
from gateway.publish.topics import Outbound, Topics
from gateway.service.feeds import MqttFeed
from gateway.service.inputs import Inbox


async def count(port: int, received: set[bytes], ready: asyncio.Event, *, v5: bool,
                identifier: str, persistent: bool = False) -> None:
    """A QoS 1 subscriber to `aidc` and `alerts` on one node, reconnecting (to the same
    node: with a persistent session, what arrived meanwhile is kept for it) until
    cancelled."""
    kw: dict[str, Any] = {"clean_session": not persistent} if not v5 else {}
    while True:
        try:
            async with aiomqtt.Client(
                    "127.0.0.1", port, identifier=identifier, keepalive=5,
                    protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
                    **kw) as sub:
                await sub.subscribe("t/aidc/#", qos=1)
                await sub.subscribe("t/alerts", qos=1)
                ready.set()
                async for m in sub.messages:
                    received.add(bytes(m.payload))  # type: ignore[arg-type]
        except aiomqtt.MqttError:
            await asyncio.sleep(0.2)  # the node is electing or gone: the pace of retrying


def test_sink_fails_over_to_the_next_node_and_resends_what_was_not_acknowledged(
        broker_factory: Callable[..., Any]) -> None:
    """Two independent brokers as two nodes: the first is SIGKILLed mid-stream; the sink
    goes to the second (one failover, /health's node is the second) and every QoS 1
    message reaches one of them: what the first had not acknowledged went to the second.
    (Independent brokers do not share sessions: that is the NATS cluster's test.)"""
    a, b = broker_factory(), broker_factory()
    a.start()
    b.start()
    topics = Topics("t", "gw", 60)
    messages = traffic(400, topics)
    got_a: set[bytes] = set()
    got_b: set[bytes] = set()
    sent: set[bytes] = set()

    async def body(sink: MqttSink, outbox: Outbox) -> None:
        ready_a, ready_b = asyncio.Event(), asyncio.Event()
        subs = [asyncio.create_task(count(a.port, got_a, ready_a, v5=True, identifier="sa")),
                asyncio.create_task(count(b.port, got_b, ready_b, v5=True, identifier="sb"))]
        async with asyncio.timeout(10):
            await ready_a.wait()
            await ready_b.wait()
        await until(lambda: sink.connected)
        assert sink.where == a.url
        for i, group in enumerate(messages):
            outbox.put(group)
            sent.update(m.payload for m in group)
            sink.notify()
            if i == 150:
                await until(lambda: len(got_a) >= 100)
                await asyncio.to_thread(a.kill)
            await asyncio.sleep(0.003)  # what is tested: messages keep coming, over time
        await until(lambda: len(outbox) == 0 and sink.connected, 30)
        await until(lambda: got_a | got_b >= sent, 10)
        for task in subs:
            task.cancel()
        await asyncio.gather(*subs, return_exceptions=True)

    sink = asyncio.run(run_sink([a.url, b.url], body, backoff_min_s=0.2,
                                publish_timeout_s=1.0))
    assert got_a | got_b == sent
    assert got_a and got_b - got_a  # both nodes took part
    assert sink.counters["failovers"] == 1 and sink.where == b.url


def test_run_with_broker_list_fails_over_and_says_so_on_health_and_metrics(
        broker_factory: Callable[..., Any], tmp_path: Path,
        free_port: Callable[[], int]) -> None:
    """`run --broker A,B`: connected to A; A SIGKILLed; /health names B and one failover,
    /metrics the node connected to and the failover counted."""
    a, b = broker_factory(), broker_factory()
    a.start()
    b.start()
    config, port = live_config(tmp_path / "gw.toml", free_port())
    proc = start_run(config, f"{a.url},{b.url}", tmp_path / "out.jsonl")
    try:
        wait_listening(proc, port)
        health = http(port, "/health")[1]
        assert (health["mqtt_node"], health["mqtt_failovers"]) == (a.url, 0)
        a.kill()

        def on_b() -> bool:
            health = http(port, "/health")[1]
            return bool(health["mqtt"] == "connected" and health["mqtt_node"] == b.url)

        assert wait_until(on_b, 30, interval=0.1), http(port, "/health")[1]
        assert http(port, "/health")[1]["mqtt_failovers"] == 1
        metrics = http(port, "/metrics")[1]
        assert f'gateway_mqtt_node{{node="{b.url}"}} 1' in metrics
        assert 'gateway_mqtt_connections_total{event="failovers"} 1' in metrics
    finally:
        code, err = stop(proc)
    assert code == 0, err


# -- a real clustered broker ------------------------------------------------------------------

def kill_under_the_gateway(cluster: NatsCluster, total: int = 600, kill_at: int = 200,
                           connect_timeout_s: float = CONNECT_TIMEOUT_S
                           ) -> tuple[set[bytes], set[bytes], float, MqttSink]:
    """The gateway (MQTT 3.1.1) streams ``total`` QoS 1 messages, `aidc` and `alerts`,
    about 250 a second, to the cluster's first node; a subscriber with a persistent session
    counts them on the last node.  After ``kill_at`` the node the gateway is connected to
    is SIGKILLed.  What was sent, what was received, the failover time (from the kill to
    the first QoS 1 message acknowledged by another node), and the sink."""
    topics = Topics("t", "gw", 60)
    messages = traffic(total, topics)
    sent: set[bytes] = set()
    received: set[bytes] = set()
    failover_s = float("nan")

    async def body(sink: MqttSink, outbox: Outbox) -> None:
        nonlocal failover_s
        ready = asyncio.Event()
        sub = asyncio.create_task(count(cluster.mqtt_ports[-1], received, ready, v5=False,
                                        identifier="operator", persistent=True))
        async with asyncio.timeout(20):
            await ready.wait()
        await until(lambda: sink.connected, 20)
        killed_at: float | None = None
        published_at_kill = 0

        async def watch() -> None:
            """The first PUBACK from the new node: ``published`` grows after a failover."""
            nonlocal failover_s
            while killed_at is None:
                await asyncio.sleep(0.005)
            while not (sink.counters["failovers"] and
                       sink.counters["published"] > published_at_kill):
                await asyncio.sleep(0.005)  # the resolution of the measure
            failover_s = time.monotonic() - killed_at

        watching = asyncio.create_task(watch())
        for i, group in enumerate(messages):
            outbox.put(group)
            sent.update(m.payload for m in group)
            sink.notify()
            if i == kill_at:
                await until(lambda: len(received) >= kill_at // 2, 30)
                victim = sink.node
                published_at_kill = sink.counters["published"]
                killed_at = time.monotonic()
                await asyncio.to_thread(cluster.kill, victim)
            await asyncio.sleep(0.004)  # what is tested: messages keep coming, over time
        async with asyncio.timeout(60):
            await watching
        await until(lambda: len(outbox) == 0 and sink.connected, 60)
        await until(lambda: received >= sent, 60)
        sub.cancel()
        await asyncio.gather(sub, return_exceptions=True)

    sink = asyncio.run(run_sink(cluster.urls, body, protocol="3.1.1",
                                connect_timeout_s=connect_timeout_s))
    return sent, received, failover_s, sink


@pytest.mark.slow
def test_nats_node_killed_under_the_gateway_loses_no_qos1_message(
        nats_cluster: NatsCluster) -> None:
    """SIGKILL the node the gateway publishes to, mid-stream: it fails over to the next
    node (default backoff and publish timeout), sends again what was not acknowledged, and
    the subscriber on another node gets every `aidc` and `alerts` message at least once."""
    sent, received, failover_s, sink = kill_under_the_gateway(nats_cluster)
    assert received == sent
    assert sink.counters["failovers"] >= 1 and sink.counters["disconnects"] >= 1
    assert sink.where != nats_cluster.urls[0]
    print(f"failover {failover_s:.2f} s; {len(sent)} messages, "
          f"{sink.counters['failovers']} failovers")


def fresh_clusters(runs: int, directory: Path, name: str
                   ) -> Iterator[tuple[int, NatsCluster, float]]:
    """For the measurements below: ``runs`` fresh three-node clusters one after the other,
    each in its own directory, stopped once its run is done (or has failed)."""
    assert NATS is not None
    for n in range(runs):
        run_dir = directory / f"{name}{n}"
        run_dir.mkdir()
        cluster = NatsCluster(run_dir, binary=NATS)
        try:
            ready_s = cluster.start()
            yield n, cluster, ready_s
        finally:
            cluster.stop()


def measure(runs: int, directory: Path,
            connect_timeout_s: float = CONNECT_TIMEOUT_S) -> list[float]:
    """``python -c 'from test_broker_cluster import measure; ...'``: the failover time over
    ``runs`` fresh clusters (docs/deployment.md's figures)."""
    times = []
    for n, cluster, ready_s in fresh_clusters(runs, directory, "run"):
        sent, received, failover_s, sink = kill_under_the_gateway(
            cluster, connect_timeout_s=connect_timeout_s)
        lost = len(sent - received)
        times.append(failover_s)
        print(f"run {n}: ready in {ready_s:.1f} s, failover {failover_s:.2f} s, "
              f"{len(sent)} sent, {lost} lost, failovers {sink.counters['failovers']}",
              flush=True)
    print(f"failover: median {statistics.median(times):.2f} s, worst {max(times):.2f} s, "
          f"best {min(times):.2f} s over {len(times)} runs")
    return times


@pytest.mark.slow
def test_nats_inbound_subscription_follows_the_gateway_to_the_next_node(
        nats_cluster: NatsCluster) -> None:
    """The peers' AIDC reach the gateway through its persistent session (subscriptions
    made again on each connection): a peer on the last node sends QoS 1 messages before,
    across and after the SIGKILL of the gateway's node; the gateway, failed over, has
    every one the cluster kept for it while it was away, which is all but, at times, one
    sent in the instant of the node's death (NATS's doing, not the gateway's: it was
    away, and the peer had its PUBACK)."""
    inbound: list[bytes] = []
    while_away: set[bytes] = set()  # sent after the kill, before the gateway was back on
    # another node (including those sent before the sink had noticed the kill)
    total = 60

    async def body(sink: MqttSink, outbox: Outbox) -> None:
        await until(lambda: sink.connected, 20)
        sent = 0
        killed = False
        while sent < total:  # the peer: like the gateway, it sends again what was not
            try:             # acknowledged when the election drops its connection too
                async with aiomqtt.Client("127.0.0.1", nats_cluster.mqtt_ports[-1],
                                          identifier="peer", timeout=20,
                                          protocol=aiomqtt.ProtocolVersion.V311) as peer:
                    while sent < total:
                        if sent == total // 3 and not killed:
                            await until(lambda: len(set(inbound)) >= total // 6, 20)
                            await asyncio.to_thread(nats_cluster.kill, sink.node)
                            killed = True
                        if killed and not (sink.connected and sink.counters["failovers"]):
                            while_away.add(f"aidc {sent}".encode())  # not yet back
                        await peer.publish("t/aidc/in/MMTY", f"aidc {sent}".encode(), qos=1)
                        sent += 1
                        await asyncio.sleep(0.05)  # what is tested: messages keep coming
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)  # the pace of reconnecting
        try:  # on failure the assertion below names what is missing
            await until(lambda: sink.counters["failovers"] >= 1
                        and len(set(inbound)) >= sent, 30)
        except TimeoutError:
            pass

    sink = asyncio.run(run_sink(
        nats_cluster.urls, body, protocol="3.1.1", subscriptions=("t/aidc/in/#",),
        on_message=lambda topic, payload: inbound.append(payload)))
    missing = {f"aidc {i}".encode() for i in range(total)} - set(inbound)
    # Measured: 1 run in 10 lost one message, the peer's first after the kill, while the
    # gateway was away (its session's node dead), acknowledged to the peer all the same;
    # every other run lost none.  AIDC's LAM timeout resends or alerts (docs/broker.md).
    assert len(missing) <= 1 and missing <= while_away, (sorted(missing), sink.counters)
    assert sink.counters["failovers"] >= 1


# -- a centre's mqtt:// input on a cluster ------------------------------------------------------

class Heard(Inbox):
    """The centre's inbox, noting when each payload (a site's sequence number) came."""

    def __init__(self) -> None:
        super().__init__(limit=1_000_000)
        self.at: dict[int, float] = {}

    def offer(self, topic: str, payload: bytes) -> bool:
        self.at.setdefault(int(payload), time.monotonic())
        return super().offer(topic, payload)


def centre_through_a_node_death(cluster: NatsCluster, qos: int = 1, before: int = 200,
                                after: int = 200, connect_timeout_s: float = CONNECT_TIMEOUT_S
                                ) -> dict[str, Any]:
    """A site publishes numbered plot batches at ``qos``, about 50 a second, into node A
    (its [mqtt] urls: A, then C); a centre's input names B, C, A and is connected to B.
    Once the centre has heard ``before`` of them (every one so far: nothing in flight), B
    is SIGKILLed, the site going on.  The input fails over (once or more, as the cluster
    elects) and the site stops once the centre has heard ``after`` sent after its last
    connection.  What was sent and heard, and when."""
    a, b, c = cluster.mqtt_ports
    url = parse_input_url(f"mqtt://127.0.0.1:{b},127.0.0.1:{c},127.0.0.1:{a}/site/v1/plots/#")
    assert isinstance(url, MqttInputUrl)
    heard = Heard()
    feed = MqttFeed([url], heard, MqttConfig(urls=tuple(cluster.urls), protocol="3.1.1",
                                             connect_timeout_s=connect_timeout_s),
                    client_id="centre")
    out: dict[str, Any] = {"feed": feed, "heard": heard}

    async def body(sink: MqttSink, outbox: Outbox) -> None:
        stopping = asyncio.Event()
        centre = asyncio.create_task(feed.run(stopping))
        await until(lambda: feed.connected and sink.connected, 30)
        sent = 0
        connects = feed.counters["connects"]
        first_after: int | None = None  # the first number sent after the last connection
        put_at: dict[int, float] = {}
        killed_at = 0.0
        reconnected: list[float] = []  # when the input connected again, after the kill

        def put() -> None:
            nonlocal sent
            outbox.put([Outbound("site/v1/plots/0-101", str(sent).encode(), qos=qos)])
            put_at[sent] = time.monotonic()
            sent += 1
            sink.notify()

        async with asyncio.timeout(300):  # a cluster that lost a node acknowledges slower
            while sent < before:
                put()
                await asyncio.sleep(0.02)  # what is tested: batches keep coming, over time
            await until(lambda: len(heard.at) >= sent, 30)  # nothing in flight
            out["killed_at_sent"] = sent
            killed_at = time.monotonic()
            await asyncio.to_thread(cluster.kill, 1)
            while True:
                if feed.counters["connects"] != connects:  # (again): count from here
                    connects, first_after = feed.counters["connects"], sent
                    reconnected.append(time.monotonic() - killed_at)
                if (first_after is not None and feed.counters["failovers"]
                        and sum(1 for n in heard.at if n >= first_after) >= after):
                    break
                put()
                await asyncio.sleep(0.02)
            await until(lambda: len(outbox) == 0, 120)
            await until(lambda: len(heard.at) >= sent
                        or all(n in heard.at for n in range(first_after, sent)), 60)
        stopping.set()
        await centre
        out.update(sent=sent, killed_at=killed_at, put_at=put_at, first_after=first_after,
                   reconnected=reconnected)

    out["site"] = asyncio.run(run_sink([cluster.urls[0], cluster.urls[2]], body,
                                       protocol="3.1.1", connect_timeout_s=connect_timeout_s))
    return out


@pytest.mark.slow
def test_nats_centre_input_fails_over_when_its_node_dies(nats_cluster: NatsCluster) -> None:
    """The centre's input is on node B, B is SIGKILLed: the input moves to another node
    and the centre keeps receiving.  Its session is clean (docs/deployment.md): what the
    site sends from the kill until the input is subscribed on the next node may be lost
    to it, whatever the QoS; what was sent before the kill, and everything sent after
    the centre hears again, arrives.  The site (QoS 1, on node A) loses nothing: the
    cluster's pause holds its PUBACKs, its outbox keeps what waits for them."""
    run = centre_through_a_node_death(nats_cluster)
    feed, heard, site = run["feed"], run["heard"], run["site"]
    assert feed.counters["failovers"] >= 1 and feed.where != nats_cluster.urls[1]
    assert not {k: v for k, v in site.outbox.counters.items() if k.startswith("dropped")}
    sent, kill, first_after = run["sent"], run["killed_at_sent"], run["first_after"]
    assert all(n in heard.at for n in range(kill))  # before the kill: all
    assert all(n in heard.at for n in range(first_after, sent))  # after the reconnection
    print(describe(run))


def describe(run: dict[str, Any]) -> str:
    """One line of figures: the input's failover time (from the kill to its connection to
    another node, subscribed), when the centre heard the site again, what was lost."""
    heard, kill, sent = run["heard"], run["killed_at_sent"], run["sent"]
    back = min(t for n, t in heard.at.items() if n >= kill) - run["killed_at"]
    lost = set(range(sent)) - set(heard.at)
    dropped = sum(v for k, v in run["site"].outbox.counters.items() if k.startswith("dropped"))
    return (f"input on another node {run['reconnected'][0]:.2f} s after the kill "
            f"({run['feed'].counters['failovers']} failovers), heard the site again after "
            f"{back:.2f} s (the site's failovers: {run['site'].counters['failovers']}); "
            f"{len(lost)} of {sent} lost"
            + (f" (#{min(lost)} to #{max(lost)})" if lost else "")
            + f"; the kill after #{kill - 1}, the last reconnection before "
            f"#{run['first_after']}; the site dropped {dropped}")


def measure_centre(runs: int, directory: Path,
                   connect_timeout_s: float = CONNECT_TIMEOUT_S) -> list[str]:
    """``python -c 'from test_broker_cluster import measure_centre; ...'``: the centre's
    input over ``runs`` fresh clusters (docs/deployment.md's figures)."""
    lines = []
    for n, cluster, _ in fresh_clusters(runs, directory, "centre"):
        run = centre_through_a_node_death(cluster, connect_timeout_s=connect_timeout_s)
        lines.append(f"run {n}: {describe(run)}")
        print(lines[-1], flush=True)
    return lines


def probe_election(directory: Path, every_s: float = 0.25, probes: int = 40
                   ) -> list[tuple[float, float, str]]:
    """``python -c 'from test_broker_cluster import probe_election; ...'``: SIGKILL a node
    of a fresh cluster, then CONNECT to each surviving node every ``every_s``, each given
    30 s: when each was sent and answered (seconds after the kill), and how it ended.  It
    showed that a CONNECT sent during the election is never answered (hence
    ``connect_timeout_s``: docs/deployment.md, "When a node dies")."""
    assert NATS is not None
    cluster = NatsCluster(directory, binary=NATS)

    async def one(port: int, n: int, t0: float, out: list[tuple[float, float, str]]) -> None:
        sent = time.monotonic() - t0
        try:
            async with aiomqtt.Client("127.0.0.1", port, identifier=f"probe-{port}-{n}",
                                      timeout=30, protocol=aiomqtt.ProtocolVersion.V311):
                out.append((sent, time.monotonic() - t0, "answered"))
        except aiomqtt.MqttError as exc:
            out.append((sent, time.monotonic() - t0, str(exc)))

    async def main() -> list[tuple[float, float, str]]:
        out: list[tuple[float, float, str]] = []
        t0 = time.monotonic()
        await asyncio.to_thread(cluster.kill, 1)
        tasks = []
        for n in range(probes):
            tasks += [asyncio.create_task(one(port, n, t0, out))
                      for port in (cluster.mqtt_ports[0], cluster.mqtt_ports[2])]
            await asyncio.sleep(every_s)  # the pace of probing
        await asyncio.gather(*tasks)
        return sorted(out)

    try:
        cluster.start()
        return asyncio.run(main())
    finally:
        cluster.stop()
