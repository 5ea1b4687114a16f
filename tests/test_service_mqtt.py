"""The service against a real Mosquitto (started per test on a free port by conftest.py)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import shutil
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import msgspec
import paho.mqtt.subscribe as subscribe
import pytest
from test_messages import FUSED, FUSED_ENDED, MODES_PLOT, T

from gateway.config import MqttConfig, loads
from gateway.config.sections import CONNECT_TIMEOUT_S
from gateway.ingest import IngestStats
from gateway.messages import Alert, decode, decode_batch
from gateway.publish.batch import Kind, Published
from gateway.publish.mqtt import MqttSink
from gateway.publish.outbox import Outbox
from gateway.publish.topics import Outbound, Topics
from gateway.service.inputs import Pacer, replay_captures
from gateway.service.shell import Service

ROOT = Path(__file__).resolve().parent.parent
BORDER_PATH = ROOT / "captures" / "border.toml"
BORDER_TOML = BORDER_PATH.read_text()


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two minutes of the border scenario."""
    out = tmp_path_factory.mktemp("capture") / "border-2min.pcap"
    subprocess.run([sys.executable, "-m", "gateway.cli", "simulate", "--scenario", "border",
                    "--duration", "120", "--seed", "7", "--out", str(out)],
                   check=True, capture_output=True)
    return out


def client(port: int, v5: bool = True, **kw: Any) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V5 if v5
                          else aiomqtt.ProtocolVersion.V311, **kw)


async def retained(port: int, topic: str) -> dict[str, bytes]:
    """What a subscriber arriving now gets at once: the retained messages.  They are all
    in when a marker it publishes after subscribing comes back, as the broker sends each
    subscriber its messages in order (no waiting for a silence)."""
    marker = f"test-marker/{uuid.uuid4().hex}"
    got: dict[str, bytes] = {}
    async with client(port) as sub:
        await sub.subscribe(marker, qos=1)
        await sub.subscribe(topic, qos=1)
        await sub.publish(marker, b"", qos=1)
        async with asyncio.timeout(10):
            async for m in sub.messages:
                if str(m.topic) == marker:
                    break
                got[str(m.topic)] = bytes(m.payload)  # type: ignore[arg-type]
    return got


@pytest.mark.slow
def test_replay_publishes_every_message_intact(mosquitto: Any, capture: Path) -> None:
    """Everything the file sink holds reaches a subscriber, batch for batch, and the
    status goes online then offline (retained)."""
    config = loads(BORDER_TOML, str(BORDER_PATH))
    out = io.BytesIO()
    by_topic: dict[str, list[bytes]] = defaultdict(list)

    async def main() -> Service:
        async with client(mosquitto.port) as sub:
            await sub.subscribe("surv/v1/#", qos=1)
            pacer = Pacer(None)
            service = Service(config, mqtt=MqttConfig(url=mosquitto.url), out=out, pacer=pacer)
            source = asyncio.create_task(replay_captures(
                [str(capture)], service.intake, pacer, IngestStats(), stopping=service.stopping))
            running = asyncio.create_task(service.run([source]))
            async with asyncio.timeout(120):
                async for m in sub.messages:
                    by_topic[str(m.topic)].append(bytes(m.payload))  # type: ignore[arg-type]
                    if str(m.topic).startswith("surv/v1/status/") and b'"offline"' in bytes(
                            m.payload):  # type: ignore[arg-type]
                        break
            await running
            return service

    service = asyncio.run(main())
    assert service.sink is not None and service.outbox is not None
    assert not {k: v for k, v in service.outbox.counters.items() if k.startswith("dropped")}
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    plots = [m for m in lines if m["kind"] == "plot"]
    assert len(plots) > 5000
    sent_plots = [m for k, v in by_topic.items() if "/plots/" in k
                  for payload in v for m in json.loads(payload)]
    assert sorted(json.dumps(m, sort_keys=True) for m in sent_plots) == sorted(
        json.dumps(m, sort_keys=True) for m in plots)
    for topic, payloads in by_topic.items():  # each radar's batches in order
        if "/plots/0-101" in topic:
            flat = [m for p in payloads for m in json.loads(p)]
            assert flat == [m for m in plots if (m["src"]["sac"], m["src"]["sic"]) == (0, 101)]
    tracks = [m for m in lines if m["kind"] == "track"]
    assert sum(len(json.loads(p)) for k, v in by_topic.items() if "/tracks/" in k
               for p in v) == len(tracks)
    picture = [m for p in by_topic["surv/v1/picture"] for m in json.loads(p)]
    assert picture == [m for m in lines if m["kind"] == "fused"]
    for payload in by_topic["surv/v1/picture"][:50]:
        decode_batch(payload)  # valid v1 on the wire
    status = [decode(p) for p in by_topic["surv/v1/status/border-gw-1"]]
    assert status[0].state == "online" and status[-1].state == "offline"  # type: ignore
    assert status[0].counters["datagrams"] >= 0  # type: ignore[union-attr]
    fused_topics = [k for k in by_topic if k.startswith("surv/v1/fused/")]
    assert len(fused_topics) > 100  # a state topic per system track
    for topic in fused_topics[:20]:  # the latest state on each topic is the track's last one
        last = by_topic[topic][-1]
        track_id = topic.rsplit("/", 1)[1]
        final = [m for m in picture if m["id"] == track_id][-1]
        assert last == b"" if final["state"] == "ended" else json.loads(last) == final


