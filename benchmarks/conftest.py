"""Inputs for the benchmarks: realistic CAT048 traffic made with the reference encoder."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from gateway.asterix import CATEGORIES
from gateway.asterix.codec import RecordCodec, datablock

CALLSIGNS = ("AMX412", "AAL1234", "VIV1030", "SWA2211", "UAL88", "VOI902", "DAL1776", "N123AB")


def cat048_records(n: int, seed: int = 1) -> list[bytes]:
    """Mode S roll-call plots as an en-route radar sends them, values varying per record."""
    rng = random.Random(seed)
    codec = RecordCodec(CATEGORIES[48])
    out = []
    for i in range(n):
        items = {
            "010": {"SAC": 0, "SIC": 101},
            "140": round(rng.uniform(0, 86399), 2),
            "020": {"TYP": 5},
            "040": {"RHO": rng.uniform(1, 250), "THETA": rng.uniform(0, 359.99)},
            "070": {"MODE3A": f"{rng.randrange(0o10000):04o}"},
            "090": {"FL": rng.randrange(0, 1600) / 4},
            "130": {"SRL": 0.5, "SRR": 7, "SAM": -60},
            "220": f"{rng.randrange(1 << 24):06X}",
            "240": rng.choice(CALLSIGNS),
            "161": {"TRN": i % 4096},
            "200": {"GSP": rng.uniform(0.03, 0.16), "HDG": rng.uniform(0, 359.99)},
            "170": {"CNF": 0, "RAD": 2},
            "230": {"COM": 1, "MSSC": 1, "ARC": 1, "AIC": 1},
        }
        out.append(codec.encode_record(items))
    return out


def sector_datagrams(records: list[bytes], per_block: int = 25) -> list[bytes]:
    """One datablock per datagram, as radars send a sector's plots."""
    return [datablock(48, records[i:i + per_block]) for i in range(0, len(records), per_block)]


@pytest.fixture(scope="session")
def cat048_traffic() -> tuple[list[bytes], int]:
    records = cat048_records(20_000)
    return sector_datagrams(records), len(records)


def _against_the_peer(benchmark: Any, info: dict[str, Any]) -> dict[str, Any]:
    """A row's figures against the field's peer, measured in the same run (issue 16):
    printed (``-s`` shows them with the table), and returned for the benchmark's
    ``extra_info``."""
    print(f"\n{benchmark.name}: {info}")
    return info


@pytest.fixture(scope="session")
def against_the_peer() -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    """How a benchmark reports itself against the peer (``_against_the_peer``)."""
    return _against_the_peer
