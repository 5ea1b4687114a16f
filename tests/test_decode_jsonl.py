"""``decode --format jsonl`` written from the columns (gateway._jsonl) is byte for byte what
the reference path writes: each record through the reference codec and ``json.dumps``
(gateway.render.record_json, kept as the definition), lines in received order (in_order).

Held on the shipped captures, on valid records of every item of every category, on the
hostile fuzz corpus of the decoder tests, and on floats against ``repr``.
"""

from __future__ import annotations

import math
import random
import struct
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from asterix_samples import codec, fuzz_corpus, item_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import _jsonl
from gateway.asterix import CATEGORIES
from gateway.asterix.codec import datablock
from gateway.asterix.spec import Body, Compound, Element, Extended, Field, Group, Repetitive
from gateway.decoder import Batch, Decoder, Problems, iter_decoded
from gateway.ingest import IngestStats, read_datagrams
from gateway.render import in_order, jsonl_lines, program_tables, record_json

CAPTURES = Path(__file__).resolve().parent.parent / "captures"
DECODER = Decoder()


def reference(batches: dict[int, Batch]) -> bytes:
    """What ``decode --format jsonl`` wrote for one decode call before the fast writer."""
    lines = [record_json(batch, row) for batch, row in in_order(batches)]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def both(payloads: list[bytes], times: list[float | None] | None = None
         ) -> tuple[bytes, bytes, Problems]:
    batches, problems = DECODER.decode(payloads, times)
    return jsonl_lines(batches), reference(batches), problems


def first_difference(new: bytes, old: bytes) -> str:
    for a, b in zip(new.split(b"\n"), old.split(b"\n"), strict=False):
        if a != b:
            return f"\nnew: {a[:600]!r}\nold: {b[:600]!r}"
    return f"\nlengths {len(new)} != {len(old)}"


def file_reference(path: Path) -> tuple[bytes, bytes, int, Problems]:
    """(fast, reference, records, problems) over a file, read and chunked as the command
    reads and chunks it."""
    fast, old, n, problems = [], [], 0, Problems()
    with open(path, "rb") as f:
        for batches, chunk_problems in iter_decoded(read_datagrams(f, stats=IngestStats()),
                                                    DECODER):
            fast.append(jsonl_lines(batches))
            old.append(reference(batches))
            n += sum(len(b) for b in batches.values())
            problems.add(chunk_problems)
    return b"".join(fast), b"".join(old), n, problems


@cache
def capture_reference(name: str) -> tuple[bytes, bytes, int]:
    return file_reference(CAPTURES / name)[:3]


def command(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "decode", *args],
                          capture_output=True, timeout=300)