async def run_sink(where: int | list[str], body: Callable[[MqttSink, Outbox], Awaitable[None]],
                   *, protocol: str = "5", expiry: int = 60, **kw: Any) -> MqttSink:
    """A sink on its own (no pipeline), on a local broker's port or on the nodes of a
    cluster (their URLs): ``body`` puts messages and checks the broker."""
    topics = Topics("t", "gw", expiry)
    outbox = Outbox(limit=kw.pop("limit", 10_000), reliable_limit=10_000)
    nodes = {"url": f"mqtt://127.0.0.1:{where}"} if isinstance(where, int) \
        else {"urls": tuple(where)}
    config = MqttConfig(protocol=protocol, topic_prefix="t",  # type: ignore[arg-type]
                        username=kw.pop("username", None), password=kw.pop("password", None),
                        connect_timeout_s=kw.pop("connect_timeout_s", CONNECT_TIMEOUT_S),
                        **nodes)
    sink = MqttSink(config, outbox, client_id="test-gw",
                    status=lambda state: topics.status(state, T, {}), **kw)
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    try:
        await body(sink, outbox)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    return sink


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Until the sink's counters say so (they change with no event to wait on); an error
    after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)  # the pace of looking again


def test_fused_topics_are_retained_expire_and_clear_when_ended(mosquitto: Any) -> None:
    topics = Topics("t", "gw", fused_expiry_s=2)

    async def body(sink: MqttSink, outbox: Outbox) -> None:
        outbox.put(topics.outbound(Published(Kind.PICTURE, [FUSED, FUSED_ENDED])))
        sink.notify()
        await until(lambda: sink.counters["published"] >= 5)  # online + 4
        got = await retained(mosquitto.port, "t/fused/#")
        assert list(got) == ["t/fused/FT-000042"]  # the ended track's topic was cleared
        assert decode(got["t/fused/FT-000042"]) == FUSED
        status = await retained(mosquitto.port, "t/status/#")
        assert decode(status["t/status/gw"]).state == "online"  # type: ignore[union-attr]
        await asyncio.sleep(2.5)  # what is tested: 2 s of expiry pass, the broker drops it
        assert await retained(mosquitto.port, "t/fused/#") == {}  # expired

    asyncio.run(run_sink(mosquitto.port, body, expiry=2))
    status = asyncio.run(retained(mosquitto.port, "t/status/#"))
    assert decode(status["t/status/gw"]).state == "offline"  # type: ignore[union-attr]


def test_mqtt_311_publishes_retained_without_expiry(mosquitto: Any) -> None:
    topics = Topics("t", "gw", fused_expiry_s=1)

    async def body(sink: MqttSink, outbox: Outbox) -> None:
        outbox.put(topics.outbound(Published(Kind.PICTURE, [FUSED])))
        sink.notify()
        await until(lambda: sink.counters["published"] >= 3)
        await asyncio.sleep(1.5)  # what is tested: 3.1.1 has no message expiry, still there
        got = await retained(mosquitto.port, "t/fused/#")
        assert decode(got["t/fused/FT-000042"]) == FUSED

    asyncio.run(run_sink(mosquitto.port, body, protocol="3.1.1"))


