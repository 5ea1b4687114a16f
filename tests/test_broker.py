"""What the broker tells the gateway, and what the gateway can count on from it: PUBACK
reason codes counted and acted on, delivery across a broker SIGKILL to a subscriber that is
away, and the shipped Mosquitto configuration enforcing who may speak.  Each test starts its
own Mosquitto on a free port (conftest.py)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
import msgspec
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from test_messages import AIDC, ALERT, T
from test_service_mqtt import client, make_certificates, run_sink, until

from gateway.config import loads
from gateway.publish.batch import Kind, Published
from gateway.publish.mqtt import MqttSink
from gateway.publish.outbox import Outbox
from gateway.publish.topics import Outbound, Topics
from gateway.service.shell import Service

ROOT = Path(__file__).resolve().parent.parent

needs_passwd = pytest.mark.skipif(not shutil.which("mosquitto_passwd"),
                                  reason="needs mosquitto_passwd")


def password_file(path: Path, users: dict[str, str]) -> Path:
    for i, (user, password) in enumerate(users.items()):
        subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if i == 0 else []), str(path),
                        user, password], check=True, capture_output=True)
    return path


def test_puback_reason_codes_are_counted_in_metrics_and_nobody_listening_is_warned(
        mosquitto: Any, caplog: pytest.LogCaptureFixture) -> None:
    """MQTT 5: an `aidc` message nobody subscribes to comes back with reason code 16 (a
    warning, once however many follow), one with a subscriber with 0; /metrics has both."""
    config = loads(f'[gateway]\nid = "gw"\n[mqtt]\nurl = "{mosquitto.url}"\n')
    service = Service(config, mqtt=config.mqtt)
    sink, outbox = service.sink, service.outbox
    assert sink is not None and outbox is not None
    topics = service.topics
    caplog.set_level(logging.WARNING, "gateway.publish.mqtt")

    def send(n: int) -> None:
        for serial in range(n):
            outbox.put(topics.outbound(Published(Kind.AIDC, [
                msgspec.structs.replace(AIDC, serial=serial + 1)])))
        sink.notify()

    async def main() -> None:
        running = asyncio.create_task(service.run())
        await until(lambda: sink.connected and sink.counters["published"] >= 1)  # online
        send(3)
        await until(lambda: sink.pubacks["aidc", 16] == 3)
        async with client(mosquitto.port) as sub:
            await sub.subscribe(f"{topics.prefix}/aidc/#", qos=1)
            send(2)
            await until(lambda: sink.pubacks["aidc", 0] == 2)
        service.stopping.set()
        await asyncio.wait_for(running, 30)

    asyncio.run(main())
    warnings = [r for r in caplog.records if "nobody subscribes" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "surv/v1/aidc/MMTY/KZAB" in warnings[0].getMessage()
    text = service.metrics.exposition().decode()
    assert 'gateway_mqtt_puback_total{code="16",kind="aidc"} 3.0' in text
    assert 'gateway_mqtt_puback_total{code="0",kind="aidc"} 2.0' in text
    assert 'gateway_mqtt_puback_total{code="16",kind="status"}' in text  # counted, not warned
    assert 'gateway_mqtt_messages_total{outcome="dropped-refused"} 0.0' in text


@needs_passwd
def test_a_message_the_broker_refuses_is_dropped_and_counted_not_retried(
        broker_factory: Callable[..., Any], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """An ACL that lets the gateway publish alerts but not `aidc`: the AIDC message gets
    PUBACK 135 (not authorized), is dropped and counted once, and the alert behind it
    still goes through (the reliable lane is not stuck resending it)."""
    (tmp_path / "acl").write_text("user gw\ntopic write t/alerts\ntopic write t/status/#\n"
                                  "topic read t/#\n")
    broker = broker_factory(password_file=password_file(tmp_path / "passwd", {"gw": "pw"}),
                            acl_file=tmp_path / "acl")
    broker.start()
    topics = Topics("t", "gw", 60)
    caplog.set_level(logging.WARNING, "gateway.publish.mqtt")

    async def body(sink: MqttSink, outbox: Outbox) -> None:
        async with client(broker.port, username="gw", password="pw") as sub:
            await sub.subscribe("t/#", qos=1)
            outbox.put(topics.outbound(Published(Kind.AIDC, [AIDC])))
            outbox.put(topics.outbound(Published(Kind.ALERTS, [ALERT])))
            sink.notify()
            async with asyncio.timeout(10):
                async for m in sub.messages:
                    if str(m.topic) == "t/alerts":
                        break
        await until(lambda: len(outbox) == 0)

    sink = asyncio.run(run_sink(broker.port, body, username="gw", password="pw"))
    assert sink.pubacks["aidc", 135] == 1 and sink.counters["dropped-refused"] == 1
    assert sink.pubacks["alerts", 0] == 1
    errors = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(errors) == 1 and errors[0].levelno == logging.ERROR
    assert "t/aidc/MMTY/KZAB" in errors[0].getMessage() and "135" in errors[0].getMessage()


# -- a broker SIGKILL while the subscriber is away -------------------------------------------

SAVE_EVERY_CHANGE = "autosave_interval 1\nautosave_on_changes true\n"


def persistent_subscriber(port: int) -> aiomqtt.Client:
    """The operator's QoS 1 subscriber: its session (subscriptions and the messages queued
    for it) outlives its connection by an hour, and, with persistence, the broker."""
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    return client(port, identifier="operator", clean_start=False, properties=properties)


def traffic(n: int, topics: Topics) -> list[list[Outbound]]:
    """``n`` distinct QoS 1 messages, `aidc` and `alerts` in turn (each payload unique)."""
    out = []
    for i in range(n):
        if i % 2:
            m: Any = msgspec.structs.replace(ALERT, t=T + i, text=f"alert {i}")
            kind = Kind.ALERTS
        else:
            m = msgspec.structs.replace(AIDC, t=T + i, serial=i % 999 + 1)
            kind = Kind.AIDC
        out.append(list(topics.outbound(Published(kind, [m]))))
    return out


def kill_restart_while_away(broker: Any, kill: Callable[[], None], total: int = 300,
                            kill_at: int = 100
                            ) -> tuple[set[bytes], set[bytes], set[bytes], MqttSink]:
    """The operator subscribes (persistent session) and goes away; the gateway streams
    messages, 200 a second; ``kill`` SIGKILLs the broker after ``kill_at`` of them; once
    the gateway has noticed, the broker is started again; the gateway reconnects and sends
    the rest (``total`` at least); only then the operator comes back.  What was sent, what
    the broker had acknowledged when it died, what the operator received, and the sink."""
    topics = Topics("t", "gw", 60)
    messages = traffic(total * 10, topics)
    put: set[bytes] = set()
    received: set[bytes] = set()
    acknowledged: set[bytes] = set()

    async def body(sink: MqttSink, outbox: Outbox) -> None:
        async with persistent_subscriber(broker.port) as sub:
            await sub.subscribe("t/aidc/#", qos=1)
            await sub.subscribe("t/alerts", qos=1)
        killing: asyncio.Task[None] | None = None
        restarted = False

        async def restart_once_noticed() -> None:
            """Once the sink has noticed the broker's death (it notices when it next
            publishes, so the stream goes on meanwhile), start the broker again."""
            nonlocal restarted
            if restarted or killing is None or not killing.done():
                return
            await killing
            if sink.counters["disconnects"] < 1:
                return
            # Every PUBACK the dead broker wrote has been read by now (they came before
            # the connection's end): what left the outbox had been acknowledged.
            waiting = {m.payload for m in outbox.reliable}
            acknowledged.update(m.payload for g in messages for m in g
                                if m.payload in put and m.payload not in waiting)
            await asyncio.to_thread(broker.start)
            restarted = True

        # The operator is away from here on.  The stream goes on until ``total`` and the
        # broker's restart: a sink with nothing to send would not notice the death.
        for i, group in enumerate(messages):
            if i >= total and restarted:
                break
            outbox.put(group)
            put.update(m.payload for m in group)
            sink.notify()
            if i == kill_at:  # some acknowledged; the stream goes on while it dies
                await until(lambda: sink.counters["published"] >= kill_at * 0.8)
                killing = asyncio.create_task(asyncio.to_thread(kill))
            await restart_once_noticed()
            await asyncio.sleep(0.005)  # what is tested: messages keep coming, over time
        assert restarted, "the broker was never noticed dead"
        await until(lambda: sink.counters["connects"] >= 2 and len(outbox) == 0, 60)
        async with persistent_subscriber(broker.port) as sub:  # back, after the gateway
            marker = "t/marker"
            await sub.subscribe(marker, qos=1)
            await sub.publish(marker, b"end", qos=1)  # queued behind everything it missed
            async with asyncio.timeout(30):
                async for m in sub.messages:
                    if str(m.topic) == marker:
                        break
                    received.add(bytes(m.payload))  # type: ignore[arg-type,unused-ignore]

    sink = asyncio.run(run_sink(broker.port, body, backoff_min_s=0.5,
                                publish_timeout_s=1.0))
    assert sink.counters["disconnects"] >= 1 and sink.counters["connects"] >= 2
    assert 0 < len(acknowledged) < len(put)  # killed mid-stream indeed
    return put, acknowledged, received, sink


@pytest.mark.slow
def test_broker_sigkilled_mid_stream_loses_nothing_for_a_subscriber_that_is_away(
        broker_factory: Callable[..., Any]) -> None:
    """Persistence saving on every change, a persistent QoS 1 session away while the
    broker dies: every `aidc` and `alerts` message reaches it, matched by content: what
    the broker had acknowledged and saved from its store, what was in flight from the
    gateway's outbox (sent again after the reconnect).  The SIGKILL falls after a save
    (``kill_between_saves``); the next test shows what a kill inside the window costs."""
    broker = broker_factory(persistence=True, autosave=SAVE_EVERY_CHANGE)
    broker.start()
    sent, acknowledged, received, _ = kill_restart_while_away(broker, broker.kill_between_saves)
    assert received == sent


@pytest.mark.slow
def test_broker_sigkilled_anywhere_loses_at_most_the_message_it_acknowledged_last(
        broker_factory: Callable[..., Any]) -> None:
    """A SIGKILL at any moment: Mosquitto writes the PUBACK while handling a PUBLISH and
    saves at the end of that turn of its loop, which handles one packet per client, so
    what can be lost is the one message acknowledged but not yet saved, never one the
    gateway still held (measured: 3 runs of 20 lost one message, 17 lost none)."""
    broker = broker_factory(persistence=True, autosave=SAVE_EVERY_CHANGE)
    broker.start()
    sent, acknowledged, received, _ = kill_restart_while_away(broker, broker.kill)
    lost = sent - received
    assert lost <= acknowledged and len(lost) <= 1


# -- who may speak: the shipped configuration and ACL ----------------------------------------

SHIPPED = ROOT / "docs" / "broker"
PEERS = {"border-gw-1": "gw-pw", "KZAB": "kzab-pw", "KZHU": "kzhu-pw"}


def shipped_config(directory: Path) -> str:
    """docs/broker/mosquitto.conf with only the port, the store, the certificates, the
    password and ACL files replaced (each must be there to be replaced): a template for
    the broker fixture."""
    values = {"listener": "{port} 127.0.0.1", "persistence_location": "{directory}/store/",
              "cafile": f"{directory}/ca.crt", "certfile": f"{directory}/server.crt",
              "keyfile": f"{directory}/server.key", "password_file": f"{directory}/passwd",
              "acl_file": f"{SHIPPED}/acl.example"}
    lines, replaced = [], set()
    for line in (SHIPPED / "mosquitto.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        if key in values:
            line = f"{key} {values[key]}"
            replaced.add(key)
        lines.append(line)
    assert replaced == set(values), f"not in the shipped file: {set(values) - replaced}"
    return "{user}" + "\n".join(lines) + "\n"


def publish_as(port: int, ca: Path, user: str, topic: str, payload: bytes) -> int:
    """One QoS 1 message from ``user`` (MQTT 5, TLS); the broker's PUBACK reason code."""
    codes: list[int] = []
    done = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{user}",
                    protocol=mqtt.MQTTv5)
    c.username_pw_set(user, PEERS[user])
    c.tls_set(ca_certs=str(ca))
    c.on_publish = lambda *a: (codes.append(a[3].value), done.set())
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        c.publish(topic, payload, qos=1)
        assert done.wait(10), f"no PUBACK for {user} on {topic}"
    finally:
        c.disconnect()
        c.loop_stop()
    return codes[0]


