"""A centre's ``mqtt://`` inputs: every inbound payload hostile (``gateway.remote``), the
data's clock and the reorder hold, the configuration's rules, and a real broker that goes
away and comes back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from gateway.config import ConfigError, MqttConfig, loads
from gateway.config.values import MqttInputUrl, parse_input_url, topic_matches
from gateway.ingest.url import UdpUrl
from gateway.messages import Fused, Plot, Source, Track, encode, encode_batch
from gateway.normalize.normalizer import SourceBatch
from gateway.remote import MAX_BATCH_BYTES, DataClock, RemoteBatches, Reorder
from gateway.service.feeds import MqttFeed
from gateway.service.inputs import Inbox

WALL = 1_780_000_000.0


def plot(t: float = WALL - 10, sac: int = 0, sic: int = 101, cat: int = 48) -> Plot:
    return Plot(t=t, src=Source(sac=sac, sic=sic, cat=cat), lat=25.0, lon=-100.0,
                rho_nm=10.0, theta_deg=45.0, fl=300.0, mode3a="1234", icao24="ABC123",
                callsign="AMX1", track_number=None, gs_kt=None, hdg_deg=None,
                detection="modes", flags=[])


def track(t: float = WALL - 10) -> Track:
    return Track(t=t, src=Source(sac=0, sic=200, cat=62), track_number=7, lat=25.0,
                 lon=-100.0, fl=300.0, gs_kt=400.0, trk_deg=90.0, roc_fpm=0.0, mode3a=None,
                 icao24=None, callsign=None, fpl=None, flags=[])


def remote() -> RemoteBatches:
    return RemoteBatches([(0, 101)], [(0, 200)], max_early_s=5.0)


def test_good_batches_are_taken_as_the_normaliser_would_make_them() -> None:
    r = remote()
    batch = r.take("site/v1/plots/0-101", encode_batch([plot(), plot(WALL - 9)]), WALL)
    assert batch is not None and batch.kind == "plots" and batch.source == (0, 101)
    assert [m.t for m in batch.messages] == [WALL - 10, WALL - 9]
    tracks = r.take("any/prefix/at/all/tracks/0-200", encode_batch([track()]), WALL)
    assert tracks is not None and tracks.kind == "tracks" and tracks.source == (0, 200)
    assert r.counters == {"accepted": 2}


HOSTILE: list[tuple[str, str, bytes]] = [
    ("malformed", "s/plots/0-101", b"{not json"),
    ("malformed", "s/plots/0-101", b'\xff\xfe[]'),
    ("malformed", "s/plots/0-101", encode(plot())),  # one message, not an array
    ("malformed", "s/plots/0-101", b"[" * 100_000),  # nested too deeply
    ("malformed", "s/plots/0-101",  # an unknown field: another version, or forged
     encode_batch([plot()])[:-2] + b',"extra":1}]'),
    ("malformed", "s/plots/0-101",  # a latitude out of range
     encode_batch([plot()]).replace(b'"lat":25.0', b'"lat":125.0')),
    ("empty", "s/plots/0-101", b"[]"),
    ("oversize", "s/plots/0-101", b"[" + b" " * MAX_BATCH_BYTES + b"]"),
    ("wrong-topic", "s/picture", encode_batch([plot()])),
    ("wrong-topic", "s/plots/0-101/x", encode_batch([plot()])),
    ("wrong-topic", "s/plots/0-1011", encode_batch([plot()])),
    ("wrong-kind", "s/plots/0-101", encode_batch([plot(), track()])),
    ("wrong-kind", "s/tracks/0-200", encode_batch([plot(sic=200)])),
    ("wrong-kind", "s/plots/0-101", encode_batch([Fused(
        t=WALL, id="x-T1", state="confirmed", lat=None, lon=None, fl=None, gs_kt=None,
        trk_deg=None, roc_fpm=None, mode3a=None, icao24=None, callsign=None,
        pos_sigma_m=None, sources=[])])),
    ("wrong-source", "s/plots/0-101", encode_batch([plot(), plot(sic=102)])),
    ("wrong-source", "s/plots/0-101", encode_batch([plot(cat=62)])),
    ("unknown-source", "s/plots/0-102", encode_batch([plot(sic=102)])),
    ("future", "s/plots/0-101", encode_batch([plot(t=WALL + 3600)])),
]


@pytest.mark.parametrize(("why", "topic", "payload"), HOSTILE,
                         ids=[f"{n}-{h[0]}" for n, h in enumerate(HOSTILE)])
def test_hostile_payloads_are_counted_and_skipped(why: str, topic: str,
                                                  payload: bytes) -> None:
    r = remote()
    assert r.take(topic, payload, WALL) is None
    assert r.counters == {why: 1}
    assert r.last_error is not None and r.last_error.startswith(why)
    assert "\n" not in r.last_error and len(r.last_error) < 600
    # and the next good one is still taken
    assert r.take("s/plots/0-101", encode_batch([plot()]), WALL) is not None


def test_a_little_ahead_of_the_wall_clock_is_taken() -> None:
    r = remote()
    assert r.take("s/plots/0-101", encode_batch([plot(t=WALL + 4.9)]), WALL) is not None


def test_data_clock_is_the_datas_and_runs_at_real_time_only_between_data() -> None:
    clock = DataClock()
    assert clock.now(WALL) is None
    data = 1_700_000_000.0  # a capture of long ago, replayed fast
    for n in range(100):  # 20x: 1 s of data every 0.05 s of wall time
        clock.saw(data + n, WALL + n * 0.05)
    assert clock.now(WALL + 99 * 0.05) == data + 99
    assert clock.now(WALL + 99 * 0.05 + 2.0) == pytest.approx(data + 101)  # silence: 1x
    clock.saw(data + 50, WALL + 10)  # older data does not turn it back
    assert clock.latest == data + 99


def test_reorder_releases_in_the_datas_order_after_the_hold() -> None:
    reorder = Reorder(hold_s=2.0, limit=3)

    def batch(name: str) -> SourceBatch:
        return SourceBatch("plots", (0, int(name)), [])

    assert reorder.put(batch("3"), 103.0) == []
    assert reorder.put(batch("1"), 101.0) == []  # a site a little behind
    assert reorder.due(104.0) == [batch("1")]
    assert reorder.due(105.0) == [batch("3")]
    for n, t in ((5, 110.0), (6, 111.0), (7, 112.0)):
        assert reorder.put(batch(str(n)), t) == []
    assert reorder.put(batch("8"), 113.0) == [batch("5")]  # full: the oldest goes early
    assert reorder.counters["released-early"] == 1
    assert reorder.flush() == [batch("6"), batch("7"), batch("8")]
    assert len(reorder) == 0


def test_input_urls() -> None:
    assert parse_input_url("udp://232.1.1.1:21000") == UdpUrl("232.1.1.1", 21000)
    url = parse_input_url("mqtt://broker:1884/site/v1/plots/#")
    assert isinstance(url, MqttInputUrl)
    assert (url.broker.host, url.broker.port, url.filter) == ("broker", 1884, "site/v1/plots/#")
    assert str(url) == "mqtt://broker:1884/site/v1/plots/#"
    assert str(parse_input_url("mqtts://h/a/+/b")) == "mqtts://h:8883/a/+/b"
    for bad in ("mqtt://broker", "mqtt://broker/", "mqtt://b/a/#/c", "mqtt://b/a/x#",
                "mqtt://b/a+/c", "mqtt://b/$SYS/#", "mqtt://u:p@b/x", "mqtt://b:0/x"):
        with pytest.raises(ValueError):
            parse_input_url(bad)
    nodes = parse_input_url("mqtt://a:1884,[::1],c.example:1885/site/v1/#")
    assert isinstance(nodes, MqttInputUrl)
    assert [str(b) for b in nodes.brokers] == ["mqtt://a:1884", "mqtt://[::1]:1883",
                                               "mqtt://c.example:1885"]
    assert nodes.broker.host == "a" and nodes.filter == "site/v1/#"
    assert str(nodes) == "mqtt://a:1884,[::1]:1883,c.example:1885/site/v1/#"
    for bad, why in (("mqtt://a,,b/x", "an empty broker node"),
                     ("mqtt://a,/x", "an empty broker node"),
                     ("mqtt://a,mqtt://b/x", "the scheme is given once"),
                     ("mqtt://a,mqtts://b:1/x", "the scheme is given once"),
                     ("mqtt://a,a:1883/x", "named twice"),
                     ("mqtt://a,b:0/x", "node 'b:0': port '0'"),
                     ("mqtt://a,u:p@b/x", "node 'u:p@b': credentials"),
                     ("mqtt://a,b_c/x", "node 'b_c': 'b_c' is not a host name"),
                     ("mqtt://" + ",".join(f"n{i}" for i in range(17)) + "/x",
                      "at most 16 broker nodes")):
        with pytest.raises(ValueError, match=why):
            parse_input_url(bad)
    assert str(parse_input_url("mqtt://a,mqtt:1/x")) == "mqtt://a:1883,mqtt:1/x"  # a host
    assert topic_matches("a/+/c", "a/b/c") and topic_matches("a/#", "a")
    assert topic_matches("#", "a/b") and not topic_matches("a/+", "a/b/c")
    assert not topic_matches("a/b", "a/b/c")


CENTRE = """
[gateway]
id = "centre"
[[radar]]
sac = 0
sic = 101
name = "R"
lat = 25.0
lon = -100.0
alt_m = 100.0
[[input]]
url = "mqtt://127.0.0.1:1883/site/v1/plots/#"
[mqtt]
url = "mqtt://127.0.0.1"
topic_prefix = "centre/v1"
"""


def test_configuration_rules() -> None:
    config = loads(CENTRE)
    assert config.inputs[0].is_mqtt and config.associate.enabled
    own = CENTRE.replace('topic_prefix = "centre/v1"', 'topic_prefix = "site/v1"')
    with pytest.raises(ConfigError, match="matches this gateway's own topics"):
        loads(own)
    with pytest.raises(ConfigError, match="matches this gateway's own topics"):
        loads(CENTRE.replace("site/v1/plots/#", "#"))
    mixed = CENTRE + '[[input]]\nurl = "udp://232.1.1.1:21000"\n'
    with pytest.raises(ConfigError, match="all udp:// or all mqtt://"):
        loads(mixed)
    with pytest.raises(ConfigError, match="nothing to do"):
        loads(CENTRE + "[associate]\nenabled = false\n")
    cluster = CENTRE.replace("mqtt://127.0.0.1:1883/", "mqtt://a:1883,b:1883/")
    two = cluster + '[[input]]\nurl = "mqtt://a:1883,b:1883/site/v1/tracks/#"\n'
    assert len({i.where.brokers for i in loads(two).inputs}) == 1  # type: ignore[union-attr]
    for other in ("mqtt://b:1883,a:1883", "mqtt://a:1883", "mqtt://a:1883,b:1883,c:1883"):
        with pytest.raises(ConfigError, match="the same nodes in the same order"):
            loads(cluster + f'[[input]]\nurl = "{other}/site/v1/tracks/#"\n')
    apart = loads(cluster + '[[input]]\nurl = "mqtt://c:1883/site/v1/tracks/#"\n')
    assert len(apart.inputs) == 2  # another broker: its own connection
    with pytest.raises(ConfigError, match="connect_timeout_s"):
        loads(CENTRE + "connect_timeout_s = 0.1\n")
    assert loads(CENTRE + "connect_timeout_s = 1.5\n").mqtt.connect_timeout_s == 1.5  # type: ignore[union-attr]
    site = CENTRE.replace('url = "mqtt://127.0.0.1:1883/site/v1/plots/#"',
                          'url = "udp://232.1.1.1:21000"')
    assert not loads(site + "[associate]\nenabled = false\n").associate.enabled
    airspace = Path(__file__).resolve().parent.parent / "captures" / "border-airspace.geojson"
    handoff = f'[handoff]\nairspace = "{airspace}"\nunits = ["MMTY"]\npeers = ["KZAB"]\n'
    assert loads(site + handoff).handoff is not None
    with pytest.raises(ConfigError, match="leaves \\[handoff\\] nothing"):
        loads(site + "[associate]\nenabled = false\n" + handoff)


def test_feed_reconnects_after_the_broker_goes_away(mosquitto: Any) -> None:
    """A real broker killed and started again: the feed notices, reconnects, subscribes
    again and takes what is published after; what it takes is bounded by the inbox."""
    url = parse_input_url(f"{mosquitto.url}/site/v1/plots/#")
    assert isinstance(url, MqttInputUrl)
    inbox = Inbox(limit=5)

    async def publish(n: int, retain: bool = False) -> None:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as pub:
            for i in range(n):
                await pub.publish("site/v1/plots/0-101", json.dumps([i]).encode(),
                                  retain=retain)

    async def main() -> MqttFeed:
        await publish(1, retain=True)  # a broker's stale copy, sent on subscribing
        feed = MqttFeed([url], inbox, None, client_id="test", backoff_min_s=0.1)
        stopping = asyncio.Event()
        task = asyncio.create_task(feed.run(stopping))

        async def until(cond: Any) -> None:
            for _ in range(400):
                if cond():
                    return
                await asyncio.sleep(0.025)  # the pace of looking, not a guess
            raise AssertionError(feed.counters)

        await until(lambda: feed.connected)
        await publish(3)
        await until(lambda: len(inbox) == 3)
        await asyncio.to_thread(mosquitto.kill)
        await until(lambda: not feed.connected)
        await asyncio.to_thread(mosquitto.start)
        await until(lambda: feed.connected)
        await publish(4)  # 3 + 4 > 5: two dropped, counted
        await until(lambda: feed.counters["received"] == 7)
        stopping.set()
        await task
        return feed

    feed = asyncio.run(main())
    assert feed.counters["connects"] == 2 and feed.counters["disconnects"] == 1
    assert len(inbox) == 5 and inbox.counters["dropped-full"] == 2
    assert feed.counters["skipped-retained"] == 1


def test_feed_fails_over_past_a_silent_node_and_closes_what_it_gave_up(
        broker_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    """An input on three nodes: a Mosquitto, a node that takes the TCP connection and never
    answers (as a cluster's node does while JetStream elects leaders), another Mosquitto.
    The first is killed: the input gives the silent one up after ``connect_timeout_s``
    (its socket closed, not left to take the session later), connects to the third, one
    failover, and takes what is published there."""
    a, c = broker_factory(), broker_factory()
    a.start()
    c.start()
    accepted: list[asyncio.StreamReader] = []
    closed = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(reader)
        await reader.read()  # whatever the client sends; returns at its close
        closed.set()
        writer.close()

    async def publish(port: int) -> None:
        async with aiomqtt.Client("127.0.0.1", port) as pub:
            await pub.publish("site/v1/plots/0-101", b"[1]")

    async def main() -> MqttFeed:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        url = parse_input_url(f"mqtt://127.0.0.1:{a.port},127.0.0.1:{port},"
                              f"127.0.0.1:{c.port}/site/v1/plots/#")
        assert isinstance(url, MqttInputUrl)
        config = MqttConfig(url="mqtt://127.0.0.1", connect_timeout_s=0.5)
        feed = MqttFeed([url], Inbox(limit=10), config, client_id="test", backoff_min_s=0.1)
        stopping = asyncio.Event()
        task = asyncio.create_task(feed.run(stopping))
        async with asyncio.timeout(30):
            while not feed.connected:
                await asyncio.sleep(0.02)  # the pace of looking, not a guess
            assert feed.where == a.url
            await asyncio.to_thread(a.kill)
            while not (feed.connected and feed.where == c.url):
                await asyncio.sleep(0.02)
            await closed.wait()  # the attempt on the silent node: closed by the input
            while feed.counters["received"] < 1:
                await publish(c.port)
                await asyncio.sleep(0.1)  # the pace of publishing again
        stopping.set()
        await task
        server.close()
        return feed

    feed = asyncio.run(main())
    assert feed.counters["failovers"] == 1 and feed.counters["disconnects"] == 1
    assert feed.counters["connect-failures"] == 1 and len(accepted) == 1
    assert "timed out; trying" in caplog.text  # the silent node, given up


def test_a_centre_given_one_processs_batches_in_its_order_makes_its_picture() -> None:
    """The seam: ``receive_batch`` is association exactly as ``feed`` runs it, so a
    centre's picture differs from one process's only by the order batches reach it
    (docs/deployment.md)."""
    import itertools

    from gateway.config import load
    from gateway.ingest import read_datagrams
    from gateway.pipeline import Pipeline
    from gateway.publish.batch import Kind

    root = Path(__file__).resolve().parent.parent
    config = load(root / "captures" / "border.toml")
    one = Pipeline(config)
    batches: list[SourceBatch] = []
    picture: list[Any] = []
    datagrams = list(itertools.islice(read_datagrams(root / "captures" /
                                                     "border-10min.pcap.gz"), 4000))
    for n in range(0, len(datagrams), 1024):
        chunk = datagrams[n:n + 1024]
        for pub in one.feed([d.payload for d in chunk], [d.t_capture for d in chunk]):
            if pub.kind in (Kind.PLOTS, Kind.TRACKS):
                assert pub.source is not None
                batches.append(SourceBatch(pub.kind.value, pub.source, pub.messages))  # type: ignore[arg-type]
            elif pub.kind is Kind.PICTURE:
                picture.extend(pub.messages)
    centre = Pipeline(config)
    theirs = [m for b in batches for pub in centre.receive_batch(b)
              if pub.kind is Kind.PICTURE for m in pub.messages]
    assert len(picture) > 1000
    assert theirs == picture
    again = Pipeline(config)
    assert all(pub.kind not in (Kind.PLOTS, Kind.TRACKS)  # not published again
               for b in batches[:50] for pub in again.receive_batch(b))


def test_replay_at_needs_a_speed_and_a_time() -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    base = [sys.executable, "-m", "gateway.cli", "replay", str(root / "captures" /
            "border-10min.pcap.gz"), "--config", str(root / "captures" / "border.toml"),
            "--out", os.devnull]
    env = {**os.environ, "PYTHONPATH": str(root)}
    for extra, says in ((["--at", "1780000000"], b"--at needs --speed N"),
                        (["--speed", "20", "--at", "-5"], b"--at must be positive"),
                        (["--speed", "20", "--at", "soon"], b"--at is a UTC epoch time")):
        done = subprocess.run([*base, *extra], capture_output=True, env=env, timeout=60)
        assert done.returncode == 2, done.stderr
        assert says in done.stderr, done.stderr


def test_health_and_metrics_name_each_inputs_node_and_failovers() -> None:
    """/health's remote_inputs and /metrics say which node each input is on (connected or
    being tried) and how many failovers it made; inputs on one cluster share a feed."""
    from gateway.service.centre import RemoteInputs
    from gateway.service.metrics import Metrics, Snapshot

    text = CENTRE.replace("mqtt://127.0.0.1:1883/", "mqtt://a:1883,b:1883/") + (
        '[[input]]\nurl = "mqtt://a:1883,b:1883/site/v1/tracks/#"\n')
    config = loads(text)
    remote = RemoteInputs(config, config.mqtt)
    [feed] = remote.feeds  # both inputs: one connection
    name = "mqtt://a:1883,b:1883/site/v1/plots/# mqtt://a:1883,b:1883/site/v1/tracks/#"
    assert str(feed) == name
    feed.nodes.connected()  # on a, then a drops: b is tried
    feed.nodes.failed()

    def report() -> tuple[dict[str, Any], str]:
        snap, health = Snapshot(), {}  # type: ignore[var-annotated]
        remote.add_metrics(snap, health)
        return health["remote_inputs"][name], Metrics(lambda: snap).exposition().decode()

    health, metrics = report()
    assert (health["connected"], health["node"], health["failovers"]) == (
        False, "mqtt://b:1883", 0)
    assert f'gateway_remote_node{{input="{name}",node="mqtt://b:1883"}} 0.0' in metrics
    assert remote.failures() == {f"input {name}": "not connected yet"}
    feed.connected = True  # as run() does on b's CONNACK and SUBACKs
    feed.counters["failovers"] += feed.nodes.connected()
    health, metrics = report()
    assert (health["connected"], health["node"], health["failovers"]) == (
        True, "mqtt://b:1883", 1)
    assert f'gateway_remote_node{{input="{name}",node="mqtt://b:1883"}} 1.0' in metrics
    assert (f'gateway_remote_connections_total{{event="failovers",input="{name}"}} 1.0'
            in metrics)
    assert remote.failures() == {}
