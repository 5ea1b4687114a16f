"""Replay holds only what it needs while it waits for a slow broker (issue 16).

A one-hour replay into Mosquitto grew from 148 to 353 MB: while the pipeline waited for
the broker, the reader filled half of the intake (25,000 datagrams) and the outbox was
let fill to half its limit (10,000 messages, ~60 MB of payloads growing with the traffic),
for the whole replay.  Both are bounded here by what replay needs, whatever the configured
queue limits (benchmarks/test_replay_memory.py measures the hour).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.config import MqttConfig, load
from gateway.ingest import IngestStats
from gateway.publish.topics import Outbound
from gateway.service.inputs import READ_AHEAD, Intake, Pacer, replay_captures
from gateway.service.shell import REPLAY_BACKLOG, Service

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "captures" / "border-10min.pcap.gz"
CONFIG = load(ROOT / "captures" / "border.toml")


def test_replay_reads_no_further_ahead_than_it_needs() -> None:
    """Nobody takes from the intake: the reader stops at READ_AHEAD, not at half the
    intake's 50,000, and goes on as soon as there is room."""
    async def main() -> tuple[int, int, int]:
        intake = Intake(50_000)
        stopping = asyncio.Event()
        reader = asyncio.create_task(replay_captures(
            [str(CAPTURE)], intake, Pacer(None), IngestStats(), stopping=stopping))
        while len(intake) < READ_AHEAD and not reader.done():
            await asyncio.sleep(0)
        for _ in range(2000):  # the reader is waiting: many turns change nothing
            await asyncio.sleep(0)
        held = len(intake)
        taken = len(intake.take(1000).payloads)
        while len(intake) < READ_AHEAD and not reader.done():
            await asyncio.sleep(0)
        refilled = len(intake)
        stopping.set()
        await reader
        return held, taken, refilled

    held, taken, refilled = asyncio.run(main())
    assert READ_AHEAD < 25_000
    assert held == READ_AHEAD
    assert taken == 1000 and refilled == READ_AHEAD  # it goes on, and stops there again


def _stream(n: int) -> list[Outbound]:
    return [Outbound(f"surv/v1/plots/0-{i % 8}", b"[]") for i in range(n)]


def test_lossless_service_waits_beyond_the_replay_backlog() -> None:
    """With more than REPLAY_BACKLOG QoS 0 messages waiting (far below half the outbox's
    limit), replay waits for the broker; once the sink has taken them down to the
    backlog, it goes on.  Nothing is dropped meanwhile."""
    async def main() -> tuple[bool, bool, int]:
        mqtt = MqttConfig(url="mqtt://127.0.0.1:1")  # never connected: the sink is not run
        service = Service(CONFIG, mqtt=mqtt, pacer=Pacer(None), broker_wait_s=3600)
        outbox, sink = service.outbox, service.sink
        assert outbox is not None and sink is not None
        assert REPLAY_BACKLOG * 4 < outbox.limit * 0.5
        sink.down_since = None  # as if connected: a slow broker, not a gone one
        outbox.put(_stream(REPLAY_BACKLOG * 4))
        waiting = asyncio.create_task(service._wait_for_broker())
        for _ in range(50):
            await asyncio.sleep(0)
        held = not waiting.done()
        outbox.take(REPLAY_BACKLOG * 3)  # what the sink would send
        await asyncio.wait_for(waiting, 60)
        return held, service.stopping.is_set(), outbox.counters["dropped-stream"]

    held, stopped, dropped = asyncio.run(main())
    assert held  # it waited
    assert not stopped and dropped == 0