@needs_passwd
@pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl")
def test_shipped_configuration_lets_a_peer_speak_only_as_itself(
        broker_factory: Callable[..., Any], tmp_path: Path) -> None:
    """Mosquitto with docs/broker/mosquitto.conf and acl.example: KZAB's message to MMTY
    reaches the gateway's subscription; KZHU writing as KZAB gets PUBACK 135 and its
    message reaches no one; a client without a password is not let in."""
    make_certificates(tmp_path)
    password_file(tmp_path / "passwd", PEERS)
    broker = broker_factory(config=shipped_config(tmp_path))
    broker.start()
    config = loads(f'[gateway]\nid = "border-gw-1"\n[mqtt]\n'
                   f'url = "mqtts://127.0.0.1:{broker.port}"\nusername = "border-gw-1"\n'
                   f'password = "gw-pw"\nca_file = "{tmp_path / "ca.crt"}"\n').mqtt
    assert config is not None
    topics = Topics.of("border-gw-1", config)
    genuine, forged = b'{"from": "KZAB", "genuine": true}', b'{"from": "KZAB", "forged": 1}'
    inbound: list[tuple[str, bytes]] = []
    codes: dict[str, int] = {}

    async def main() -> MqttSink:
        sink = MqttSink(config, Outbox(100, 100), client_id="border-gw-1",
                        status=lambda s: topics.status(s, T, {}),
                        subscriptions=(topics.aidc("KZAB", "MMTY"), topics.aidc("KZHU", "MMTY")),
                        on_message=lambda topic, payload: inbound.append((topic, payload)))
        stop = asyncio.Event()
        task = asyncio.create_task(sink.run(stop))
        await until(lambda: sink.counters["published"] >= 1)  # online: subscribed by now
        topic = topics.aidc("KZAB", "MMTY")
        codes["forged"] = await asyncio.to_thread(
            publish_as, broker.port, tmp_path / "ca.crt", "KZHU", topic, forged)
        codes["genuine"] = await asyncio.to_thread(
            publish_as, broker.port, tmp_path / "ca.crt", "KZAB", topic, genuine)
        await until(lambda: len(inbound) >= 1)
        stop.set()
        await asyncio.wait_for(task, 30)
        return sink

    sink = asyncio.run(main())
    assert codes == {"forged": 135, "genuine": 0}
    assert inbound == [("surv/v1/aidc/KZAB/MMTY", genuine)]  # the forged one never came
    assert sink.counters["dropped-refused"] == 0  # the ACL lets the gateway do its work
    with pytest.raises(aiomqtt.MqttError):
        asyncio.run(_connect_anonymously(broker.port, tmp_path / "ca.crt"))


async def _connect_anonymously(port: int, ca: Path) -> None:
    async with client(port, tls_params=aiomqtt.TLSParameters(ca_certs=str(ca))):
        pass
