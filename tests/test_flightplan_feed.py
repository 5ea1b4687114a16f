"""Plan messages into the gateway: the file of ``[flightplans]`` read at start, and the plan
topic over a real Mosquitto, every payload hostile (counted and skipped)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from test_flightplan_correlate import T1230, fpl, fused
from test_service_mqtt import client, until

from gateway.config import MqttConfig, load
from gateway.pipeline import Pipeline
from gateway.publish.batch import Kind
from gateway.service.shell import Service

TOPIC = "fdps/fpl"


def config(tmp_path: Path, plans: str, extra: str = "") -> Any:
    (tmp_path / "plans.txt").write_text(plans)
    path = tmp_path / "gw.toml"
    path.write_text(f'[gateway]\nid = "gw"\n[flightplans]\nfile = "plans.txt"\n{extra}')
    return load(path)


def test_the_file_is_filed_at_start_and_fused_tracks_get_their_plan(tmp_path: Path) -> None:
    pipeline = Pipeline(config(tmp_path, f"{fpl()}\n(FPL-BROKEN)\n{fpl(callsign='VIV100')}"))
    assert pipeline.plans is not None
    counts = pipeline.counters()
    assert (counts["fpl-filed"], counts["fpl-refused"]) == (2, 1)
    out = pipeline._picture([fused(T1230), fused(T1230, id="gw-T000002", callsign=None,
                                                     mode3a="4121")])
    picture = next(p for p in out if p.kind == Kind.PICTURE)
    plans = [m.fpl.callsign if m.fpl else None for m in picture.messages]  # type: ignore
    assert plans == ["AMX412", None]  # the second: both plans filed with 4121, ambiguous
    alerts = next(p for p in out if p.kind == Kind.ALERTS)
    assert [a.type for a in alerts.messages] == ["fpl-ambiguous"]  # type: ignore[union-attr]
    assert pipeline.counters()["fpl-ambiguous"] == 1


def test_without_the_section_nothing_changes(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text('[gateway]\nid = "gw"\n')
    pipeline = Pipeline(load(path))
    assert pipeline.plans is None
    (picture,) = pipeline._picture([fused(T1230)])
    assert picture.messages[0].fpl is None  # type: ignore[union-attr]


def test_plans_over_mqtt_each_payload_hostile(tmp_path: Path, mosquitto: Any) -> None:
    cfg = config(tmp_path, "", f'topic = "{TOPIC}"\n')
    service = Service(cfg, mqtt=MqttConfig(url=mosquitto.url, max_packet_bytes=1 << 20))
    plans = service.pipeline.plans
    assert plans is not None

    async def main() -> None:
        running = asyncio.create_task(service.run())
        await until(lambda: service.sink is not None and service.sink.connected, 20)
        async with client(mosquitto.port) as feeder:
            for payload in [fpl().encode(), b"(FPL-NOT-A-PLAN)", "(FPL-Ä)".encode(),
                            b"\xff\xfe", b"x" * (300 << 10),
                            f"{fpl(callsign='VIV100')} {fpl(callsign='DAL19', ssr=None)}"
                            .encode(), b"(CNL-VIV100-MMMX-KLAX-DOF/261204)"]:
                await feeder.publish(TOPIC, payload, qos=1)
        await until(lambda: plans.counters["fpl-inbound"] == 7, 20)
        service.stopping.set()
        await running

    asyncio.run(main())
    counts = service.pipeline.counters()
    assert (counts["fpl-filed"], counts["fpl-cancelled"], counts["fpl-refused"],
            counts["fpl-undecodable"]) == (3, 1, 1, 3)
    assert sorted(k[0] for k in plans.book.plans) == ["AMX412", "DAL19"]
    assert service.inbox.counters["handler-errors"] == 0


def test_simulate_writes_the_flights_plans(tmp_path: Path) -> None:
    """``simulate --flight-plans``: every line a message the gateway files."""
    plans = tmp_path / "plans.txt"
    subprocess.run([sys.executable, "-m", "gateway.cli", "simulate", "--scenario", "border",
                    "--duration", "60", "--seed", "3", "--out", str(tmp_path / "b.pcap"),
                    "--flight-plans", str(plans)], check=True, capture_output=True, timeout=300)
    lines = plans.read_text().splitlines()
    assert len(lines) > 300 and lines[0].startswith("(FPL-")
    pipeline = Pipeline(config(tmp_path, plans.read_text()))
    counts = pipeline.counters()
    assert counts["fpl-refused"] == 0
    assert counts["fpl-filed"] + counts["fpl-changed"] == len(lines)
    assert counts["fpl-changed"] == sum(line.startswith("(CHG-") for line in lines) > 0
