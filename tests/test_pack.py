"""The vectorised encoder (gateway.asterix.pack) against the reference codec, byte for byte.

* Random structures of every category (items, extended part counts, repetition counts,
  compound subsets, explicit lengths), n = 1..20 records of values for each, in the column
  forms pack_records takes (lists, numpy arrays, shared scalars, raw integers for hex and
  octal, absent fields): every packed row equals RecordCodec.encode_record of that record.
* Every item of every category, every compound subitem and every extension part, at once.
* A typical Mode S plot structure, 1,000 records, against the reference codec and decoded back
  by the Cython Decoder.
* Bad values raise ValueError naming the item and field, as the reference codec raises.
"""

from __future__ import annotations

import random
import re
from typing import Any

import numpy as np
import pytest
from asterix_samples import (
    assert_columns_equal,
    batch_columns,
    body_value,
    codec,
    fields_value,
    item_values,
    reference_columns,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.asterix import CATEGORIES, COLUMNS
from gateway.asterix.codec import datablock, field_names
from gateway.asterix.pack import pack_records, split
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
from gateway.decoder import Decoder

HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
RANDOM = settings(max_examples=60, deadline=None, suppress_health_check=HEALTH)
FULL = settings(max_examples=10, deadline=None, suppress_health_check=HEALTH)
DECODER = Decoder()
C48 = CATEGORIES[48]


# --------------------------------------------------------------------------- structures


def _parts(body: Extended, value: dict[str, Any]) -> int:
    """How many parts a value of an extended item has (as the codecs count them)."""
    given = value.keys()
    return 1 + max((i for i, p in enumerate(body.parts) if field_names(p) & given), default=0)


def _merge(dicts: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in dicts:
        out.update(d)
    return out


def _subitems(body: Compound) -> dict[str, Body]:
    return {s[0]: s[1] for s in body.subitems if s is not None}


def shaped(body: Body, like: Any) -> st.SearchStrategy[Any]:
    """Values of ``body`` with the structure of ``like``: same parts, repetitions, subitems
    and explicit length."""
    if isinstance(body, (Element, Group)):
        return body_value(body)
    if isinstance(body, Extended):
        return st.tuples(*(fields_value(p) for p in body.parts[:_parts(body, like)])).map(_merge)
    if isinstance(body, Repetitive):
        return st.tuples(*(body_value(body.body) for _ in like)).map(list)
    if isinstance(body, Compound):
        subs = _subitems(body)
        return st.fixed_dictionaries({k: shaped(subs[k], v) for k, v in like.items()})
    if isinstance(body, Explicit):
        size = len(like) // 2
        return st.binary(min_size=size, max_size=size).map(lambda b: b.hex().upper())
    raise TypeError(body)


def records_like(category: Category, template: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({number: shaped(category.by_number[number].body, value)
                                  for number, value in template.items()})


def full_value(body: Body) -> st.SearchStrategy[Any]:
    """A value with everything: every part, every subitem, 1 to 3 repetitions."""
    if isinstance(body, Extended):
        return st.tuples(*(fields_value(p) for p in body.parts)).map(_merge)
    if isinstance(body, Compound):
        return st.fixed_dictionaries({k: full_value(b) for k, b in _subitems(body).items()})
    if isinstance(body, Repetitive):
        return st.lists(body_value(body.body), min_size=1, max_size=3)
    return body_value(body)


def full_record(category: Category) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({n: full_value(category.by_number[n].body)
                                  for n in category.uap if n is not None})


# --------------------------------------------------------------------------- column forms


def _default_raw(el: Element, value: Any) -> bool:
    """Whether a decoded value is what an absent field encodes as."""
    if el.text == "hex":
        return int(value, 16) == 0
    if el.text == "octal":
        return int(value, 8) == 0
    if el.text in ("icao", "ascii"):
        return value == ""
    return value == 0


def leaf(el: Element, values: list[Any], rnd: random.Random) -> Any:
    """One element's column, in one of the forms pack_records takes."""
    col: Any = list(values)
    if el.text in ("hex", "octal") and rnd.random() < 0.5:
        base = 16 if el.text == "hex" else 8
        col = np.array([int(v, base) for v in values],
                       dtype=np.uint64 if el.bits == 64 else np.int64)
    elif el.text is None and rnd.random() < 0.5:
        col = np.asarray(values)
    elif el.text is not None and rnd.random() < 0.2:
        col = np.asarray(values, dtype=object)
    if len(set(map(repr, values))) == 1 and rnd.random() < 0.3:
        col = col[0]  # one value for all records
    return col


def fields_columns(fields: tuple[Field, ...], values: list[dict[str, Any]], rnd: random.Random,
                   keep: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """A group's columns; fields whose every value is the default are sometimes left out."""
    by_name = {f.name: f for f in fields if not isinstance(f, Spare)}
    out: dict[str, Any] = {}
    for name in values[0]:
        f = by_name[name]
        column = [v[name] for v in values]
        if isinstance(f, Group):
            out[name] = fields_columns(f.fields, column, rnd)
            continue
        assert isinstance(f, Element)
        if (name not in keep and rnd.random() < 0.5 and f.case is None
                and all(_default_raw(f, v) for v in column)):
            continue
        out[name] = leaf(f, column, rnd)
    return out


def columns(body: Body, values: list[Any], rnd: random.Random) -> Any:
    """Records' values of one item -> the item's columns for pack_records."""
    if isinstance(body, Element):
        return leaf(body, values, rnd)
    if isinstance(body, Group):
        return fields_columns(body.fields, values, rnd)
    if isinstance(body, Extended):
        last = body.parts[_parts(body, values[0]) - 1]
        fields = tuple(f for p in body.parts for f in p)
        return fields_columns(fields, values, rnd, keep=field_names(last))
    if isinstance(body, Repetitive):
        return [columns(body.body, [v[j] for v in values], rnd) for j in range(len(values[0]))]
    if isinstance(body, Compound):
        subs = _subitems(body)
        return {k: columns(subs[k], [v[k] for v in values], rnd) for k in values[0]}
    if isinstance(body, Explicit):
        if len(set(values)) == 1 and rnd.random() < 0.3:
            return values[0]
        if rnd.random() < 0.3:
            data = b"".join(bytes.fromhex(v) for v in values)
            return np.frombuffer(data, dtype=np.uint8).reshape(len(values), -1)
        return list(values)
    raise TypeError(body)


def item_columns(category: Category, records: list[dict[str, Any]], rnd: random.Random
                 ) -> dict[str, Any]:
    return {n: columns(category.by_number[n].body, [r[n] for r in records], rnd)
            for n in records[0]}


def check_packed(cat: int, records: list[dict[str, Any]], rnd: random.Random) -> np.ndarray:
    category = CATEGORIES[cat]
    packed = pack_records(category, item_columns(category, records, rnd), len(records))
    assert packed.dtype == np.uint8 and packed.shape[0] == len(records)
    expected = [codec(cat).encode_record(r) for r in records]
    got = split(packed)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == e, f"CAT{cat:03d} record {i}: {g.hex()} != {e.hex()}\n{records[i]}"
    return packed


# --------------------------------------------------------------------------- property tests


@pytest.mark.slow
@pytest.mark.parametrize("cat", sorted(CATEGORIES))
def test_random_structures_match_the_reference_codec(cat: int) -> None:
    category = CATEGORIES[cat]

    @RANDOM
    @given(st.data(), st.randoms(use_true_random=False))
    def check(data: st.DataObject, rnd: random.Random) -> None:
        template = data.draw(item_values(category), label="template")
        n = data.draw(st.integers(1, 20), label="n")
        others = data.draw(st.lists(records_like(category, template), min_size=n - 1,
                                    max_size=n - 1), label="records")
        check_packed(cat, [template, *others], rnd)

    check()


@pytest.mark.parametrize("cat", sorted(CATEGORIES))
def test_every_item_subitem_and_part_matches_the_reference_codec(cat: int) -> None:
    category = CATEGORIES[cat]

    @FULL
    @given(st.data(), st.randoms(use_true_random=False))
    def check(data: st.DataObject, rnd: random.Random) -> None:
        template = data.draw(full_record(category), label="template")
        n = data.draw(st.integers(1, 4), label="n")
        others = data.draw(st.lists(records_like(category, template), min_size=n - 1,
                                    max_size=n - 1), label="records")
        check_packed(cat, [template, *others], rnd)

    check()


EXTENDED = [(c, item.number, parts)
            for c, category in sorted(CATEGORIES.items()) for item in category.items
            if isinstance(item.body, Extended) for parts in range(1, len(item.body.parts) + 1)]


@pytest.mark.parametrize("cat, number, parts", EXTENDED,
                         ids=[f"{c}-{n}-{p}" for c, n, p in EXTENDED])
def test_each_extended_part_count(cat: int, number: str, parts: int) -> None:
    body = CATEGORIES[cat].by_number[number].body
    assert isinstance(body, Extended)
    part = st.tuples(*(fields_value(p) for p in body.parts[:parts])).map(_merge)

    @settings(max_examples=3, deadline=None, suppress_health_check=HEALTH)
    @given(st.lists(part, min_size=1, max_size=6), st.randoms(use_true_random=False))
    def check(values: list[dict[str, Any]], rnd: random.Random) -> None:
        check_packed(cat, [{"010": {"SAC": 1, "SIC": 2}, number: v} for v in values], rnd)

    check()


@pytest.mark.parametrize("cat", sorted(CATEGORIES))
def test_packed_records_decode_back(cat: int) -> None:
    """The Cython decoder reads packed rows as the reference codec's: same columns, and each
    row's items decode to the values given."""
    category = CATEGORIES[cat]

    @settings(max_examples=15, deadline=None, suppress_health_check=HEALTH)
    @given(st.data(), st.randoms(use_true_random=False))
    def check(data: st.DataObject, rnd: random.Random) -> None:
        template = data.draw(item_values(category), label="template")
        n = data.draw(st.integers(1, 10), label="n")
        others = data.draw(st.lists(records_like(category, template), min_size=n - 1,
                                    max_size=n - 1), label="records")
        records = [template, *others]
        packed = check_packed(cat, records, rnd)
        batches, problems = DECODER.decode(datablock(cat, split(packed)))
        assert problems.total == 0, problems.summary()
        batch = batches[cat]
        assert len(batch) == n
        for row, values in enumerate(records):
            assert batch.record(row) == values
            assert_columns_equal(batch_columns(batch, row), reference_columns(cat, values),
                                 f"CAT{cat:03d} row {row}")

    check()


# --------------------------------------------------------------------------- Mode S plots

CALLSIGNS = ["DLH4AB", "AFR1234", "AAL100", "", "N12345", "UAL9", "AMX402"]


def mode_s_plots(n: int, seed: int = 48) -> dict[str, Any]:
    """The items of a typical Mode S plot for n records, in the numpy forms a simulator has
    (some text as raw integers, some as strings; some ties at half an LSB)."""
    rng = np.random.default_rng(seed)
    rho = rng.uniform(0, 255, n)
    rho[::7] = (rng.integers(0, 65000, len(rho[::7])) + 0.5) * 2**-8  # exactly half an LSB
    fl = rng.uniform(-10, 450, n)
    fl[::5] = rng.integers(-40, 1800, len(fl[::5])) * 0.25 + 0.125
    return {
        "010": {"SAC": 25, "SIC": np.full(n, 201)},
        "140": rng.uniform(0, 86399, n),
        "020": {"TYP": np.full(n, 5), "SIM": np.zeros(n, dtype=np.int64),
                "RDP": rng.integers(0, 2, n), "SPI": rng.random(n) < 0.01, "RAB": 0},
        "040": {"RHO": rho, "THETA": rng.uniform(0, 359.99, n)},
        "070": {"V": 0, "G": rng.integers(0, 2, n), "L": 0, "MODE3A": rng.integers(0, 4096, n)},
        "090": {"V": 0, "G": 0, "FL": fl},
        "130": {"SRL": rng.uniform(0, 11, n), "SRR": rng.integers(0, 256, n),
                "SAM": rng.integers(-128, 128, n).astype(np.float64)},
        "220": [f"{a:06X}" for a in rng.integers(0, 1 << 24, n)],
        "240": [CALLSIGNS[i] for i in rng.integers(0, len(CALLSIGNS), n)],
        "250": [{"MBDATA": rng.integers(0, 1 << 56, n, dtype=np.uint64), "BDS1": 4, "BDS2": 0}],
        "161": {"TRN": rng.integers(0, 4096, n)},
        "200": {"GSP": rng.uniform(0, 0.2, n), "HDG": rng.uniform(0, 359.99, n)},
        "170": {"CNF": rng.integers(0, 2, n), "RAD": np.full(n, 2), "CDM": rng.integers(0, 4, n)},
        "230": {"COM": 1, "STAT": rng.integers(0, 6, n), "SI": 0, "MSSC": 1, "ARC": 1,
                "AIC": 1, "B1A": 0, "B1B": rng.integers(0, 16, n)},
    }


def _cell(column: Any, i: int) -> Any:
    value = column[i] if isinstance(column, (list, np.ndarray)) else column
    return value.item() if isinstance(value, np.generic) else value


def plot_record(items: dict[str, Any], i: int) -> dict[str, Any]:
    """Record i of mode_s_plots as the reference codec takes it."""
    def group(d: dict[str, Any]) -> dict[str, Any]:
        return {k: _cell(v, i) for k, v in d.items()}

    record = {n: group(v) for n, v in items.items() if isinstance(v, dict)}
    record["070"]["MODE3A"] = f"{record['070']['MODE3A']:04o}"
    record["140"] = _cell(items["140"], i)
    record["220"] = items["220"][i]
    record["240"] = items["240"][i]
    bds = group(items["250"][0])
    bds["MBDATA"] = f"{bds['MBDATA']:014X}"
    record["250"] = [bds]
    return {n: record[n] for n in CATEGORIES[48].uap if n in record}


def test_mode_s_plots_match_the_reference_codec_and_decode_back() -> None:
    n = 1000
    items = mode_s_plots(n)
    packed = pack_records(CATEGORIES[48], items, n)
    rows = split(packed)
    ref = codec(48)
    for i in range(n):
        assert rows[i] == ref.encode_record(plot_record(items, i)), f"record {i}"

    batches, problems = DECODER.decode(datablock(48, rows[:600]) + datablock(48, rows[600:]))
    assert problems.total == 0
    batch = batches[48]
    assert len(batch) == n
    assert (batch.record_length == packed.shape[1]).all()
    cols = batch.columns
    assert (cols["010/SIC"] == 201).all() and (cols["010/SAC"] == 25).all()
    assert (cols["070/MODE3A"] == items["070"]["MODE3A"]).all()
    assert (cols["220"] == [int(a, 16) for a in items["220"]]).all()
    assert [c.decode() for c in cols["240"]] == items["240"]
    assert (cols["161/TRN"] == items["161"]["TRN"]).all()
    for path, lsb in (("040/RHO", 2**-8), ("040/THETA", 360 / 2**16), ("090/FL", 0.25),
                      ("140", 2**-7), ("200/GSP", 2**-14), ("200/HDG", 360 / 2**16)):
        number, *name = path.split("/")
        given_ = items[number][name[0]] if name else items[number]
        assert np.array_equal(cols[path], np.round(given_ / lsb) * lsb), path
    assert np.array_equal(cols["170/CNF"], items["170"]["CNF"])
    for row in (0, 1, 7, 999):
        assert batch.record(row) == ref.decode_record(rows[row])[0]


def test_decoded_columns_pack_back() -> None:
    """The Decoder's columns (ICAO text as bytes, codes and addresses as raw integers) are
    values pack_records takes: packing them again gives the same records."""
    n = 300
    plots = mode_s_plots(n, seed=7)
    numbers = ("010", "140", "040", "070", "090", "220", "240", "161", "200")
    items = {k: plots[k] for k in numbers}
    packed = pack_records(C48, items, n)
    batches, problems = DECODER.decode(datablock(48, split(packed)))
    assert problems.total == 0
    cols = batches[48].columns
    again: dict[str, Any] = {}
    for path in (p for p in COLUMNS[48] if p.split("/")[0] in numbers):
        number, *name = path.split("/")
        if name:
            again.setdefault(number, {})[name[0]] = cols[path]
        else:
            again[number] = cols[path]
    assert cols["240"].dtype.kind == "S" and cols["220"].dtype.kind == "i"
    assert np.array_equal(pack_records(C48, again, n), packed)


def test_ties_round_half_to_even_as_the_reference() -> None:
    """round() and np.rint agree on exact halves (both half to even)."""
    fl = np.array([0.125, 0.375, -0.125, -0.375, 2.625, -2.625, 1e-300, -0.0])
    packed = pack_records(CATEGORIES[48], {"090": {"FL": fl}}, len(fl))
    for i, v in enumerate(fl.tolist()):
        assert split(packed)[i] == codec(48).encode_record({"090": {"FL": v}})


def test_empty_batch_and_split() -> None:
    packed = pack_records(CATEGORIES[65], {"010": {"SAC": [], "SIC": []}}, 0)
    assert packed.shape == (0, 3)
    assert split(packed) == []


# --------------------------------------------------------------------------- bad values

# (category, items with one record, what the message names); the reference codec rejects the
# same record.
OUT_OF_RANGE = [
    (48, {"040": {"RHO": [256.0], "THETA": [0.0]}}, "I040/RHO"),
    (48, {"040": {"RHO": [-0.002], "THETA": [0.0]}}, "I040/RHO"),
    (48, {"040": {"RHO": [1.0], "THETA": [359.999]}}, "I040/THETA"),
    (48, {"090": {"FL": [2048.0]}}, "I090/FL"),
    (48, {"090": {"FL": np.array([-2048.25])}}, "I090/FL"),
    (48, {"090": {"FL": [float("nan")]}}, "I090/FL"),
    (48, {"140": [float("inf")]}, "I140"),
    (48, {"161": {"TRN": np.array([4096])}}, "I161/TRN"),
    (48, {"161": {"TRN": [-1]}}, "I161/TRN"),
    (48, {"070": {"MODE3A": ["10000"]}}, "I070/MODE3A"),
    (48, {"070": {"MODE3A": ["7778"]}}, "I070/MODE3A"),
    (48, {"070": {"MODE3A": np.array([4096])}}, "I070/MODE3A"),
    (48, {"220": ["1000000"]}, "I220"),
    (48, {"220": np.array([-1])}, "I220"),
    (48, {"240": ["TOOLONG12"]}, "I240"),
    (48, {"240": ["abc"]}, "I240"),
    (48, {"250": [{"BDS1": [16]}]}, "I250[0]/BDS1"),
    (48, {"250": [{"BDS1": [1]}] * 256}, "I250"),
    (48, {"030": []}, "I030"),
    (48, {"130": {}}, "I130"),
    (48, {"SP": ["00" * 255]}, "ISP"),
    (48, {"130": {"SAM": [128]}}, "I130/SAM"),
    (62, {"390": {"CS": ["EIGHTCHR"]}}, "I390/CS"),
    (62, {"380": {"IAS": {"IM": [1], "IAS": [32.768]}}}, "I380/IAS/IAS"),
    (62, {"380": {"TID": [{"TOV": [-1.0]}]}}, "I380/TID[0]/TOV"),
    (62, {"510": [{"TRACK": [1 << 15]}]}, "I510[0]/TRACK"),
    (34, {"120": {"LAT": [180.0]}}, "I120/LAT"),
    (65, {"030": [-1.0]}, "I030"),
]


def _one_record(items: Any) -> Any:
    """The single record of a one-record column form, as the reference codec takes it."""
    if isinstance(items, dict):
        return {k: _one_record(v) for k, v in items.items()}
    if isinstance(items, np.ndarray):
        return items[0].item()
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return [_one_record(v) for v in items]
    return items[0] if isinstance(items, list) and items else items


@pytest.mark.parametrize("cat, items, where", OUT_OF_RANGE,
                         ids=[f"{c}-{w}-{i}" for i, (c, _, w) in enumerate(OUT_OF_RANGE)])
def test_bad_values_raise_naming_the_field(cat: int, items: dict[str, Any], where: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(where)):
        pack_records(CATEGORIES[cat], items, 1)
    record = _one_record(items)
    if cat == 48 and "070" in items and isinstance(items["070"]["MODE3A"], np.ndarray):
        record["070"]["MODE3A"] = f"{record['070']['MODE3A']:o}"  # the reference takes text
    if "220" in items and isinstance(items["220"], np.ndarray):
        record["220"] = f"{record['220']:X}"
    # (The reference lets round() raise for NaN and infinity: ValueError, OverflowError.)
    with pytest.raises((ValueError, OverflowError)):
        codec(cat).encode_record(record)


def test_bad_value_of_a_later_record_names_it() -> None:
    rho = np.array([1.0, 2.0, 300.0, 4.0])
    with pytest.raises(ValueError, match=r"I040/RHO: value 300\.0 \(record 2\)"):
        pack_records(C48, {"040": {"RHO": rho, "THETA": 0.0}}, 4)


@pytest.mark.parametrize("items, n, message", [
    ({"040": {"RHO": [1.0, 2.0], "THETA": 0.0}}, 3, "I040/RHO: expected 3 values"),
    ({"240": ["ABC"]}, 2, "I240: 1 values for 2 records"),
    ({"999": [1]}, 1, "CAT048 has no items"),
    ({"040": {"RHOO": [1.0]}}, 1, r"I040: unknown subfields \['RHOO'\]"),
    ({"020": {"TYP": [1], "XYZ": [0]}}, 1, r"I020: unknown subfields \['XYZ'\]"),
    ({"130": {"SRL": [1.0], "FOO": [1]}}, 1, r"I130: unknown subfields \['FOO'\]"),
    ({"SP": ["00", "0000"]}, 2, "ISP: explicit data of different lengths"),
    ({"040": [1.0]}, 1, "I040: expected a dict"),
    ({"250": {"BDS1": [1]}}, 1, "I250: expected a list"),
    ({}, 1, "needs at least one field"),
])
def test_malformed_columns_raise(items: dict[str, Any], n: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pack_records(C48, items, n)
