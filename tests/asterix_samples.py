"""Shared helpers of the decoder proof tests: sample data, value strategies, column views.

Not a conftest: import it as ``asterix_samples`` (pytest puts tests/ on sys.path).

* The sample files of ``asterix_decoder`` are read at test time through
  ``asterix.get_sample_file``; their bytes are never copied into this repository.
* ``item_values`` builds hypothesis strategies from the category definitions alone, by walking
  Element/Group/Extended/Repetitive/Compound/Explicit, so every item of every category can be
  generated with values in range (quantities as raw * scale, text as valid strings).
* ``batch_columns`` and ``reference_columns`` put the Cython columns and the reference codec's
  decoded record in one comparable form (path -> value, None when absent).
"""

from __future__ import annotations

import struct
from functools import cache
from typing import Any

from hypothesis import strategies as st

from gateway.asterix import CATEGORIES, COLUMNS
from gateway.asterix.codec import ICAO_CHARS, RecordCodec, datablock
from gateway.asterix.layout import ASCII, ICAO, SQUANTITY, UQUANTITY, column
from gateway.asterix.spec import (
    Body,
    Category,
    Compound,
    Element,
    Explicit,
    Extended,
    Field,
    Group,
    Repetitive,
    Spare,
)

RAW_SAMPLES = ("cat048.raw", "cat034.raw", "cat062cat065.raw")
PCAP_SAMPLES = ("cat_034_048.pcap", "cat_062_065.pcap")


# --------------------------------------------------------------------------- sample data


def sample_path(name: str) -> str:
    import asterix

    return asterix.get_sample_file(name)


def sample_bytes(name: str) -> bytes:
    with open(sample_path(name), "rb") as f:
        return f.read()


def udp_payloads(frames: list[bytes]) -> list[bytes]:
    """UDP payloads of Ethernet II / IPv4 / UDP frames, headers stripped by hand.

    The samples hold no VLAN tags, options-free or not, and no fragments; anything else is a
    surprise the test should hear about, so it is asserted rather than skipped.
    """
    out = []
    for frame in frames:
        (ethertype,) = struct.unpack_from("!H", frame, 12)
        assert ethertype == 0x0800, f"not IPv4: ethertype {ethertype:#06x}"
        ip = frame[14:]
        assert ip[0] >> 4 == 4
        ihl = (ip[0] & 0x0F) * 4
        (total,) = struct.unpack_from("!H", ip, 2)
        (frag,) = struct.unpack_from("!H", ip, 6)
        assert ip[9] == 17, "not UDP"
        assert frag & 0x3FFF == 0, "IPv4 fragment"
        udp = ip[ihl:total]
        (length,) = struct.unpack_from("!H", udp, 4)
        assert 8 <= length <= len(udp)
        out.append(bytes(udp[8:length]))
    return out


def pcap_payloads(name: str) -> list[bytes]:
    from scapy.utils import RawPcapReader

    with RawPcapReader(sample_path(name)) as reader:
        assert reader.linktype == 1, "the samples are Ethernet captures"
        frames = [bytes(pkt) for pkt, _meta in reader]
    return udp_payloads(frames)


@cache
def sample_datagrams() -> dict[str, tuple[bytes, ...]]:
    """Every shipped sample as datagrams: a raw file is one buffer of whole blocks."""
    out: dict[str, tuple[bytes, ...]] = {n: (sample_bytes(n),) for n in RAW_SAMPLES}
    out.update({n: tuple(pcap_payloads(n)) for n in PCAP_SAMPLES})
    return out