def test_decoder_sample_command_is_the_reference() -> None:
    fast, old, n = capture_reference("decoder-sample.pcap")
    assert n == 32 and fast == old, first_difference(fast, old)
    done = command("--format", "jsonl", str(CAPTURES / "decoder-sample.pcap"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == old, first_difference(done.stdout, old)
    assert b"32 records" in done.stderr


@pytest.mark.slow
def test_ten_minute_capture_is_the_reference() -> None:
    fast, old, n = capture_reference("border-10min.pcap.gz")
    assert n > 100_000
    assert fast == old, first_difference(fast, old)
    done = command(str(CAPTURES / "border-10min.pcap.gz"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == old, first_difference(done.stdout, old)
    assert f"decode: {n} records".encode() in done.stderr


def test_mixed_categories_keep_received_order_and_times() -> None:
    """Several categories in one call interleave by offset; times, absent SAC/SIC, NaN."""
    r48 = [codec(48).encode_record({"010": {"SAC": 1, "SIC": 2}, "140": 10.5}),
           codec(48).encode_record({"040": {"RHO": 1.0, "THETA": 2.0}})]  # no I010: nulls
    r62 = [codec(62).encode_record({"010": {"SAC": 3, "SIC": 4}, "040": 7})]
    payloads = [datablock(48, r48[:1]) + datablock(62, r62), datablock(48, r48[1:]),
                datablock(34, [codec(34).encode_record({"000": 1})])]
    new, old, problems = both(payloads, [1779868800.000001, None, 1e16])
    assert problems.total == 0 and new == old, first_difference(new, old)
    assert new.count(b"\n") == 4 and b'"sac": null' in new and b'"t_capture": null' in new


LATIN1 = "".join(chr(c) for c in range(1, 256))  # every escape json.dumps makes


@pytest.mark.slow
@pytest.mark.parametrize("cat", sorted(CATEGORIES))
def test_valid_records_of_every_item(cat: int) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(item_values(CATEGORIES[cat], text=LATIN1), min_size=1, max_size=4),
           st.one_of(st.none(), st.floats(0, 2e9)))
    def check(records: list[dict[str, Any]], t: float | None) -> None:
        block = datablock(cat, [codec(cat).encode_record(r) for r in records])
        new, old, problems = both([block], [t])
        assert problems.total == 0 and new == old, first_difference(new, old)

    check()


def test_hostile_datagrams_render_like_the_reference() -> None:
    """The decoder tests' corpus: truncations, bit flips, bad records, random garbage.
    Whatever the walker keeps is written as the reference writes it; nothing raises."""
    corpus = fuzz_corpus(random_cases=1500)
    counted = 0
    for i, d in enumerate(corpus):
        new, old, problems = both([d])
        assert new == old, f"datagram {i}: {d.hex()}" + first_difference(new, old)
        counted += problems.total
    assert counted > 1000
    new, old, _ = both(corpus[:400], [float(i) for i in range(400)])
    assert new == old, first_difference(new, old)


def test_garbage_file_through_the_command(tmp_path: Path) -> None:
    raw = tmp_path / "hostile.ast"
    corpus = fuzz_corpus(seed=7, random_cases=200)
    raw.write_bytes(b"".join(corpus))
    done = command(str(raw))
    assert done.returncode == 0, done.stderr
    fast, old, n, problems = file_reference(raw)
    assert n and fast == old, first_difference(fast, old)
    assert done.stdout == old, first_difference(done.stdout, old)
    assert problems.total and f"problems: {problems.summary()}".encode() in done.stderr


def _scales(fields: tuple[Field, ...] | Body) -> set[float]:
    """Every LSB of the definitions (case-chosen ones too)."""
    out: set[float] = set()
    if isinstance(fields, tuple):
        for f in fields:
            out |= _scales(f) if isinstance(f, (Element, Group)) else set()
    elif isinstance(fields, Element):
        out |= {fields.scale} if fields.scale is not None else set()
        out |= {c[1] for c in fields.case[1]} if fields.case else set()
    elif isinstance(fields, Group):
        out |= _scales(fields.fields)
    elif isinstance(fields, Extended):
        for p in fields.parts:
            out |= _scales(p)
    elif isinstance(fields, Repetitive):
        out |= _scales(fields.body)
    elif isinstance(fields, Compound):
        for s in fields.subitems:
            out |= _scales(s[1]) if s else set()
    return out


def _floats() -> list[float]:
    rng = random.Random(16)
    scales = {s for c in CATEGORIES.values() for i in c.items for s in _scales(i.body)}
    values = [0.0, -0.0, 1e16, 1e17, 9999999999999998.0, 1e-4, 1e-5, 0.1, 1 / 3, 2.5e-8,
              5e-324, 1.7976931348623157e308, 123456789012345678.0, 1779868800.023312,
              28800.0078125, math.inf, -math.inf, math.nan]
    for s in scales:
        for bits in (8, 16, 24, 32):
            values += [float(s) * r for r in (1, -1, 2**bits - 1, -(2**(bits - 1)))]
            values += [float(s) * rng.randrange(-(2**(bits - 1)), 2**bits) for _ in range(2000)]
    values += [struct.unpack("<d", rng.randbytes(8))[0] for _ in range(20000)]
    values += [rng.randrange(1, 10**6) / 10**rng.randrange(0, 12) for _ in range(20000)]
    return values


def test_floats_print_as_json_dumps_prints_them() -> None:
    import json

    for v in _floats():
        assert _jsonl.format_float(v) == json.dumps(v).encode(), v


def test_programs_reject_what_the_writer_cannot_format() -> None:
    from gateway.asterix.spec import Category, E, G, Item, X

    def category(body: Body) -> Any:
        return Category(250, "0", "test", (Item("001", "t", body),), ("001",))

    with pytest.raises(ValueError, match="share the name"):
        program_tables(category(G(E("A", 4), E("A", 4))))
    with pytest.raises(ValueError, match="one octet"):
        program_tables(category(X((E("A", 7),), (E("B", 15),))))
    with pytest.raises(ValueError, match="exceed 64"):
        program_tables(category(G(E("A", 4), E("B", 68), E("C", 4))))

