"""What the broker tells the gateway, and what the gateway can count on from it: PUBACK
reason codes counted and acted on, delivery across a broker SIGKILL to a subscriber that is
away, and the shipped Mosquitto configuration enforcing who may speak.  Each test starts its
own Mosquitto on a free port (conftest.py)."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from test_messages import AIDC, ALERT
from test_service_mqtt import client, run_sink, until

from gateway.config import loads
from gateway.publish.batch import Kind, Published
from gateway.publish.mqtt import MqttSink
from gateway.publish.outbox import Outbox
from gateway.publish.topics import Topics
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
