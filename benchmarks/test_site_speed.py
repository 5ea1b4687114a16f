"""Capacity per tier (docs/deployment.md, "Capacity"): how many radars one site gateway and
one centre take, from CPU seconds measured on the shipped border capture.

- **A site gateway** decodes and normalises and publishes plots and tracks
  (``[associate] enabled = false``, no ``[handoff]``): the capture through the service at
  ``--speed max`` into the JSON-lines sink (the messages serialised as for the broker).
- **A centre** associates and coordinates: the same capture through one process with
  association and handoff (``captures/border.toml`` whole), which also decodes and
  normalises; and, closer to a centre's own work, the site's published batches (the MQTT
  payloads a site gateway makes of the capture) through what a centre does with them:
  each payload checked and parsed (``gateway.remote``), associated, coordinated, and the
  picture and AIDC it makes encoded for the broker (no broker: its hop is the broker tier's).

Each is CPU seconds of this process (every thread), the start-up (the same replay of an
empty capture) taken out, in records (plots and SDPS tracks) per CPU second; with
``--benchmark-enable`` the median of three runs.  The capture's own rates (plots per
second of its busiest radar) turn them into radars per process.  In the smoke run
(benchmarks disabled) each runs once and still checks that nothing was lost.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from service_replay import (
    CAPTURE,
    CONFIG,
    associated_of,
    plots_of,
    replay,
    start_up,
    timed,
)

from gateway.config import Config
from gateway.ingest import read_datagrams
from gateway.pipeline import Pipeline
from gateway.publish.topics import Topics
from gateway.remote import RemoteBatches

# The load a tier is sized for: half of one core, the other half for bursts (a radar's
# scan arrives at once), the broker's and the operating system's share, and growth.
CORE_SHARE = 0.5
# An assumed busy radar: 100 plots a second (a 4 s rotation seeing 400 targets).
ASSUMED_RADAR_PLOTS_PER_S = 100.0

SITE = dataclasses.replace(CONFIG, associate=dataclasses.replace(CONFIG.associate,
                                                                 enabled=False),
                           handoff=None)
_RATES: dict[str, float] = {}  # records per CPU second by tier, for the centre's row


def capture_rates(out: Path) -> tuple[dict[str, float], float]:
    """Plots per second of each radar of the capture (from the plots the replay wrote, over
    the span of their times), and that span."""
    per_source: Counter[str] = Counter()
    first, last = float("inf"), float("-inf")
    with out.open("rb") as f:
        for line in f:
            if b'"kind":"plot"' not in line:
                continue
            m = json.loads(line)
            per_source[f"{m['src']['sac']}-{m['src']['sic']}"] += 1
            first, last = min(first, m["t"]), max(last, m["t"])
    span = last - first
    return {k: n / span for k, n in per_source.items()}, span


def measure(benchmark: Any, config: Config, out: Path, directory: Path
            ) -> tuple[float, Any, list[float]]:
    """Records per CPU second, start-up excluded: the median of the rounds (three with
    --benchmark-enable, one otherwise), the last round's service, and every round's rate."""
    base_wall, base_cpu = start_up(directory, config)
    runs: list[tuple[float, float, Any]] = []

    def one() -> None:
        runs.append(timed(lambda: replay(None, out, config=config)))

    benchmark.pedantic(one, rounds=3 if benchmark.enabled else 1, iterations=1)
    rates = [associated_of(service) / (cpu - base_cpu) for _, cpu, service in runs]
    return statistics.median(rates), runs[-1][2], rates


def _sizing(rate: float, radar_rates: dict[str, float]) -> dict[str, Any]:
    busiest = max(radar_rates.values())
    return {"busiest_radar": max(radar_rates, key=lambda k: radar_rates[k]),
            "busiest_radar_plots_per_s": round(busiest, 1),
            "radars_like_the_busiest_at_half_a_core": int(CORE_SHARE * rate / busiest),
            "radars_of_100_plots_per_s_at_half_a_core": int(
                CORE_SHARE * rate / ASSUMED_RADAR_PLOTS_PER_S)}


def test_site_gateway_records_per_cpu_second(benchmark: Any, tmp_path: Path,
                                             against_the_peer: Any) -> None:
    out = tmp_path / "site.jsonl"
    rate, service, rates = measure(benchmark, SITE, out, tmp_path)
    plots = plots_of(service)
    written = sum(1 for line in out.open("rb") if b'"kind":"plot"' in line)
    assert written == plots > 60_000  # every plot published, none associated
    assert service.pipeline.counters()["associated"] == 0
    assert not service.pipeline.associating
    radar_rates, span = capture_rates(out)
    assert len(radar_rates) == 8 and span > 500
    _RATES["site"] = rate
    info = {"records": associated_of(service), "records_per_cpu_s": round(rate),
            "rounds": [round(r) for r in rates], **_sizing(rate, radar_rates),
            "capture_plots_per_s": round(sum(radar_rates.values()), 1)}
    benchmark.extra_info.update(against_the_peer(benchmark, info))


def test_centre_plots_per_cpu_second(benchmark: Any, tmp_path: Path,
                                     against_the_peer: Any) -> None:
    out = tmp_path / "centre.jsonl"
    rate, service, rates = measure(benchmark, CONFIG, out, tmp_path)
    counters = service.pipeline.counters()
    assert service.pipeline.associating and service.pipeline.handoff is not None
    assert counters["track-confirmed"] > 300  # fused tracks made, not just plots passed on
    radar_rates, _ = capture_rates(out)
    info: dict[str, Any] = {"records": associated_of(service), "records_per_cpu_s": round(rate),
                            "rounds": [round(r) for r in rates], **_sizing(rate, radar_rates)}
    if "site" in _RATES:  # association and handoff alone: the whole less the site's share
        info["association_and_handoff_per_cpu_s"] = round(
            1 / (1 / rate - 1 / _RATES["site"]))
    benchmark.extra_info.update(against_the_peer(benchmark, info))


CHUNK = 256  # datagrams a pipeline call, as the service reads them


def site_payloads() -> list[tuple[str, bytes, float]]:
    """What a site gateway publishes of the capture: (topic, payload, newest time) of every
    plots and tracks batch, in its order."""
    pipeline, topics = Pipeline(SITE), Topics("site/v1", "site")
    out: list[tuple[str, bytes, float]] = []

    def publish(published: list[Any]) -> None:
        for p in published:
            newest = max(m.t for m in p.messages) if p.messages else 0.0
            out.extend((o.topic, o.payload, newest) for o in topics.outbound(p))

    datagrams = list(read_datagrams(CAPTURE))
    for i in range(0, len(datagrams), CHUNK):
        chunk = datagrams[i:i + CHUNK]
        publish(pipeline.feed([d.payload for d in chunk], [d.t_capture for d in chunk]))
    publish(pipeline.flush())
    return out


def centre_of(payloads: list[tuple[str, bytes, float]]) -> tuple[Pipeline, RemoteBatches, int]:
    """The payloads through a centre's work: checked and parsed, associated, coordinated,
    the outcome encoded; the pipeline, the checker and the messages made."""
    pipeline, topics = Pipeline(CONFIG), Topics("centre/v1", "centre")
    remote = RemoteBatches([(r.sac, r.sic) for r in CONFIG.radars],
                           [(s.sac, s.sic) for s in CONFIG.sdps],
                           max_early_s=CONFIG.normalize.max_early_s)
    made = 0
    for topic, payload, newest in payloads:
        batch = remote.take(topic, payload, newest)  # received as it was made
        if batch is not None:
            made += sum(len(o.payload) > 0 for p in pipeline.receive_batch(batch)
                        for o in topics.outbound(p))
    return pipeline, remote, made


@pytest.fixture(scope="module")
def published_by_a_site() -> list[tuple[str, bytes, float]]:
    return site_payloads()


def test_centre_from_site_batches_records_per_cpu_second(
        benchmark: Any, published_by_a_site: list[tuple[str, bytes, float]],
        against_the_peer: Any) -> None:
    payloads = published_by_a_site
    runs: list[tuple[float, float, Any]] = []
    benchmark.pedantic(lambda: runs.append(timed(lambda: centre_of(payloads))),
                       rounds=3 if benchmark.enabled else 1, iterations=1)
    pipeline, remote, made = runs[-1][2]
    records = pipeline.tracker.counters["measurements"]
    assert remote.counters == {"accepted": len(payloads)}  # every batch taken
    assert records > 100_000
    assert pipeline.tracker.counters["track-confirmed"] > 300 and made > 10_000
    rates = [records / cpu for _, cpu, _ in runs]
    rate = statistics.median(rates)
    info = {"batches": len(payloads), "records": records, "messages_made": made,
            "records_per_cpu_s": round(rate), "rounds": [round(r) for r in rates],
            "radars_of_100_plots_per_s_at_half_a_core": int(
                CORE_SHARE * rate / ASSUMED_RADAR_PLOTS_PER_S)}
    benchmark.extra_info.update(against_the_peer(benchmark, info))
