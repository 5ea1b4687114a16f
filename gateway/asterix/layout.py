"""Flatten category definitions into the integer tables the Cython decoder interprets.

The fast path never has its own copy of a layout: it walks records with the node tables
built here and extracts columns at the bit positions computed here, both from the category
modules.  A layout fixed in a category module is fixed for every decoder at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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

# Node kinds and extraction kinds; ext/decoder.pyx declares the same numbers.
FIXED, EXTENDED, REPETITIVE, COMPOUND, EXPLICIT = range(5)
UINT, INT, UQUANTITY, SQUANTITY, ICAO, ASCII = range(6)
NODE_WIDTH = 5  # kind, a, b, first child, child count


@dataclass(frozen=True)
class Tables:
    """What the walker needs for one category."""

    category: int
    uap: np.ndarray  # int32 node index per FRN, -1 for an undefined FRN
    nodes: np.ndarray  # int32 [n, NODE_WIDTH]
    children: np.ndarray  # int32 node index per compound slot, -1 for an unused slot


@dataclass(frozen=True)
class ColumnSpec:
    """Where one element sits: item (FRN), compound slot, byte and bit offset, width."""

    path: str
    frn: int  # 0-based
    slot: int  # compound subitem slot, -1 for none
    byte: int
    bit: int  # from the most significant bit of ``byte``
    bits: int
    kind: int
    scale: float

    @property
    def dtype(self) -> np.dtype:
        if self.kind in (UQUANTITY, SQUANTITY):
            return np.dtype(np.float64)
        if self.kind == ICAO:
            return np.dtype(f"S{self.bits // 6}")
        if self.kind == ASCII:
            return np.dtype(f"S{self.bits // 8}")
        return np.dtype(np.int32)


def _bytes(fields: tuple[Field, ...]) -> int:
    return sum(f.bits for f in fields) // 8


def tables(category: Category) -> Tables:
    nodes: list[list[int]] = []
    children: list[int] = []

    def add(body: Body) -> int:
        index = len(nodes)
        nodes.append([FIXED, 0, 0, 0, 0])
        if isinstance(body, (Element, Group)):
            nodes[index][1] = body.bits // 8
        elif isinstance(body, Extended):
            first = (sum(f.bits for f in body.parts[0]) + 1) // 8
            rest = (sum(f.bits for f in body.parts[-1]) + 1) // 8 if len(body.parts) > 1 else 1
            nodes[index] = [EXTENDED, first, rest, 0, 0]
        elif isinstance(body, Repetitive) and body.fx:
            # FX-chained copies walk exactly like extended parts of one fixed size
            size = (body.body.bits + 1) // 8
            nodes[index] = [EXTENDED, size, size, 0, 0]
        elif isinstance(body, Repetitive):
            nodes[index] = [REPETITIVE, body.body.bits // 8, 0, 0, 0]
        elif isinstance(body, Explicit):
            nodes[index] = [EXPLICIT, 0, 0, 0, 0]
        elif isinstance(body, Compound):
            first = len(children)
            children.extend([-1] * len(body.subitems))
            for slot, sub in enumerate(body.subitems):
                if sub is not None:
                    children[first + slot] = add(sub[1])
            nodes[index] = [COMPOUND, 0, 0, first, len(body.subitems)]
        else:
            raise TypeError(body)
        return index

    uap = [-1 if n is None else add(category.by_number[n].body) for n in category.uap]
    return Tables(
        category.number,
        np.asarray(uap, dtype=np.int32),
        np.asarray(nodes, dtype=np.int32).reshape(-1, NODE_WIDTH),
        np.asarray(children or [-1], dtype=np.int32),
    )


def _locate(fields: tuple[Field, ...], names: list[str], start: int) -> tuple[int, Element]:
    """Bit offset (from ``start``) and element of a path of names through nested groups."""
    offset = start
    for f in fields:
        if not isinstance(f, Spare) and f.name == names[0]:
            if isinstance(f, Element) and len(names) == 1:
                return offset, f
            if isinstance(f, Group) and len(names) > 1:
                return _locate(f.fields, names[1:], offset)
        offset += f.bits
    raise KeyError("/".join(names))


def _in_body(body: Body, names: list[str]) -> tuple[int, Element]:
    if isinstance(body, Element):
        if names:
            raise KeyError("/".join(names))
        return 0, body
    if isinstance(body, Group):
        return _locate(body.fields, names, 0)
    if isinstance(body, Extended):
        offset = 0
        for part in body.parts:
            try:
                return _locate(part, names, offset)
            except KeyError:
                offset += sum(f.bits for f in part) + 1
    raise KeyError("/".join(names))


def column(category: Category, path: str) -> ColumnSpec:
    """The spec of one column named by its path, e.g. ``"040/RHO"``, ``"380/ADR"``."""
    number, *names = path.split("/")
    body = category.by_number[number].body
    slot = -1
    if isinstance(body, Compound):
        sub = names.pop(0)
        slot, body = next((i, s[1]) for i, s in enumerate(body.subitems)
                          if s is not None and s[0] == sub)
    offset, el = _in_body(body, names)
    if el.text == "icao":
        kind = ICAO
    elif el.text == "ascii":
        kind = ASCII
    elif el.scale is not None:
        kind = SQUANTITY if el.signed else UQUANTITY
    else:
        kind = INT if el.signed else UINT
        if el.bits > 31:
            raise ValueError(f"{path}: {el.bits}-bit integer does not fit an int32 column")
    return ColumnSpec(path, category.frn(number) - 1, slot, offset // 8, offset % 8, el.bits,
                      kind, el.scale or 1.0)


def column_array(specs: list[ColumnSpec]) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """Specs for the walker: int32 [n, 8] (frn slot byte bit bits kind destination need, the
    last being the bytes the item must have), float64 scales, and the widths of the int,
    float and character stores the destinations index.  ``specs`` must be sorted by kind
    (see :func:`by_kind`): the walker runs one loop per kind."""
    rows: list[list[int]] = []
    nint = nfloat = nchar = 0
    for s in specs:
        if s.kind in (UQUANTITY, SQUANTITY):
            dest, nfloat = nfloat, nfloat + 1
        elif s.kind in (ICAO, ASCII):
            dest, nchar = nchar, nchar + s.dtype.itemsize
        else:
            dest, nint = nint, nint + 1
        need = s.byte + (s.bit + s.bits + 7) // 8
        rows.append([s.frn, s.slot, s.byte, s.bit, s.bits, s.kind, dest, need])
    spec = np.array(rows, dtype=np.int32).reshape(-1, 8)
    return spec, np.array([s.scale for s in specs], dtype=np.float64), (nint, nfloat, nchar)


def by_kind(specs: list[ColumnSpec]) -> list[ColumnSpec]:
    """The order the walker wants columns in."""
    return sorted(specs, key=lambda s: s.kind)
