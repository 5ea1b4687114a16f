"""Normalised plots per second: columns to positions (the geometry), to message objects,
and to JSON bytes.  The issue's aim: a million plots/s from columns to positions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import gateway
from gateway.config import load
from gateway.messages import encode_batch
from gateway.normalize.geometry import RadarGeometry
from gateway.normalize.normalizer import Normalizer
from gateway.units import NM

ROOT = Path(__file__).resolve().parent.parent
N = 1_000_000


def _rate(benchmark, n: int) -> None:
    if benchmark.stats:
        benchmark.extra_info["plots_per_s"] = round(n / benchmark.stats.stats.mean)


def test_columns_to_positions(benchmark) -> None:
    rng = np.random.default_rng(1)
    rho = rng.uniform(1, 250, N) * NM
    theta = rng.uniform(0, 360, N)
    height = rng.uniform(0, 600, N) * 30.48
    site = RadarGeometry(25.7785, -100.1069, 520.0)
    lat, lon, _ = benchmark.pedantic(site.place, args=(rho, theta, height), rounds=3)
    assert np.isfinite(lat).all() and np.isfinite(lon).all()
    _rate(benchmark, N)


@pytest.fixture(scope="module")
def plots_only():
    decoded = gateway.decode(ROOT / "captures" / "border-10min.pcap.gz", categories=[34, 48])
    return decoded.batches, len(decoded.batches[48])


def test_columns_to_messages(benchmark, plots_only) -> None:
    batches, n = plots_only
    config = load(ROOT / "captures" / "border.toml")

    def run() -> int:
        normalizer = Normalizer(config)
        out = normalizer.feed(batches) + normalizer.flush()
        return sum(len(p.messages) for p in out)

    assert benchmark.pedantic(run, rounds=3) == n
    _rate(benchmark, n)


def test_columns_to_json_bytes(benchmark, plots_only) -> None:
    batches, n = plots_only
    config = load(ROOT / "captures" / "border.toml")

    def run() -> int:
        normalizer = Normalizer(config)
        out = normalizer.feed(batches) + normalizer.flush()
        return sum(len(encode_batch(p.messages)) for p in out)

    assert benchmark.pedantic(run, rounds=3) > n * 200
    _rate(benchmark, n)