def test_a_qos1_state_among_qos0_states_keeps_the_order(mosquitto: Any) -> None:
    """A registration (QoS 1, retained, keyed) taken with fused states in one chunk: the
    QoS 0 runs around it go joined, it waits for its PUBACK, and a subscriber gets every
    message in the order put."""
    states = [Outbound(f"t/fused/FT-{i:06d}", b"%d" % i, retain=True, key=f"t/fused/FT-{i:06d}")
              for i in range(300)]
    registration = Outbound("t/registration/0-101", b"r", qos=1, retain=True,
                            key="t/registration/0-101")
    put = [*states[:100], registration, *states[100:200], registration, *states[200:]]
    expected = [m.topic for m in [*states[:100], registration, registration, *states[100:]]]
    got: list[str] = []

    async def body(sink: MqttSink, outbox: Outbox) -> None:
        async with client(mosquitto.port) as sub:
            await sub.subscribe("t/fused/#", qos=1)
            await sub.subscribe("t/registration/#", qos=1)
            outbox.put(put)  # one call: the registration's two messages are one state
            sink.notify()
            async with asyncio.timeout(10):
                async for m in sub.messages:
                    got.append(str(m.topic))
                    if len(got) == len(expected):
                        break
        assert sink.pubacks["registration", 0] + sink.pubacks["registration", 16] == 2

    asyncio.run(run_sink(mosquitto.port, body))
    assert got == expected


def alert(serial: int) -> Alert:
    return Alert(t=T + serial, type="lam-timeout", track_id=None, text=f"serial {serial}")


