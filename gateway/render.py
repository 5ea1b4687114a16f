"""Records as people and scripts read them: JSON lines, or an annotated text tree.

JSON lines are written by gateway._jsonl straight from a batch's item offsets, a whole decode
call into one bytes buffer, through formatting programs compiled here from the category
definitions.  ``record_json`` (one record through the reference codec and ``json.dumps``)
defines what that text is; the tests hold the fast writer to it byte for byte.  The text
tree is made one record at a time through the reference codec; labels and units come from
the category definitions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache

import numpy as np

from gateway import _jsonl
from gateway.asterix import CATEGORIES
from gateway.asterix.codec import ICAO_CHARS
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
from gateway.decoder import Batch

_jsonl.set_icao_chars(ICAO_CHARS.encode("ascii"))


def record_order(batches: dict[int, Batch]) -> tuple[np.ndarray, np.ndarray]:
    """Which batch (int32, in ``batches`` order) and row (int64) each record of one decode
    call is, in the order it was received (its offset in the call's data)."""
    listed = list(batches.values())
    if len(listed) == 1:
        return (np.zeros(len(listed[0]), dtype=np.int32),
                np.arange(len(listed[0]), dtype=np.int64))
    if not listed:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
    which = np.concatenate([np.full(len(b), i, dtype=np.int32) for i, b in enumerate(listed)])
    rows = np.concatenate([np.arange(len(b), dtype=np.int64) for b in listed])
    order = np.argsort(np.concatenate([b.record_offset for b in listed]), kind="stable")
    return which[order], rows[order]


def in_order(batches: dict[int, Batch]) -> Iterator[tuple[Batch, int]]:
    """Every record of one decode call, in the order it was received."""
    listed = list(batches.values())
    which, rows = record_order(batches)
    for b, row in zip(which.tolist(), rows.tolist(), strict=True):
        yield listed[b], row


def _column(batch: Batch, path: str, row: int) -> int | None:
    return int(batch.columns[path][row]) if batch.present[path][row] else None


def record_object(batch: Batch, row: int) -> dict[str, object]:
    """The ``decode --format jsonl`` object for one record (docs/commands.md)."""
    t = batch.t_capture[row]
    return {
        "cat": batch.category,
        "sac": _column(batch, "010/SAC", row),
        "sic": _column(batch, "010/SIC", row),
        "t_capture": None if np.isnan(t) else float(t),
        "len": int(batch.record_length[row]),
        "items": batch.record(row),
    }


def record_json(batch: Batch, row: int) -> str:
    """One record's JSON line through the reference codec: slow, and the definition of what
    :func:`jsonl_lines` writes fast."""
    return json.dumps(record_object(batch, row), separators=(", ", ": "))


# Node and element kinds, and table widths: the numbers ext/jsonl.pyx declares.
N_FIXED, N_EXTENDED, N_REPFX, N_REP, N_COMPOUND, N_EXPLICIT = range(6)
E_INT, E_FLOAT, E_INTMUL, E_HEX, E_OCTAL, E_ICAO, E_ASCII, E_CASE, E_OPEN, E_CLOSE = range(10)
_NODE_WIDTH, _OP_WIDTH, _PART_WIDTH, _SLOT_WIDTH, _CHOICE_WIDTH = 5, 8, 3, 2, 3


class _Compiler:
    """Turns item bodies into the integer tables ext/jsonl.pyx interprets.

    The text follows the reference codec (gateway/asterix/codec.py): an element alone is its
    bare value, groups and extended items are dicts of their named fields, repetitions are
    lists, compound items dicts of the subitems present, SP/RE hex.  Which key is first in
    its dict is known here for everything but compound subitems and repetitions, so keys
    carry their ", " separator.
    """

    def __init__(self) -> None:
        self.nodes: list[list[int]] = []
        self.ops: list[list[int]] = []
        self.parts: list[list[int]] = []
        self.slots: list[list[int]] = []
        self.choices: list[list[int]] = []
        self.scales: list[float] = []
        self.lits: list[bytes] = []
        self._lit_index: dict[bytes, int] = {}
        self._scale_index: dict[tuple[type, float], int] = {}

    def lit(self, text: str) -> int:
        data = text.encode("ascii")
        if data not in self._lit_index:
            self._lit_index[data] = len(self.lits)
            self.lits.append(data)
        return self._lit_index[data]

    def scale(self, value: float) -> int:
        key = (type(value), value)
        if key not in self._scale_index:
            self._scale_index[key] = len(self.scales)
            self.scales.append(float(value))
        return self._scale_index[key]

    def key(self, name: str, first: bool, suffix: str = "") -> int:
        return self.lit(("" if first else ", ") + json.dumps(name) + ": " + suffix)

    def element(self, el: Element, bit: int, key: int, scope: dict[str, int],
                scope_start: int) -> None:
        where = el.name
        if bit % 8 + el.bits > 64:
            raise ValueError(f"{where}: {el.bits} bits at bit {bit % 8} exceed 64")
        signed = int(el.signed and el.text is None)
        scale, aux1, aux2 = 0, -1, -1
        if el.text == "hex":
            kind = E_HEX
        elif el.text == "octal":
            kind = E_OCTAL
        elif el.text == "icao":
            kind = E_ICAO
        elif el.text == "ascii":
            if el.bits % 8:
                raise ValueError(f"{where}: ASCII text of {el.bits} bits")
            kind = E_ASCII
        elif el.case is not None:
            # the codec looks the selector up among the fields parsed before, in this struct
            kind = E_CASE
            selector = scope.get(el.case[0])
            aux1 = -1 if selector is None else selector - scope_start
            aux2 = len(self.choices)
            scale = len(el.case[1])
            for value, lsb, _unit in el.case[1]:
                self.choices.append([value, self.scale(lsb), int(isinstance(lsb, int))])
        elif el.scale is None:
            kind = E_INT
        elif isinstance(el.scale, int):
            kind, scale = E_INTMUL, self.scale(el.scale)
        else:
            kind, scale = E_FLOAT, self.scale(el.scale)
        self.ops.append([kind, bit, el.bits, key, signed, scale, aux1, aux2])

    def fields(self, fields: tuple[Field, ...], first: bool, names: set[str]) -> bool:
        """Ops for one struct's fields (bit offsets from its start); returns ``first``."""
        scope: dict[str, int] = {}
        start = len(self.ops)
        bit = 0
        for f in fields:
            if isinstance(f, Spare):
                pass
            elif f.name is None:
                raise ValueError("a nested group without a name has no key")
            elif f.name in names:
                raise ValueError(f"{f.name}: two fields of one dict share the name")
            elif isinstance(f, Element):
                names.add(f.name)
                index = len(self.ops)
                self.element(f, bit, self.key(f.name, first), scope, start)
                if f.text is None and f.scale is None and f.case is None:
                    scope[f.name] = index
                first = False
            else:
                names.add(f.name)
                self.ops.append([E_OPEN, bit, 0, self.key(f.name, first, "{"), 0, 0, -1, -1])
                self._nested(f.fields, bit)
                self.ops.append([E_CLOSE, bit, 0, -1, 0, 0, -1, -1])
                first = False
            bit += f.bits
        return first

    def _nested(self, fields: tuple[Field, ...], offset: int) -> None:
        """A named group's fields, at bit offsets from the enclosing struct's start."""
        start = len(self.ops)
        self.fields(fields, True, set())
        for op in self.ops[start:]:
            op[1] += offset

    def node(self, kind: int, a: int = 0, b: int = 0, c: int = 0, d: int = 0) -> int:
        self.nodes.append([kind, a, b, c, d])
        return len(self.nodes) - 1

    def fixed(self, body: Element | Group, fx: bool = False) -> tuple[int, int, int]:
        """(first op, op count, bare) of one fixed body."""
        first = len(self.ops)
        if isinstance(body, Element):
            self.element(body, 0, -1, {}, first)
            return first, 1, 1
        self.fields(body.fields, True, set())
        return first, len(self.ops) - first, 0

    def body(self, body: Body) -> int:
        if isinstance(body, (Element, Group)):
            first, count, bare = self.fixed(body)
            return self.node(N_FIXED, body.bits // 8, first, count, bare)
        if isinstance(body, Extended):
            sizes = [(sum(f.bits for f in p) + 1) // 8 for p in body.parts]
            # the walker reads undefined extensions in parts of the last part's size, the
            # codec in octets: they agree only when those are one octet
            if len(sizes) > 1 and set(sizes[1:]) != {1}:
                raise ValueError("extended items' later parts must be one octet each")
            names: set[str] = set()
            first_part, first = len(self.parts), True
            for size, part in zip(sizes, body.parts, strict=True):
                start = len(self.ops)
                first = self.fields(part, first, names)
                self.parts.append([size, start, len(self.ops) - start])
            return self.node(N_EXTENDED, first_part, len(body.parts))
        if isinstance(body, Repetitive) and body.fx:
            first, count, bare = self.fixed(body.body)
            return self.node(N_REPFX, (body.body.bits + 1) // 8, first, count, bare)
        if isinstance(body, Repetitive):
            return self.node(N_REP, self.body(body.body))
        if isinstance(body, Compound):
            node = self.node(N_COMPOUND)
            children = [None if s is None else (self.key(s[0], True), self.body(s[1]))
                        for s in body.subitems]
            first_slot = len(self.slots)
            self.slots.extend([-1, -1] if c is None else list(c) for c in children)
            self.nodes[node][1:3] = [first_slot, len(body.subitems)]
            return node
        if isinstance(body, Explicit):
            return self.node(N_EXPLICIT)
        raise TypeError(f"not an item body: {body!r}")


def _table(rows: list[list[int]], width: int) -> np.ndarray:
    return np.asarray(rows, dtype=np.int32).reshape(-1, width).reshape(-1)


def program_tables(category: Category) -> tuple[tuple[np.ndarray, ...], bytes]:
    """The formatting tables of one category: per FRN its node and key, then nodes, ops,
    parts, slots, choices (int32, flattened), scales (float64) and literal offsets; and the
    literals (keys with their separators) those offsets index."""
    c = _Compiler()
    frn_node = [-1 if n is None else c.body(category.by_number[n].body) for n in category.uap]
    item_key = [-1 if n is None else c.key(n, True) for n in category.uap]
    lit_off = np.cumsum([0] + [len(x) for x in c.lits]).astype(np.int32)
    tables = (np.asarray(frn_node, dtype=np.int32), np.asarray(item_key, dtype=np.int32),
              _table(c.nodes, _NODE_WIDTH), _table(c.ops, _OP_WIDTH),
              _table(c.parts, _PART_WIDTH), _table(c.slots, _SLOT_WIDTH),
              _table(c.choices, _CHOICE_WIDTH), np.asarray(c.scales, dtype=np.float64),
              lit_off)
    return tables, b"".join(c.lits)


@cache
def json_program(category: int) -> _jsonl.Program:
    """The formatting program of one category, compiled once."""
    tables, lits = program_tables(CATEGORIES[category])
    return _jsonl.Program(category, tables, lits)


def _optional(batch: Batch, path: str) -> tuple[np.ndarray, np.ndarray]:
    if path in batch.columns:
        return batch.columns[path], batch.present[path].view(np.uint8)
    n = len(batch)
    return np.zeros(n, dtype=np.int32), np.zeros(n, dtype=np.uint8)


def jsonl_lines(batches: dict[int, Batch]) -> bytes:
    """The ``decode --format jsonl`` lines of one decode call's batches, in received order:
    exactly ``record_json`` of each record, each followed by a newline."""
    return bytes(jsonl_buffer(batches))


def jsonl_buffer(batches: dict[int, Batch]) -> _jsonl.Lines | bytes:
    """:func:`jsonl_lines` without the copy into a bytes object: a buffer to write out.
    (Its memory goes back to the writer when it is freed, for the next call to reuse.)"""
    if not batches:
        return b""
    listed = list(batches.values())
    data = listed[0].data
    if any(b.data is not data for b in listed):
        raise ValueError("batches of different decode calls cannot be put in one order")
    which, rows = record_order(batches)
    parts = []
    for b in listed:
        sac, sac_present = _optional(b, "010/SAC")
        sic, sic_present = _optional(b, "010/SIC")
        parts.append((json_program(b.category),
                      np.ascontiguousarray(b.record_offset, dtype=np.int64),
                      np.ascontiguousarray(b.record_length, dtype=np.int32),
                      np.ascontiguousarray(b.t_capture, dtype=np.float64),
                      np.ascontiguousarray(b.item_start, dtype=np.uint16),
                      np.ascontiguousarray(b.item_length, dtype=np.uint16),
                      sac.astype(np.int32, copy=False), sac_present,
                      sic.astype(np.int32, copy=False), sic_present))
    buf = np.frombuffer(data, dtype=np.uint8) if data else np.zeros(0, dtype=np.uint8)
    return _jsonl.render(buf, parts, which, rows)


def _units(fields: tuple[Field, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in fields:
        if isinstance(f, Element):
            if f.unit:
                out[f.name] = f.unit
        elif isinstance(f, Group) and f.name:
            out.update(_units(f.fields))
    return out


def _body_units(body: Body) -> dict[str, str]:
    if isinstance(body, Element):
        return _units((body,))
    if isinstance(body, Group):
        return _units(body.fields)
    if isinstance(body, Extended):
        return {k: v for part in body.parts for k, v in _units(part).items()}
    if isinstance(body, Repetitive):
        return _body_units(body.body)
    if isinstance(body, Compound):
        return {k: v for s in body.subitems if s for k, v in _body_units(s[1]).items()}
    return {}


def _show(value: object, units: dict[str, str], name: str | None) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_show(v, units, k)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + "; ".join(_show(v, units, name) for v in value) + "]"
    unit = units.get(name or "")
    return f"{value} {unit}" if unit else str(value)


def record_text(batch: Batch, row: int, number: int) -> str:
    """A Wireshark-like view: a header line, then one line per item (compound: per subitem)."""
    category = CATEGORIES[batch.category]
    t = batch.t_capture[row]
    when = "" if np.isnan(t) else " " + datetime.fromtimestamp(t, UTC).isoformat(
        timespec="microseconds").replace("+00:00", "Z")
    sac, sic = _column(batch, "010/SAC", row), _column(batch, "010/SIC", row)
    lines = [f"#{number} CAT{batch.category:03d} SAC/SIC {sac}/{sic} len {batch.record_length[row]}"
             f"{when}"]
    for item_no, value in batch.record(row).items():
        item = category.by_number[item_no]
        units = _body_units(item.body)
        if isinstance(item.body, Compound):
            lines.append(f"  I{item_no} {item.title}:")
            lines.extend(f"    {k}: {_show(v, units, k)}" for k, v in value.items())
        else:
            name = item.body.name if isinstance(item.body, Element) else None
            lines.append(f"  I{item_no} {item.title}: {_show(value, units, name)}")
    return "\n".join(lines)
