"""Random valid records of every category: reference encoder -> both decoders -> same values.

The strategies are built from the category definitions alone (asterix_samples.item_values
walks Element/Group/Extended/Repetitive/Compound/Explicit), so every item, every compound
subitem and every extension part is generated, not just the columns:

* values -> encode_record -> decode_record gives the values back, and encode(decode(b)) == b;
* the Cython Decoder's columns equal the generated values' columns;
* the reference decoding of each row's item bytes (Batch.record) equals the generated record,
  so it agrees with the Cython columns of that row.
"""

from __future__ import annotations

from typing import Any

import pytest
from asterix_samples import (
    assert_columns_equal,
    batch_columns,
    body_value,
    codec,
    item_values,
    reference_columns,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.asterix import CATEGORIES
from gateway.asterix.codec import datablock
from gateway.asterix.spec import Compound, Extended
from gateway.decoder import Decoder

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DECODER = Decoder()


def check_roundtrip(cat: int, records: list[dict[str, Any]]) -> None:
    c = codec(cat)
    encoded = [c.encode_record(r) for r in records]
    for values, data in zip(records, encoded, strict=True):
        decoded, length = c.decode_record(data)
        assert length == len(data)
        assert decoded == values
        assert list(decoded) == list(values), "items in UAP order"
        assert c.encode_record(decoded) == data
    block = datablock(cat, encoded)
    batches, problems = DECODER.decode(block)
    assert problems.total == 0, problems.summary()
    batch = batches[cat]
    assert len(batch) == len(records)
    offset = 3
    for row, (values, data) in enumerate(zip(records, encoded, strict=True)):
        assert (int(batch.record_offset[row]), int(batch.record_length[row])) == (
            offset, len(data))
        offset += len(data)
        got = batch_columns(batch, row)
        assert_columns_equal(got, reference_columns(cat, values), f"CAT{cat:03d} row {row}")
        again = batch.record(row)
        assert again == values
        assert_columns_equal(got, reference_columns(cat, again), f"CAT{cat:03d} row {row}")


@pytest.mark.slow
@pytest.mark.parametrize("cat", sorted(CATEGORIES))
def test_records_roundtrip(cat: int) -> None:
    @SETTINGS
    @given(st.lists(item_values(CATEGORIES[cat]), min_size=1, max_size=4))
    def check(records: list[dict[str, Any]]) -> None:
        check_roundtrip(cat, records)

    check()


# Every item, alone in its record, and every compound subitem, alone in its item: nothing is
# left to the luck of the draw above.
ITEMS = [(c, n) for c, cat in sorted(CATEGORIES.items()) for n in cat.uap if n is not None]
SUBITEMS = [
    (c, item.number, sub[0])
    for c, cat in sorted(CATEGORIES.items())
    for item in cat.items if isinstance(item.body, Compound)
    for sub in item.body.subitems if sub is not None
]


@pytest.mark.parametrize("cat, number", ITEMS, ids=[f"{c}-{n}" for c, n in ITEMS])
def test_each_item_roundtrips(cat: int, number: str) -> None:
    body = CATEGORIES[cat].by_number[number].body
    parts = len(body.parts) if isinstance(body, Extended) else 1

    @FEW
    @given(item_values(CATEGORIES[cat], (number,), required=(number,)))
    def check(record: dict[str, Any]) -> None:
        check_roundtrip(cat, [record])

    check()
    if parts > 1:  # the longest form too: every part of an extended item at once
        @FEW
        @given(body_value(body).filter(lambda v: set(v) >= _part_names(body, parts - 1)))
        def longest(value: dict[str, Any]) -> None:
            check_roundtrip(cat, [{number: value}])

        longest()


def _part_names(body: Extended, i: int) -> set[str]:
    return {getattr(f, "name", None) for f in body.parts[i]} - {None}


@pytest.mark.parametrize("cat, number, sub", SUBITEMS,
                         ids=[f"{c}-{n}-{s}" for c, n, s in SUBITEMS])
def test_each_compound_subitem_roundtrips(cat: int, number: str, sub: str) -> None:
    body = CATEGORIES[cat].by_number[number].body
    assert isinstance(body, Compound)
    sub_body = next(b for s in body.subitems if s is not None for n, b in [s] if n == sub)

    @FEW
    @given(body_value(sub_body))
    def check(value: Any) -> None:
        check_roundtrip(cat, [{number: {sub: value}}])

    check()


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(
    st.lists(st.tuples(st.sampled_from(sorted(CATEGORIES)), st.integers(1, 3)),
             min_size=1, max_size=3),
    min_size=1, max_size=4), st.data())
def test_mixed_datagrams(layout: list[list[tuple[int, int]]], data: st.DataObject) -> None:
    """Several datagrams of several blocks of several categories in one decode call: every
    record lands in its category's batch, in order, with its datagram index."""
    expected: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    payloads = []
    for d, blocks in enumerate(layout):
        payload = b""
        for cat, n in blocks:
            records = data.draw(st.lists(item_values(CATEGORIES[cat]), min_size=n, max_size=n))
            expected.setdefault(cat, []).extend((d, r) for r in records)
            payload += datablock(cat, [codec(cat).encode_record(r) for r in records])
        payloads.append(payload)
    times = [1000.0 + d for d in range(len(payloads))]
    batches, problems = DECODER.decode(payloads, times)
    assert problems.total == 0
    assert set(batches) == set(expected)
    for cat, rows in expected.items():
        batch = batches[cat]
        assert [int(d) for d in batch.datagram] == [d for d, _ in rows]
        assert list(batch.t_capture) == [1000.0 + d for d, _ in rows]
        for row, (_d, record) in enumerate(rows):
            assert batch.record(row) == record
            assert_columns_equal(batch_columns(batch, row), reference_columns(cat, record))


def test_many_tiny_records_grow_the_row_store() -> None:
    """2-byte records (FSPEC 20 = I065/015 only, then SID) far beyond the walker's first
    guess of one record per 64 bytes: every row survives the store's growth, in order."""
    payloads = []
    expected = []
    for d in range(3):
        sids = [(d * 7 + i) % 256 for i in range(20000)]
        payloads.append(datablock(65, [bytes([0x20, s]) for s in sids]))
        expected += sids
    batches, problems = DECODER.decode(payloads)
    assert problems.total == 0
    batch = batches[65]
    assert len(batch) == 60000
    assert batch.columns["015"].tolist() == expected
    assert batch.present["015"].all() and not batch.present["010/SAC"].any()
    assert batch.datagram.tolist() == [0] * 20000 + [1] * 20000 + [2] * 20000
    assert batch.record_offset[-1] == sum(len(p) for p in payloads) - 2
    assert batch.record(59999) == {"015": expected[-1]}