def test_broker_killed_and_restarted_loses_no_qos1_message(mosquitto: Any) -> None:
    """Alerts (QoS 1) keep coming while the broker dies and comes back: every one arrives.

    What this proves is the gateway's side: what the broker had not acknowledged is sent
    again.  The broker keeps nothing (no persistence) and the subscriber is back within
    20 ms with a fresh session, before the gateway; delivery to a subscriber that is away
    across a broker crash is tests/test_broker.py's."""
    received: set[int] = set()
    topics = Topics("t", "gw", 60)
    total = 300

    async def subscriber(stop: asyncio.Event, subscribed: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with client(mosquitto.port) as sub:
                    await sub.subscribe("t/alerts", qos=1)
                    subscribed.set()
                    async for m in sub.messages:
                        received.add(int(decode(bytes(m.payload)).text.split()[1]))  # type: ignore
            except aiomqtt.MqttError:
                await asyncio.sleep(0.02)  # reconnecting: the pace of trying again

    async def body(sink: MqttSink, outbox: Outbox) -> None:
        stop, subscribed = asyncio.Event(), asyncio.Event()
        sub = asyncio.create_task(subscriber(stop, subscribed))
        async with asyncio.timeout(10):
            await subscribed.wait()
        for serial in range(total):
            outbox.put(topics.outbound(Published(Kind.ALERTS, [alert(serial)])))
            sink.notify()
            if serial == 100:
                await until(lambda: 90 <= len(received))
                await asyncio.to_thread(mosquitto.kill)
            if serial == 150:  # the sink has seen the broker go before it comes back
                await until(lambda: sink.counters["disconnects"] >= 1)
                await asyncio.to_thread(mosquitto.start)
            await asyncio.sleep(0.005)  # what is tested: alerts keep coming, over time
        await until(lambda: len(received) == total, timeout=30)
        stop.set()
        sub.cancel()

    sink = asyncio.run(run_sink(mosquitto.port, body, backoff_min_s=1.0,
                                publish_timeout_s=1.0))
    assert received == set(range(total))
    assert sink.counters["connects"] >= 2 and sink.counters["disconnects"] >= 1


def test_broker_down_outbox_stays_bounded_then_delivers_what_it_kept(
        broker_factory: Callable[..., Any]) -> None:
    broker = broker_factory()  # not started yet: nothing listens on its port
    topics = Topics("t", "gw", 60)

    async def body(sink: MqttSink, outbox: Outbox) -> None:
        for i in range(50):
            outbox.put(topics.outbound(Published(Kind.PLOTS, [_plot(i)], (0, 101))))
            sink.notify()
        await until(lambda: sink.counters["connect-failures"] >= 1)
        assert len(outbox) == 20 and outbox.counters["dropped-stream"] == 30
        got: list[int] = []
        await asyncio.to_thread(broker.start)
        async with client(broker.port) as sub:
            await sub.subscribe("t/plots/#")
            async with asyncio.timeout(20):
                async for m in sub.messages:
                    got.extend(p.track_number for p in decode_batch(bytes(m.payload)))  # type: ignore
                    if len(got) == 20:
                        break
        assert got == list(range(30, 50))  # the newest 20, in order

    asyncio.run(run_sink(broker.port, body, limit=20, backoff_min_s=0.2))


def _plot(n: int) -> Any:
    return msgspec.structs.replace(MODES_PLOT, track_number=n)


def make_certificates(directory: Path) -> None:
    """``ca.crt`` and a certificate it signs for 127.0.0.1 (``server.crt``, ``server.key``)."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.crt", "-days", "1", "-subj", "/CN=test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=127.0.0.1")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "san.ext")


def make_tls_broker(directory: Path, broker_factory: Callable[..., Any]) -> Any:
    """A broker that speaks only TLS (a test CA signs its certificate for 127.0.0.1) and
    wants a user name and password."""
    make_certificates(directory)
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(directory / "passwd"), "gw",
                    "s3cret-pw"], check=True, capture_output=True)
    return broker_factory(listener=(
        f"cafile {directory / 'ca.crt'}\ncertfile {directory / 'server.crt'}\n"
        f"keyfile {directory / 'server.key'}\nallow_anonymous false\n"
        f"password_file {directory / 'passwd'}\n"))


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("openssl") or not shutil.which("mosquitto_passwd")
                    or not shutil.which("mosquitto"), reason="needs openssl and mosquitto")
def test_tls_with_password_from_the_environment(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture,
                                                broker_factory: Callable[..., Any]) -> None:
    broker = make_tls_broker(tmp_path, broker_factory)
    broker.start()
    text = (f'[gateway]\nid = "gw"\n[mqtt]\nurl = "mqtts://127.0.0.1:{broker.port}"\n'
            f'username = "gw"\npassword_env = "GW_PW"\nca_file = "{tmp_path / "ca.crt"}"\n')
    caplog.set_level(logging.DEBUG)
    try:
        good = loads(text, env={"GW_PW": "s3cret-pw"}).mqtt
        bad = loads(text, env={"GW_PW": "wrong-pw"}).mqtt
        assert good is not None and bad is not None

        async def main() -> tuple[MqttSink, MqttSink]:
            sinks = []
            for config in (good, bad):
                outbox = Outbox(100, 100)
                topics = Topics("t", "gw", 60)
                sink = MqttSink(config, outbox, client_id="gw",
                                status=lambda s, topics=topics: topics.status(s, T, {}),
                                backoff_min_s=0.2)
                stop = asyncio.Event()
                task = asyncio.create_task(sink.run(stop))
                await until(lambda sink=sink: sink.counters["published"] >= 1
                            or sink.counters["connect-failures"] >= 2)
                stop.set()
                await asyncio.wait_for(task, 30)
                sinks.append(sink)
            return sinks[0], sinks[1]

        ok, refused = asyncio.run(main())
        assert ok.counters["published"] >= 1 and ok.counters["connect-failures"] == 0
        assert refused.counters["published"] == 0 and refused.counters["connect-failures"] >= 2
        m = subscribe.simple("t/status/gw", hostname="127.0.0.1", port=broker.port,
                             retained=True, auth={"username": "gw", "password": "s3cret-pw"},
                             tls={"ca_certs": str(tmp_path / "ca.crt")})
        assert json.loads(m.payload)["state"] == "offline"  # type: ignore[union-attr]
    finally:
        broker.stop()
    assert "s3cret-pw" not in caplog.text and "wrong-pw" not in caplog.text
    assert "mqtts://127.0.0.1" in caplog.text  # it did log where it connected


def test_a_quiet_sink_notices_its_broker_die(mosquitto: Any) -> None:
    """With nothing to send the lanes only wait for work: the loss of the broker must still
    be noticed (disconnects counted, ``connected`` false, so /health says so) without a
    publish to fail on.  It stayed "connected" for 30 s and more."""

    async def body(sink: MqttSink, outbox: Outbox) -> None:
        await until(lambda: sink.connected and sink.counters["published"] >= 1)  # online
        mosquitto.kill()
        await until(lambda: not sink.connected, timeout=20)
        assert sink.counters["disconnects"] == 1

    asyncio.run(run_sink(mosquitto.port, body, drain_timeout_s=0.5))
