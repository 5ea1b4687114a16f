"""What the service benchmarks share: the shipped capture replayed through the service at
``--speed max`` (a configuration of one's choice: the whole gateway, a site, a centre), the
same replay of an empty capture (the start-up, to take out of a rate), CPU and wall time of
a call, and the MQTT sink alone pushing messages into a broker (one node or a cluster's)."""

from __future__ import annotations

import asyncio
import gc
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.config import Config, MqttConfig, load
from gateway.ingest import IngestStats
from gateway.publish.mqtt import MqttSink
from gateway.publish.outbox import Outbox
from gateway.publish.topics import Outbound, Topics
from gateway.service.inputs import Pacer, replay_captures
from gateway.service.shell import Service
from gateway.service.tuning import tune_for_service

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "captures" / "border-10min.pcap.gz"
CONFIG = load(ROOT / "captures" / "border.toml")


def replay(mqtt: MqttConfig | None, out: Path | None, capture: Path = CAPTURE,
           config: Config = CONFIG) -> Service:
    """The capture through the service as fast as it goes, into ``out`` (JSON lines) and/or
    the broker of ``mqtt``; the service, stopped, with its counters.  The process is tuned
    as the ``replay`` command tunes it once its service is built (``tune_for_service``:
    the collector's threshold and freeze), and the collector is set back afterwards, so
    that one benchmark's run does not change the next one's."""
    async def main() -> Service:
        pacer = Pacer(None)
        with open(out, "wb") if out else open("/dev/null", "wb") as sink:
            service = Service(config, mqtt=mqtt, out=sink if out else None, pacer=pacer)
            tune_for_service()
            source = asyncio.create_task(replay_captures(
                [str(capture)], service.intake, pacer, IngestStats(), stopping=service.stopping))
            await service.run([source])
        return service

    threshold = gc.get_threshold()
    try:
        return asyncio.run(main())
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def plots_of(service: Service) -> int:
    return service.pipeline.counters()["plots"]


def associated_of(service: Service) -> int:
    """Plots and SDPS tracks through the pipeline: the records the replay works on."""
    counters = service.pipeline.counters()
    return counters["plots"] + counters["tracks"]


def timed(run: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall and CPU (this process, every thread) seconds of one call, and what it returned."""
    wall, cpu = time.perf_counter(), time.process_time()
    got = run()
    return time.perf_counter() - wall, time.process_time() - cpu, got


def start_up(directory: Path, config: Config = CONFIG) -> tuple[float, float]:
    """Wall and CPU seconds of the same replay on a capture with no datagrams
    (configuration, airspace, store, sinks opened and closed)."""
    empty = directory / "empty.pcap"
    empty.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    wall, cpu, service = timed(lambda: replay(None, empty.with_suffix(".jsonl"), empty,
                                              config))
    assert service.counters["datagrams"] == 0
    return wall, cpu


def sink_throughput(mqtt: MqttConfig, messages: int, *,
                    on_start: Callable[[], None] = lambda: None) -> float:
    """The MQTT sink alone: ``messages`` QoS 0 messages (one plot each, on 8 topics
    bench/plots/0-N) from a full outbox into the broker; seconds from the outbox filled to
    the last handed to the broker.  ``on_start`` runs when the clock starts."""
    topics = Topics("bench", "gw")
    payload = b'[{"kind":"plot"}]'

    async def main() -> float:
        outbox = Outbox(limit=messages + 1, reliable_limit=100)
        sink = MqttSink(mqtt, outbox, client_id="bench-gw",
                        status=lambda state: topics.status(state, 0.0, {}))
        stop = asyncio.Event()
        task = asyncio.create_task(sink.run(stop))
        async with asyncio.timeout(60):
            while sink.counters["published"] < 1:  # connected, "online" sent
                await asyncio.sleep(0.01)
        outbox.put(Outbound(f"bench/plots/0-{i % 8}", payload) for i in range(messages))
        on_start()
        started = time.perf_counter()
        sink.notify()
        async with asyncio.timeout(120):
            while sink.counters["published"] < messages + 1:
                await asyncio.sleep(0.001)
        seconds = time.perf_counter() - started
        stop.set()
        await task
        assert not outbox.counters["dropped-stream"]
        return seconds

    return asyncio.run(main())
