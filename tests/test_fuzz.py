"""Hostile datagrams through Decoder.decode: never an exception, every problem counted under
its kind, the records before a bad one (and the blocks before a bad block) kept, decoding
resumed at the next known block boundary.  A block whose LEN runs past its datagram has no
trustworthy boundary and is dropped whole (test_truncation_at_every_length pins this down).

The specific cases assert exact problem kinds and exactly which records survive.  The random
cases (truncations, bit flips, insertions, deletions, garbage) are held against
``asterix_samples.model_walk``: the same framing rules written with the reference codec, which
predicts every decoded record (category, datagram, offset, length) and every problem by kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from asterix_samples import (
    BAD_RECORDS,
    SAC_SIC,
    assert_columns_equal,
    batch_columns,
    codec,
    decoded_rows,
    fuzz_datagrams,
    fuzz_records,
    model_walk,
    reference_columns,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.asterix import CATEGORIES
from gateway.asterix.codec import datablock
from gateway.decoder import PROBLEM_KINDS, Decoder

R = fuzz_records()
DATAGRAMS = fuzz_datagrams()
DECODER = Decoder()
GOOD_62 = datablock(62, R[62])
GOOD_65 = datablock(65, R[65])


def decode(payloads: list[bytes], categories: list[int] | None = None
           ) -> tuple[dict[int, Any], dict[str, int]]:
    batches, problems = (DECODER if categories is None else Decoder(categories)).decode(payloads)
    assert set(problems.counts) <= set(PROBLEM_KINDS)
    return batches, dict(problems.counts)


def records(batches: dict[int, Any], cat: int) -> list[bytes]:
    """The bytes of every record decoded for ``cat``."""
    b = batches.get(cat)
    if b is None:
        return []
    return [b.data[o:o + n] for o, n in zip(b.record_offset, b.record_length, strict=True)]


def check_against_model(payloads: list[bytes]) -> dict[str, int]:
    """Decode; assert it is exactly what the model predicts, rows and problems; check each
    decoded row against the reference decoding of its bytes."""
    batches, problems = decode(payloads)
    rows, expected = model_walk(payloads)
    assert decoded_rows(batches) == rows
    assert problems == expected
    for cat, batch in batches.items():
        for row in range(len(batch)):
            start, length = int(batch.record_offset[row]), int(batch.record_length[row])
            items, n = codec(cat).decode_record(batch.data[:start + length], start)
            assert n == length
            assert batch.record(row) == items
            assert_columns_equal(batch_columns(batch, row), reference_columns(cat, items))
            offsets = batch.item_offset[row]
            inside = offsets[offsets >= 0]
            assert ((inside > start) & (inside < start + length)).all()
    return problems


# --------------------------------------------------------------------------- specific cases

def bad_record_case(cat: int, bad: bytes, kind: str) -> None:
    """[good, bad] in block 1, a good block 2 in the same datagram, a good datagram after:
    exactly one problem of ``kind``; the good record before the bad one, block 2 and the next
    datagram are all decoded."""
    good = R[cat][-1]
    other = 62 if cat != 62 else 34
    payloads = [datablock(cat, [good, bad]) + datablock(other, R[other]), datablock(cat, [good])]
    batches, problems = decode(payloads)
    assert problems == {kind: 1}
    assert records(batches, cat) == [good, good]
    assert [int(d) for d in batches[cat].datagram] == [0, 1]
    assert records(batches, other) == R[other]
    assert check_against_model(payloads) == problems


@pytest.mark.parametrize("cat, bad, kind", BAD_RECORDS)
def test_bad_record(cat: int, bad: bytes, kind: str) -> None:
    bad_record_case(cat, bad, kind)


def test_bad_record_after_several_good_ones_keeps_them_all() -> None:
    payloads = [datablock(48, [*R[48], b"\x90" + SAC_SIC]) + GOOD_62]
    batches, problems = decode(payloads)
    assert problems == {"item-overrun": 1}
    assert records(batches, 48) == R[48]
    assert records(batches, 62) == R[62]


@pytest.mark.parametrize("cat, odd, values", [
    # I048/170 with two unknown extension octets after its 2 defined parts (FX chain):
    # FSPEC 81 02 = 010, 170.  C1 = CNF 1, RAD 2, FX; 81 = TRE 1, FX; 81, 00 unknown.
    (48, "81 02 19C9 C1 81 81 00", {"CNF": 1, "RAD": 2, "TRE": 1}),
    # I048/020 with 7 parts (6 defined), then I040 must still be found after it.
    (48, "B0 19C9 A1 81 01 01 01 01 00 C5AF4000", {"TYP": 5, "TST": 1}),
    # An FSPEC with a needless trailing empty octet: 81 00 = 010 only.
    (48, "81 00 19C9", {}),
    # Spare bits set: I048/070 bit 13, I048/161 bits 16-13.
    (48, "89 10 19C9 1FC0 FABC", {}),
    # A compound whose sub-FSPEC has an empty octet before the next: I062/380 01 80 = TIS.
    (62, "81 10 19C9 01 80 00", {}),
])
def test_odd_but_valid_records(cat: int, odd: str, values: dict[str, int]) -> None:
    record = bytes.fromhex(odd)
    payloads = [datablock(cat, [record, R[cat][-1]])]
    batches, problems = decode(payloads)
    assert problems == {}
    assert records(batches, cat) == [record, R[cat][-1]]
    got = batch_columns(batches[cat], 0)
    for name, value in values.items():
        path = next(p for p in got if p.split("/")[-1] == name and not p.startswith("010"))
        assert got[path] == value, path
    check_against_model(payloads)


@pytest.mark.parametrize("length", [0, 1, 2])
def test_block_len_below_3(length: int) -> None:
    """LEN below 3: the block has no boundary, so the rest of the datagram is lost; the
    blocks before it and the next datagram are not."""
    bad = bytes([62, 0, length]) + b"\x80" + SAC_SIC
    payloads = [datablock(48, R[48]) + bad + GOOD_65, GOOD_62]
    batches, problems = decode(payloads)
    assert problems == {"block-length": 1}
    assert records(batches, 48) == R[48]
    assert records(batches, 65) == []
    assert records(batches, 62) == R[62]
    check_against_model(payloads)


def test_block_len_past_the_datagram() -> None:
    block = bytearray(GOOD_62)
    block[1:3] = (len(block) + 1).to_bytes(2, "big")
    payloads = [datablock(48, R[48]) + bytes(block), GOOD_65]
    batches, problems = decode(payloads)
    assert problems == {"block-truncated": 1}
    assert records(batches, 48) == R[48]
    assert records(batches, 62) == []  # its boundary is unknown: none of it is trusted
    assert records(batches, 65) == R[65]
    check_against_model(payloads)


def test_block_len_short_of_its_records() -> None:
    """LEN ends one byte into the last record: that record overruns its block; what LEN
    leaves over (2 bytes) is then too short for a block header."""
    last = b"\x80" + SAC_SIC  # FSPEC (010) then SAC SIC
    body = R[48][0] + R[48][2] + last
    header = bytes([48]) + (3 + len(body) - 2).to_bytes(2, "big")
    payloads = [header + body, GOOD_65]
    batches, problems = decode(payloads)
    assert problems == {"item-overrun": 1, "block-truncated": 1}
    assert records(batches, 48) == [R[48][0], R[48][2]]
    assert records(batches, 65) == R[65]
    check_against_model(payloads)


@pytest.mark.parametrize("tail", [b"\x3e", b"\x3e\x00"])
def test_block_header_cut(tail: bytes) -> None:
    payloads = [datablock(48, R[48]) + tail, GOOD_65]
    batches, problems = decode(payloads)
    assert problems == {"block-truncated": 1}
    assert records(batches, 48) == R[48]
    assert records(batches, 65) == R[65]


def test_unknown_category_is_skipped_by_its_len() -> None:
    unknown = datablock(1, [b"\x80\x01\x02", b"\xff\xff\xff"])  # CAT001: no definition here
    payloads = [datablock(48, R[48]) + unknown + GOOD_62 + datablock(255, [b"\x00"])]
    batches, problems = decode(payloads)
    assert problems == {"unknown-category": 2}
    assert records(batches, 48) == R[48]
    assert records(batches, 62) == R[62]
    check_against_model(payloads)


def test_unwanted_category_is_skipped_silently() -> None:
    payloads = [datablock(62, R[62]) + datablock(48, R[48]) + GOOD_65]
    batches, problems = decode(payloads, [48])
    assert problems == {}
    assert set(batches) == {48}
    assert records(batches, 48) == R[48]
    assert model_walk(payloads, {48}) == (decoded_rows(batches), {})


def test_empty_block_and_empty_datagrams() -> None:
    payloads = [b"", datablock(48, []) + GOOD_65, b""]
    batches, problems = decode(payloads)
    assert problems == {}
    assert records(batches, 65) == R[65]
    assert [int(d) for d in batches[65].datagram] == [1]
    assert decode([]) == ({}, {})
    assert decode([b""]) == ({}, {})


def test_problems_accumulate_per_datagram() -> None:
    bad = datablock(48, [b"\x00"])
    batches, problems = decode([bad, bad + bad, GOOD_65, b"\x30"])
    assert problems == {"empty-record": 3, "block-truncated": 1}
    assert records(batches, 65) == R[65]


def test_walk_rejects_datagram_bounds_outside_its_buffer() -> None:
    from gateway import _decoder

    buf = np.zeros(4, dtype=np.uint8)
    with pytest.raises(ValueError):
        _decoder.walk(buf, np.array([0, 5], dtype=np.int64), DECODER._cat_index,
                      DECODER._tables, np.zeros(len(PROBLEM_KINDS), dtype=np.int64))


# --------------------------------------------------------------------------- exhaustive cuts


@pytest.mark.parametrize("index", range(len(DATAGRAMS)))
def test_truncation_at_every_length(index: int) -> None:
    """A datagram cut anywhere: the blocks wholly before the cut are decoded exactly as in
    the whole datagram; a cut inside a block is one block-truncated (that block's LEN is
    then past the end, so none of it is trusted); the next datagram decodes."""
    whole = DATAGRAMS[index]
    full, _ = decode([whole])
    boundaries = [0]
    while boundaries[-1] < len(whole):
        boundaries.append(boundaries[-1] + int.from_bytes(whole[boundaries[-1] + 1:][:2], "big"))
    for n in range(len(whole) + 1):
        cut = whole[:n]
        batches, problems = decode([cut, GOOD_65])
        done = max(b for b in boundaries if b <= n)
        assert problems == ({} if n == done else {"block-truncated": 1}), n
        for cat in CATEGORIES:
            kept = [r for r, o in zip(records(full, cat), _offsets(full, cat), strict=True)
                    if o < done]
            got = records(batches, cat)
            if cat == 65:
                assert got[-len(R[65]):] == R[65], n
                got = got[:-len(R[65])]
            assert got == kept, (n, cat)


def _offsets(batches: dict[int, Any], cat: int) -> list[int]:
    b = batches.get(cat)
    return [] if b is None else [int(o) for o in b.record_offset]


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 2, 3])
def test_every_single_bit_flip(index: int) -> None:
    whole = DATAGRAMS[index]
    for bit in range(len(whole) * 8):
        flipped = bytearray(whole)
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
        check_against_model([bytes(flipped), GOOD_65])


# --------------------------------------------------------------------------- random

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(DATAGRAMS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "overwrite", "cut", "splice"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            at = min(at, len(data) - 1)
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 4))]
        elif op == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[at:at + len(chunk)] = chunk
        elif op == "cut":
            del data[at:]
        else:  # splice a piece of another datagram in
            other = draw(st.sampled_from(DATAGRAMS))
            i = draw(st.integers(0, len(other)))
            data[at:at] = other[i:i + draw(st.integers(1, 40))]
    return bytes(data)


@st.composite
def framed_garbage(draw: st.DrawFn) -> bytes:
    """Blocks with a right LEN and random bodies: the record walker sees every byte."""
    out = b""
    for _ in range(draw(st.integers(1, 3))):
        cat = draw(st.sampled_from([48, 48, 62, 62, 34, 65, 1]))
        body = draw(st.binary(max_size=60))
        out += bytes([cat]) + (len(body) + 3).to_bytes(2, "big") + body
    return out


@st.composite
def records_then_garbage(draw: st.DrawFn) -> bytes:
    """Valid records, then random bytes, in one block of the right LEN."""
    cat = draw(st.sampled_from(sorted(R)))
    good = draw(st.lists(st.sampled_from(R[cat]), max_size=3))
    body = b"".join(good) + draw(st.binary(min_size=1, max_size=30))
    return bytes([cat]) + (len(body) + 3).to_bytes(2, "big") + body


@FUZZ
@given(st.lists(mutated(), min_size=1, max_size=3))
def test_mutated_datagrams(payloads: list[bytes]) -> None:
    check_against_model([*payloads, GOOD_65])


@FUZZ
@given(st.lists(st.one_of(framed_garbage(), records_then_garbage()), min_size=1, max_size=3))
def test_framed_garbage(payloads: list[bytes]) -> None:
    check_against_model(payloads)


@FUZZ
@given(st.lists(st.binary(max_size=200), min_size=1, max_size=3))
def test_random_garbage(payloads: list[bytes]) -> None:
    check_against_model(payloads)
