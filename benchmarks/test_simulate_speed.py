"""Seconds to generate one hour of the border scenario: traffic, every radar and SDPS,
encoded and framed as a pcap (written to memory).  The issue's aim: under a minute.

With benchmarks disabled (the normal test run) it still runs once and checks the output.
"""

from __future__ import annotations

import io

from gateway.sim.pcap import FrameWriter
from gateway.sim.run import simulate
from gateway.sim.scenario import BORDER


def test_one_hour_of_border_traffic(benchmark) -> None:
    def generate() -> tuple[int, int]:
        sim = simulate(BORDER, 3600.0, 1)
        out = io.BytesIO()
        frames = FrameWriter(sim.sources(), BORDER.start_utc).write(out, sim.wires)
        return frames, len(sim.flights.id)

    frames, flights = benchmark.pedantic(generate, rounds=1, iterations=1)
    assert frames > 100_000 and flights > 300
    if benchmark.stats:
        benchmark.extra_info["datagrams"] = frames
        benchmark.extra_info["flights"] = flights
