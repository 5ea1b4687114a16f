"""The service end to end: replay of the shipped border capture at ``--speed max`` into the
file sink and into a real Mosquitto (QoS 0), in plots per second, with nothing lost; and the
latency from datagram in to MQTT out at the live rate.

The replay rows are measured against the field's peer in the same run (issue 16):
asterix_decoder's ``parse`` on every datagram of the same capture, decode only, best of three.
The replay's rate counts what it associates, plots and SDPS tracks, per second with the
start-up excluded: the start-up is the same service replaying a capture with no datagrams
(configuration, airspace, store, sinks opened and closed), timed in the same run.

Run with ``pytest benchmarks/test_service_speed.py --benchmark-enable``; in the normal test run
(benchmarks disabled) each runs once and still checks that nothing was lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from service_replay import (
    CAPTURE,
    CONFIG,
    associated_of,
    plots_of,
    replay,
    sink_throughput,
    timed,
)
from service_replay import start_up as replay_start_up

from gateway.config import MqttConfig
from gateway.ingest import read_datagrams
from gateway.ingest.url import parse_udp_url
from gateway.service.shell import Service
from gateway.service.tuning import tune_for_service
from gateway.sim.live import send_live
from gateway.sim.run import simulate
from gateway.sim.scenario import BORDER

# Counts what a subscriber gets until the gateway says offline; prints it as JSON.
SUBSCRIBER = """
import json, sys
import paho.mqtt.client as mqtt
counts = {"plots": 0, "plot_messages": 0, "picture": 0}
def on_connect(c, u, f, rc, p=None):
    c.subscribe("surv/v1/#", qos=1)
def on_subscribe(c, u, mid, rc, p=None):
    print("ready", flush=True)