def plain(value: Any) -> Any:
    """asterix_decoder's verbose output without its descriptions: {"SAC": {"val": 25}} -> 25."""
    if isinstance(value, dict):
        if "val" in value:
            return value["val"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# --------------------------------------------------------------------------- codecs


@cache
def codec(category: int) -> RecordCodec:
    return RecordCodec(CATEGORIES[category])


def encode_block(category: int, records: list[dict[str, Any]]) -> bytes:
    c = codec(category)
    return datablock(category, [c.encode_record(r) for r in records])


# --------------------------------------------------------------------------- strategies

ICAO_VALID = "".join(sorted({c for c in ICAO_CHARS if c != "?"}))
ASCII_VALID = "".join(chr(c) for c in range(0x20, 0x7F))
FLIGHT_TEXT = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "  # what a flight plan field really holds


def raw_range(el: Element) -> tuple[int, int]:
    if el.signed and el.text is None:
        return -(1 << (el.bits - 1)), (1 << (el.bits - 1)) - 1
    return 0, (1 << el.bits) - 1


def _scale_of(el: Element, siblings: dict[str, Any]) -> float | None:
    if el.case is not None:
        selector, choices = el.case
        return next(s for v, s, _u in choices if siblings.get(selector) == v)
    return el.scale


def _text(alphabet: str, chars: int) -> st.SearchStrategy[str]:
    # Decoded text loses its trailing padding, so a value that round-trips has none.
    return st.text(alphabet=alphabet, max_size=chars).map(lambda s: s.rstrip(" "))


def element_value(el: Element, siblings: dict[str, Any], text: str = ASCII_VALID
                  ) -> st.SearchStrategy[Any]:
    """A decoded value of one element (``siblings``: already drawn values of its group)."""
    lo, hi = raw_range(el)
    raws = st.integers(lo, hi)
    if el.text == "hex":
        return raws.map(lambda r: f"{r:0{(el.bits + 3) // 4}X}")
    if el.text == "octal":
        return raws.map(lambda r: f"{r:0{el.bits // 3}o}")
    if el.text == "icao":
        return _text(ICAO_VALID, el.bits // 6)
    if el.text == "ascii":
        return _text(text, el.bits // 8)
    scale = _scale_of(el, siblings)
    return raws if scale is None else raws.map(lambda r: r * scale)


@st.composite
def fields_value(draw: st.DrawFn, fields: tuple[Field, ...], text: str = ASCII_VALID
                 ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        if isinstance(f, Spare):
            continue
        if isinstance(f, Element):
            out[f.name] = draw(element_value(f, out, text))
        else:
            assert f.name, "an unnamed nested group has no place in a decoded value"
            out[f.name] = draw(fields_value(f.fields, text))
    return out


def body_value(body: Body, *, max_parts: int | None = None, max_reps: int = 3,
               text: str = ASCII_VALID) -> st.SearchStrategy[Any]:
    """A value of an item (or compound subitem) body as the reference codec decodes it."""
    if isinstance(body, Element):
        return element_value(body, {}, text)
    if isinstance(body, Group):
        return fields_value(body.fields, text)
    if isinstance(body, Extended):
        most = len(body.parts) if max_parts is None else min(max_parts, len(body.parts))

        @st.composite
        def extended(draw: st.DrawFn) -> dict[str, Any]:
            n = draw(st.integers(1, most))
            out: dict[str, Any] = {}
            for part in body.parts[:n]:
                out.update(draw(fields_value(part, text)))
            return out

        return extended()
    if isinstance(body, Repetitive):
        return st.lists(body_value(body.body, text=text), min_size=1 if body.fx else 0,
                        max_size=max_reps)
    if isinstance(body, Compound):
        subs = [s for s in body.subitems if s is not None]

        @st.composite
        def compound(draw: st.DrawFn) -> dict[str, Any]:
            chosen = draw(st.lists(st.sampled_from(subs), min_size=1, unique=True))
            chosen.sort(key=body.subitems.index)
            return {name: draw(body_value(b, max_reps=max_reps, text=text)) for name, b in chosen}

        return compound()
    if isinstance(body, Explicit):
        return st.binary(max_size=12).map(lambda b: b.hex().upper())
    raise TypeError(body)


def item_values(category: Category, numbers: tuple[str, ...] | None = None, *,
                required: tuple[str, ...] = (), max_parts: dict[str, int] | None = None,
                text: str = ASCII_VALID) -> st.SearchStrategy[dict[str, Any]]:
    """A record: a non-empty dict of items (item number -> value) in UAP order.

    ``numbers`` limits the items drawn from (default: every item of the UAP), ``required``
    items are always present, ``max_parts`` caps the parts of extended items.
    """
    pool = [n for n in category.uap if n is not None and (numbers is None or n in numbers)]
    limits = max_parts or {}
    strategies = {n: body_value(category.by_number[n].body, max_parts=limits.get(n), text=text)
                  for n in pool}

    @st.composite
    def record(draw: st.DrawFn) -> dict[str, Any]:
        chosen = set(required) | set(draw(st.lists(st.sampled_from(pool), unique=True,
                                                    min_size=0 if required else 1)))
        return {n: draw(strategies[n]) for n in pool if n in chosen}

    return record()


# --------------------------------------------------------------------------- column views


def find_element(category: Category, path: str) -> Element:
    """The element a column path names, found by walking the definition."""
    number, *names = path.split("/")
    body: Body = category.by_number[number].body
    if isinstance(body, Compound):
        sub = names.pop(0)
        body = next(b for s in body.subitems if s is not None for n, b in [s] if n == sub)
    if isinstance(body, Element):
        assert not names
        return body
    groups: list[tuple[Field, ...]]
    if isinstance(body, Group):
        groups = [body.fields]
    elif isinstance(body, Extended):
        groups = list(body.parts)
    else:
        raise KeyError(path)
    for fields in groups:
        found = _find(fields, names)
        if found is not None:
            return found
    raise KeyError(path)


def _find(fields: tuple[Field, ...], names: list[str]) -> Element | None:
    for f in fields:
        if isinstance(f, Spare) or f.name != names[0]:
            continue
        if isinstance(f, Element) and len(names) == 1:
            return f
        if isinstance(f, Group) and len(names) > 1:
            return _find(f.fields, names[1:])
    return None


def reference_value(category: int, path: str, items: dict[str, Any]) -> Any:
    """A column's value in a record decoded by the reference codec, in column form.

    Hex and octal text become the integers the int32 columns hold; None when absent.
    """
    number, *names = path.split("/")
    value: Any = items.get(number)
    for name in names:
        if value is None:
            return None
        value = value.get(name)
    if value is None:
        return None
    el = find_element(CATEGORIES[category], path)
    if el.text == "hex":
        return int(value, 16)
    if el.text == "octal":
        return int(value, 8)
    return value


def reference_columns(category: int, items: dict[str, Any]) -> dict[str, Any]:
    return {p: reference_value(category, p, items) for p in COLUMNS[category]}


def batch_value(batch: Any, path: str, row: int) -> Any:
    """One column cell as a Python value, None when masked absent."""
    if not batch.present[path][row]:
        return None
    value = batch.columns[path][row]
    kind = column(CATEGORIES[batch.category], path).kind
    if kind in (ICAO, ASCII):
        return bytes(value).decode("latin-1")
    if kind in (UQUANTITY, SQUANTITY):
        return float(value)
    return int(value)


def batch_columns(batch: Any, row: int) -> dict[str, Any]:
    return {p: batch_value(batch, p, row) for p in COLUMNS[batch.category]}


def assert_columns_equal(got: dict[str, Any], expected: dict[str, Any], where: str = "") -> None:
    """Columns equal exactly: both sides scale the same raw integer by the same float."""
    assert got.keys() == expected.keys()
    bad = {p: (got[p], expected[p]) for p in got if not _same(got[p], expected[p])}
    assert not bad, f"{where}: column (got, expected): {bad}"


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return bool(a == b)


# --------------------------------------------------------------------------- hostile input

RECORD_KINDS = ("fspec-overrun", "undefined-item", "item-overrun", "explicit-length",
                "empty-record", "undefined-subfield")


def record_problem(category: int, data: bytes, offset: int) -> tuple[str | None, int]:
    """The reference codec's verdict on the record at ``offset`` (``data`` ends where its
    block ends): (None, length) for a good record, else (problem kind, 0)."""
    from gateway.asterix.codec import CodecError

    try:
        items, length = codec(category).decode_record(data, offset)
    except CodecError as exc:
        message = str(exc)
        if message.startswith("Error in path FSPEC"):
            return "fspec-overrun", 0
        if message.startswith("FRN "):
            return "undefined-item", 0
        if message.startswith("compound subfield"):
            return "undefined-subfield", 0
        if message.startswith("explicit item with length 0"):
            return "explicit-length", 0
        assert message.startswith("Error in path I"), message
        return "item-overrun", 0
    if not items:
        return "empty-record", 0
    return None, length


def model_walk(payloads: list[bytes], wanted: set[int] | None = None
               ) -> tuple[list[tuple[int, int, int, int]], dict[str, int]]:
    """What the walker must do, written with the reference codec: every decoded record as
    (category, datagram, offset in the joined data, length), and the problems by kind.

    Framing: a block header that does not fit, a LEN below 3 or a LEN past the datagram stops
    the datagram (nothing after it has a known boundary); an unknown category skips its block;
    a bad record ends its block (records before it are kept) and the next block is walked.
    """
    from collections import Counter

    rows: list[tuple[int, int, int, int]] = []
    problems: Counter[str] = Counter()
    base = 0
    for d, payload in enumerate(payloads):
        pos, end = 0, len(payload)
        while pos < end:
            if end - pos < 3:
                problems["block-truncated"] += 1
                break
            length = int.from_bytes(payload[pos + 1:pos + 3], "big")
            if length < 3:
                problems["block-length"] += 1
                break
            if length > end - pos:
                problems["block-truncated"] += 1
                break
            cat = payload[pos]
            bend = pos + length
            if cat not in CATEGORIES:
                problems["unknown-category"] += 1
            elif wanted is None or cat in wanted:
                block = payload[:bend]
                rpos = pos + 3
                while rpos < bend:
                    kind, size = record_problem(cat, block, rpos)
                    if kind is not None:
                        problems[kind] += 1
                        break
                    rows.append((cat, d, base + rpos, size))
                    rpos += size
            pos = bend
        base += len(payload)
    return rows, dict(problems)


def decoded_rows(batches: dict[int, Any]) -> list[tuple[int, int, int, int]]:
    rows = [(c, int(b.datagram[r]), int(b.record_offset[r]), int(b.record_length[r]))
            for c, b in batches.items() for r in range(len(b))]
    return sorted(rows, key=lambda x: x[2])


def fuzz_records() -> dict[int, list[bytes]]:
    """A few valid records per category, encoded by the reference codec."""
    values = {
        48: [
            {"010": {"SAC": 1, "SIC": 2}, "140": 100.0, "020": {"TYP": 5, "TST": 1},
             "040": {"RHO": 10.0, "THETA": 45.0}, "070": {"MODE3A": "1234"},
             "090": {"FL": -2.5}, "130": {"SRL": 0.703125, "APD": 0.0},
             "220": "ABCDEF", "240": "TEST12", "250": [{"MBDATA": "00112233445566", "BDS1": 4}],
             "161": {"TRN": 7}, "200": {"GSP": 0.1, "HDG": 90.0}, "170": {"CNF": 1, "TRE": 0},
             "030": [1, 2], "120": {"RDS": [{"DOP": 1, "AMB": 2, "FRQ": 3}]}, "SP": "0102"},
            {"010": {"SAC": 1, "SIC": 2}, "040": {"RHO": 1.0, "THETA": 1.0}, "RE": ""},
            {"010": {"SAC": 1, "SIC": 2}, "140": 1.0},
        ],
        62: [
            {"010": {"SAC": 3, "SIC": 4}, "070": 5.0, "105": {"LAT": 30.0, "LON": -100.0},
             "080": {"MON": 1, "CST": 1}, "290": {"TRK": 1.0, "ADS": 2.0},
             "380": {"ADR": "123456", "ID": "ABC", "TID": [{"TCA": 1}], "BDSDATA": []},
             "390": {"CS": "ABC123", "TOD": [{"TYP": 1}], "CFL": 300.0},
             "510": [{"IDENT": 1, "TRACK": 2}, {"IDENT": 3, "TRACK": 4}], "RE": "AA"},
            {"010": {"SAC": 3, "SIC": 4}, "040": 1},
        ],
        34: [{"010": {"SAC": 5, "SIC": 6}, "000": 2, "020": 90.0,
              "050": {"COM": {"NOGO": 1}, "MDS": {"ANT": 1}}, "070": [{"TYP": 1, "COUNT": 2}]}],
        65: [{"010": {"SAC": 7, "SIC": 8}, "000": 1, "020": 3}],
    }
    return {c: [codec(c).encode_record(v) for v in vs] for c, vs in values.items()}


def fuzz_datagrams() -> list[bytes]:
    """Valid datagrams to mutate: blocks of every category, and the samples."""
    r = fuzz_records()
    built = [
        datablock(48, r[48]) + datablock(62, r[62]) + datablock(34, r[34]) + datablock(65, r[65]),
        datablock(62, r[62][::-1]) + datablock(48, r[48][:1]),
        datablock(48, r[48][1:]),
    ]
    samples = sample_datagrams()
    capture = sorted(samples["cat_034_048.pcap"], key=len)
    return built + [samples["cat048.raw"][0], samples["cat062cat065.raw"][0],
                    samples["cat034.raw"][0], capture[-1], capture[len(capture) // 2]]


SAC_SIC = bytes([0x19, 0xC9])

# (category, record, the problem it is): each record is bad in exactly one way.
BAD_RECORDS: list[tuple[int, bytes, str]] = [
    # FSPEC whose FX chain runs to the end of the block.
    (48, b"\xff\xff", "fspec-overrun"),
    (65, b"\x01", "fspec-overrun"),
    # An item longer than what is left: 040 needs 4 bytes, 1 is there.
    (48, b"\x90" + SAC_SIC + b"\x12", "item-overrun"),
    # I048/250 with REP 3 and one copy of 8 bytes.
    (48, b"\x81\x20" + SAC_SIC + b"\x03" + bytes(8), "item-overrun"),
    # I048/030 (FRN16) whose last octet still has FX set.
    (48, b"\x81\x01\x40" + SAC_SIC + b"\x05\x05", "item-overrun"),
    # I048/020 part 1 with FX and no part 2.
    (48, b"\xa0" + SAC_SIC + b"\x01", "item-overrun"),
    # SP (FRN27) claiming 16 bytes, 2 there.
    (48, b"\x81\x01\x01\x04" + SAC_SIC + b"\x10\xaa", "item-overrun"),
    # I062/380 whose sub-FSPEC runs past the block.
    (62, b"\x81\x10" + SAC_SIC + b"\x01", "item-overrun"),
    # I062/390 CS (7 bytes) cut short.
    (62, b"\x81\x01\x02" + SAC_SIC + b"\x40ABC", "item-overrun"),
    # SP / RE with explicit length 0.
    (48, b"\x81\x01\x01\x04" + SAC_SIC + b"\x00", "explicit-length"),
    (48, b"\x81\x01\x01\x02" + SAC_SIC + b"\x00", "explicit-length"),
    (62, b"\x81\x01\x01\x01\x04" + SAC_SIC + b"\x00", "explicit-length"),
    # FRN2 of CAT062 is spare; FRN30 is past the 28 of CAT048; FRN8 of CAT065 is spare.
    (62, b"\xc0" + SAC_SIC, "undefined-item"),
    (48, b"\x01\x01\x01\x01\x40", "undefined-item"),
    (65, b"\x81\x80" + SAC_SIC, "undefined-item"),
    # Compound sub-FSPEC marking an unused slot: I034/050 slot 2, I048/120 slot 3 (of 2),
    # I062/380 slot 29 (of 28).
    (34, b"\x84" + SAC_SIC + b"\x40\x00", "undefined-subfield"),
    (48, b"\x81\x01\x04" + SAC_SIC + b"\x20\x00", "undefined-subfield"),
    (62, b"\x81\x10" + SAC_SIC + b"\x01\x01\x01\x01\x80", "undefined-subfield"),
    # An FSPEC that marks nothing.
    (48, b"\x00", "empty-record"),
    (48, b"\x01\x00", "empty-record"),
]


def fuzz_corpus(seed: int = 48062, random_cases: int = 3000) -> list[bytes]:
    """Hostile datagrams, each to be decoded on its own: every truncation of the valid
    datagrams, every single-bit flip of some, the bad records of BAD_RECORDS cut at every
    length, and seeded random mutations and garbage."""
    import random

    rng = random.Random(seed)
    valid = fuzz_datagrams()
    out: list[bytes] = []
    for d in valid:
        out += [d[:n] for n in range(len(d) + 1)]
    for d in valid[:4]:
        for bit in range(len(d) * 8):
            flipped = bytearray(d)
            flipped[bit // 8] ^= 0x80 >> (bit % 8)
            out.append(bytes(flipped))
    records = fuzz_records()
    for cat, bad, _kind in BAD_RECORDS:
        block = datablock(cat, [records[cat][-1], bad])
        out += [block[:n] for n in range(len(block) + 1)]
        out.append(bytes([cat]) + (3 + len(bad)).to_bytes(2, "big") + bad)
    for _ in range(random_cases):
        data = bytearray(rng.choice(valid))
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(data))
            op = rng.randrange(5)
            if op == 0 and data:
                data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
            elif op == 1:
                data[at:at] = rng.randbytes(rng.randint(1, 4))
            elif op == 2:
                del data[at:at + rng.randint(1, 4)]
            elif op == 3:
                chunk = rng.randbytes(rng.randint(1, 8))
                data[at:at + len(chunk)] = chunk
            else:
                del data[at:]
        out.append(bytes(data))
    for _ in range(random_cases // 3):
        cat = rng.choice([48, 62, 34, 65])
        body = rng.randbytes(rng.randint(0, 60))
        out.append(bytes([cat]) + (len(body) + 3).to_bytes(2, "big") + body)
        out.append(rng.randbytes(rng.randint(0, 100)))
    return out
