"""Records per second of the Cython decoder, the construct reference codec and
asterix_decoder (the field's peer) on the same CAT048 bytes, in one run.

Run with ``pytest benchmarks --benchmark-enable``; in the normal test run (benchmarks disabled)
each still runs once and checks that it decoded every record.
"""

from __future__ import annotations

import pytest

from gateway.asterix import CATEGORIES
from gateway.asterix.codec import RecordCodec
from gateway.decoder import Decoder


def _rate(benchmark, records: int) -> None:
    if benchmark.stats:
        benchmark.extra_info["records_per_s"] = round(records / benchmark.stats.stats.mean)


def test_cython_columns(benchmark, cat048_traffic) -> None:
    datagrams, n = cat048_traffic
    decoder = Decoder([48])
    batches, problems = benchmark(decoder.decode, datagrams)
    assert len(batches[48]) == n and problems.total == 0
    _rate(benchmark, n)


def test_construct_reference(benchmark, cat048_traffic) -> None:
    datagrams, _ = cat048_traffic
    sample = datagrams[:40]  # 1,000 records: the reference codec is ~1000x slower
    codec = RecordCodec(CATEGORIES[48])

    def decode_all() -> int:
        count = 0
        for d in sample:
            offset = 3
            while offset < len(d):
                _, length = codec.decode_record(d, offset)
                offset += length
                count += 1
        return count

    n = benchmark.pedantic(decode_all, rounds=3, iterations=1)
    assert n == 1000
    _rate(benchmark, n)


def test_asterix_decoder_parse(benchmark, cat048_traffic) -> None:
    asterix = pytest.importorskip("asterix")
    datagrams, n = cat048_traffic
    data = b"".join(datagrams)
    records = benchmark.pedantic(asterix.parse, args=(data,), rounds=3, iterations=1)
    assert len(records) == n
    _rate(benchmark, n)