def on_message(c, u, m):
    if "/plots/" in m.topic:
        counts["plot_messages"] += 1
        counts["plots"] += len(json.loads(m.payload))
    elif m.topic.endswith("/picture"):
        counts["picture"] += 1
    elif "/status/" in m.topic and b'"offline"' in m.payload:
        print(json.dumps(counts), flush=True)
        c.disconnect()
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
c.connect("127.0.0.1", int(sys.argv[1]))
c.loop_forever()
"""


@pytest.fixture(scope="module")
def peer_decode(request: Any) -> dict[str, float]:
    """asterix_decoder ``parse`` on every datagram of the capture, decode only: the best
    wall and CPU seconds of three passes and the records it returned (in the smoke run,
    benchmarks disabled, one pass over the first 1,000 datagrams)."""
    asterix = pytest.importorskip("asterix")
    enabled = not request.config.getoption("benchmark_disable")
    datagrams = [d.payload for d in read_datagrams(CAPTURE)][:None if enabled else 1000]

    def run() -> int:
        return sum(len(asterix.parse(d)) for d in datagrams)

    passes = [timed(run) for _ in range(3 if enabled else 1)]
    records = passes[0][2]
    assert records > (130_000 if enabled else 1000)
    return {"records": records, "wall_s": min(p[0] for p in passes),
            "cpu_s": min(p[1] for p in passes)}


@pytest.fixture(scope="module")
def start_up(tmp_path_factory: Any) -> tuple[float, float]:
    """Wall and CPU seconds of the same replay on a capture with no datagrams."""
    return replay_start_up(tmp_path_factory.mktemp("empty"))


# the file sink's rate by sectors_per_batch, for the Mosquitto rows' ratio
_FILE_SINK: dict[int, float] = {}


def _with_sectors(sectors: int) -> Any:
    """The shipped configuration with ``[normalize] sectors_per_batch = sectors``."""
    return dataclasses.replace(CONFIG, normalize=dataclasses.replace(
        CONFIG.normalize, sectors_per_batch=sectors))


def _against_the_peer(report: Any, benchmark: Any, service: Service, wall: float, cpu: float,
                      start_up: tuple[float, float], peer: dict[str, float],
                      sectors: int) -> dict[str, Any]:
    """The replay's rate with the start-up excluded, the peer's, and their ratio."""
    records = associated_of(service)
    rate = records / (wall - start_up[0])
    cpu_rate = records / (cpu - start_up[1])
    peer_rate = peer["records"] / peer["wall_s"]
    peer_cpu_rate = peer["records"] / peer["cpu_s"]
    info = {"plots_and_tracks": records, "plots_and_tracks_per_s": round(rate),
            "per_cpu_s": round(cpu_rate), "start_up_s": round(start_up[0], 3),
            "peer_parse_records_per_s": round(peer_rate),
            "peer_parse_per_cpu_s": round(peer_cpu_rate),
            "ratio_to_peer": round(rate / peer_rate, 2),
            "cpu_ratio_to_peer": round(cpu_rate / peer_cpu_rate, 2)}
    info["sectors_per_batch"] = sectors
    if service.out is None and sectors in _FILE_SINK:
        info["ratio_to_file_sink"] = round(rate / _FILE_SINK[sectors], 2)
    return report(benchmark, info)


@pytest.mark.parametrize("sectors", [1, 2], ids=["sector-batches", "two-sector-batches"])
def test_replay_max_into_file(benchmark: Any, tmp_path: Path, peer_decode: dict[str, float],
                              start_up: tuple[float, float], against_the_peer: Any,
                              sectors: int) -> None:
    """The shipped configuration (a batch per sector), and with ``[normalize]
    sectors_per_batch = 2`` (half the association cycles, one sector's wait)."""
    out = tmp_path / "replay.jsonl"
    wall, cpu, service = benchmark.pedantic(
        timed, args=(lambda: replay(None, out, config=_with_sectors(sectors)),),
        rounds=1, iterations=1)
    plots = plots_of(service)
    written = sum(1 for line in out.open("rb") if b'"kind":"plot"' in line)
    assert written == plots > 60_000
    if benchmark.stats:
        benchmark.extra_info.update(
            plots=plots, plots_per_s=round(plots / wall),
            messages=service.counters["messages-written"],
            messages_per_s=round(service.counters["messages-written"] / wall),
            **_against_the_peer(against_the_peer, benchmark, service, wall, cpu, start_up,
                                peer_decode, sectors))
        _FILE_SINK[sectors] = benchmark.extra_info["plots_and_tracks_per_s"]


@pytest.mark.parametrize("sectors", [1, 2], ids=["sector-batches", "two-sector-batches"])
def test_replay_max_into_mosquitto(benchmark: Any, mosquitto: Any,
                                   peer_decode: dict[str, float],
                                   start_up: tuple[float, float],
                                   against_the_peer: Any, sectors: int) -> None:
    sub = subprocess.Popen([sys.executable, "-c", SUBSCRIBER, str(mosquitto.port)],
                           stdout=subprocess.PIPE, text=True)
    try:
        assert sub.stdout is not None and sub.stdout.readline().strip() == "ready"
        wall, cpu, service = benchmark.pedantic(
            timed, args=(lambda: replay(MqttConfig(url=mosquitto.url), None,
                                        config=_with_sectors(sectors)),),
            rounds=1, iterations=1)
        got = json.loads(sub.stdout.readline())
    finally:
        sub.kill()
        sub.wait()
    plots = plots_of(service)
    assert service.outbox is not None and service.sink is not None
    assert not [k for k, v in service.outbox.counters.items() if k.startswith("dropped") and v]
    assert got["plots"] == plots > 60_000  # every plot reached the subscriber
    assert got["picture"] > 5000 / sectors  # one a cycle
    if benchmark.stats:
        benchmark.extra_info.update(
            plots=plots, plots_per_s=round(plots / wall),
            mqtt_messages=service.sink.counters["published"],
            mqtt_messages_per_s=round(service.sink.counters["published"] / wall),
            fused_states_coalesced=service.outbox.counters["coalesced"],
            **_against_the_peer(against_the_peer, benchmark, service, wall, cpu, start_up,
                                peer_decode, sectors))


SINK_MESSAGES = 50_000


def test_sink_qos0_throughput(benchmark: Any, mosquitto: Any) -> None:
    """The MQTT sink alone: 50,000 QoS 0 messages (one plot each) from a full outbox into
    Mosquitto, timed from the outbox filled to the last handed to the broker."""
    seconds = benchmark.pedantic(sink_throughput, args=(MqttConfig(url=mosquitto.url),
                                                        SINK_MESSAGES), rounds=3, iterations=1)
    assert seconds > 0
    if benchmark.stats:
        benchmark.extra_info["messages_per_s"] = round(SINK_MESSAGES
                                                       / benchmark.stats.stats.median)


LIVE_S = 30.0
WARMUP_S = 10.0


def test_latency_at_the_live_rate(benchmark: Any, mosquitto: Any) -> None:
    """The border scenario through one group at its own rate for 30 s; latency from the
    datagram's receipt to each of its messages handed to the broker (the last datagram of
    a batch, a sector crossing or an SDPS end of batch, is the one that releases it).
    The process is tuned as the service's commands tune it (``tune_for_service``).  p99 is
    reported for the first 10 s (the tracker starts some 400 tracks at once, each SDPS's
    first cycle), for the steady state after them, and for the whole run (issue 16's
    figure: the first seconds included)."""
    sim = simulate(BORDER, LIVE_S, seed=11)
    group = "239.255.77.9:23990"
    config = type(CONFIG)(**{**CONFIG.__dict__,
                             "inputs": (type(CONFIG.inputs[0])(f"udp://{group}?iface=127.0.0.1"),),
                             "normalize": type(CONFIG.normalize)(max_early_s=43200.0,
                                                                 max_late_s=43200.0)})
    samples: list[tuple[float, float]] = []

    def run() -> Service:
        async def main() -> Service:
            service = Service(config, mqtt=MqttConfig(url=mosquitto.url))
            assert service.sink is not None
            service.sink.latency = lambda s: samples.append((time.monotonic(), s))
            service.listen(asyncio.get_running_loop())
            tune_for_service()  # as ``run`` does, after the service is built
            url = parse_udp_url(f"udp://{group}")
            sender = threading.Thread(target=send_live, args=(sim.wires, (url.group, url.port)),
                                      kwargs={"iface": "127.0.0.1"})

            async def drive() -> None:
                await asyncio.sleep(0.5)
                sender.start()
                await asyncio.to_thread(sender.join)
                await asyncio.sleep(0.5)
                service.stopping.set()

            driver = asyncio.create_task(drive())
            await service.run()
            await driver
            return service

        return asyncio.run(main())

    started = time.monotonic()
    try:
        service = benchmark.pedantic(run, rounds=1, iterations=1)
    finally:
        gc.unfreeze()  # the rest of the session is not the gateway
    assert time.monotonic() - started >= LIVE_S  # really at the live rate
    assert service.counters["datagrams"] == len(sim.wires)
    assert len(samples) > 500
    first = samples[0][0]
    parts = {"first_10s": [s for t, s in samples if t - first < WARMUP_S],
             "steady": [s for t, s in samples if t - first >= WARMUP_S],
             "all": [s for _, s in samples]}
    assert parts["first_10s"] and parts["steady"]
    info: dict[str, Any] = {}
    for name, part in parts.items():
        p50, p99, worst = np.percentile(part, [50, 99, 100]) * 1e3
        info.update({f"{name}_messages": len(part), f"{name}_p50_ms": round(p50, 2),
                     f"{name}_p99_ms": round(p99, 2), f"{name}_max_ms": round(worst, 2)})
    print("\nlatency (ms): " + "; ".join(
        f"{name} p99 {info[f'{name}_p99_ms']} (p50 {info[f'{name}_p50_ms']}, "
        f"max {info[f'{name}_max_ms']}, {len(part)} messages)" for name, part in parts.items()))
    if benchmark.stats:
        benchmark.extra_info.update(info)
