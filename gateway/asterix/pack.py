"""The vectorised record encoder: many records of one structure encoded at once with numpy.

The simulator writes hundreds of thousands of records an hour; the reference codec
(:mod:`gateway.asterix.codec`) encodes a few thousand a second.  Records that share one
structure -- the same items, the same number of parts of each extended item, the same number
of repetitions, the same compound subitems, the same explicit lengths -- also share one bit
layout: every element, FX bit, REP octet, sub-FSPEC and length octet sits at the same bit
offset in each of them.  :func:`pack_records` walks the category definition once for the
batch, turning the FSPEC, FX bits, counts and sub-FSPECs into one constant template, and each
element into a column of raw unsigned integers placed at its offset; the record is then
assembled as big-endian 64-bit words and viewed as bytes.

Values are given as the reference codec takes them (:meth:`RecordCodec.encode_record`), with
every leaf a column of ``n`` values.  Raw values, rounding and range checks follow the
reference codec, which the tests hold this encoder byte-identical to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache

import numpy as np

from gateway.asterix.codec import (
    CodecError,
    default_value,
    field_names,
    fspec_bytes,
    text_raw,
)
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

__all__ = ["Columns", "pack_records", "split"]

# What pack_records takes: item number -> its columns (see there); checked as it is walked.
Columns = Mapping[str, object]

_U64 = np.uint64
_WORD = 64
_MISSING = object()


def pack_records(category: Category, items: Columns, n: int) -> np.ndarray:
    """n records that share one structure, encoded at once: uint8 array [n, record_length].

    ``items`` maps item number -> column values for all n records, in the shapes
    RecordCodec.encode_record takes for one record, with every leaf replaced by a sequence
    (list or numpy array) of n values: an Element body -> n values; a Group -> dict of
    name -> n values (absent fields are 0); Extended -> flat dict (parts up to the last one
    with a field given, for all records); Repetitive -> a list of k entries, each an element
    (n values) or group dict (k the same for all n records); Compound -> dict of subitem name
    -> that subitem's values (the same subitems for all records); Explicit -> n hex strings
    of one length.  For text elements accept either the text (str per record) or, faster,
    the raw integers (octal and hex elements: int arrays of the code / address).

    A leaf may also be one scalar (a number, or one str for a text or explicit element),
    which every record shares.  Explicit items also take a uint8 array [n, length] of their
    bytes.  Absent fields of a group or part encode as the reference codec's default (0, or
    spaces for an absent ICAO or ASCII text).

    Bad input raises :class:`~gateway.asterix.codec.CodecError` (a ValueError) naming the
    item and field: values whose raw integer does not fit the element's bits (quantities
    after rounding half to even, as the reference codec's ``round``), NaN, text with no
    encoding, columns not of length n, unknown items or field names, more than 255
    repetitions, an empty FX repetition or compound, explicit data over 254 bytes.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise CodecError(f"n must be a non-negative integer, got {n!r}")
    name = f"CAT{category.number:03d}"
    if not isinstance(items, dict):
        raise CodecError(f"{name}: expected a dict of items, got {type(items).__name__}")
    slots = {number: i for i, number in enumerate(category.uap) if number is not None}
    unknown = items.keys() - slots.keys()
    if unknown:
        raise CodecError(f"{name} has no items {sorted(unknown)}")
    chosen = sorted(slots[k] for k in items)
    layout = _Layout(int(n))
    layout.octets(fspec_bytes(chosen))
    for slot in chosen:
        number = category.uap[slot]
        assert number is not None
        _body(layout, category.by_number[number].body, items[number], f"I{number}")
    return layout.assemble()


def split(records: np.ndarray) -> list[bytes]:
    """The rows of :func:`pack_records` as bytes, one record each."""
    n, length = records.shape
    data = np.ascontiguousarray(records, dtype=np.uint8).tobytes()
    return [data[i:i + length] for i in range(0, n * length, length)]


# --------------------------------------------------------------------------- layout


class _Layout:
    """The bit layout of a batch: constant bits, columns of raw values, byte blocks."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.bits = 0  # written so far
        self.const = 0  # the constant bits, most significant first, ``bits`` long
        self.columns: list[tuple[int, int, np.ndarray]] = []  # bit offset, width, raw uint64
        self.blocks: list[tuple[int, np.ndarray]] = []  # byte offset, uint8 [n, width]

    def constant(self, value: int, bits: int) -> None:
        self.const = (self.const << bits) | value
        self.bits += bits

    def octets(self, data: bytes) -> None:
        self.constant(int.from_bytes(data, "big"), 8 * len(data))

    def value(self, raw: int | np.ndarray, bits: int) -> None:
        """An element's raw value: one integer for all records, or a uint64 column."""
        if isinstance(raw, int):
            self.constant(raw, bits)
        else:
            self.columns.append((self.bits, bits, raw))
            self.constant(0, bits)

    def block(self, data: np.ndarray) -> None:
        """Byte-aligned bytes that differ per record (uint8 [n, width])."""
        assert self.bits % 8 == 0
        self.blocks.append((self.bits // 8, data))
        self.constant(0, 8 * data.shape[1])

    def assemble(self) -> np.ndarray:
        length = self.bits // 8
        nwords = -(-self.bits // _WORD)
        template = (self.const << (nwords * _WORD - self.bits)).to_bytes(nwords * 8, "big")
        words = np.empty((nwords, self.n), dtype=_U64)
        words[...] = np.frombuffer(template, dtype=">u8").astype(_U64)[:, None]
        for offset, bits, raw in self.columns:
            end = offset + bits
            for w in range((offset // _WORD), (end - 1) // _WORD + 1):
                # How far the field runs on past this word's end (<= 0: it ends inside
                # the word); both shifts are 0..63 because a field has at most 64 bits.
                right = end - (w + 1) * _WORD
                row = words[w]
                if right > 0:
                    row |= raw >> _U64(right)
                else:
                    row |= raw << _U64(-right)
        out = words.T.astype(">u8", order="C").view(np.uint8).reshape(self.n, nwords * 8)
        if length != nwords * 8:
            out = np.ascontiguousarray(out[:, :length])
        for offset, data in self.blocks:
            out[:, offset:offset + data.shape[1]] = data
        return out


# --------------------------------------------------------------------------- bodies


def _body(layout: _Layout, body: Body, value: object, where: str) -> None:
    if isinstance(body, Element):
        layout.value(_element(body, value, layout.n, where, None), body.bits)
    elif isinstance(body, Group):
        _fields(layout, body.fields, _dict(value, where), where, check=True)
    elif isinstance(body, Extended):
        _extended(layout, body, _dict(value, where), where)
    elif isinstance(body, Repetitive):
        _repetitive(layout, body, value, where)
    elif isinstance(body, Compound):
        _compound(layout, body, _dict(value, where), where)
    elif isinstance(body, Explicit):
        _explicit(layout, value, where)
    else:
        raise TypeError(f"not an item body: {body!r}")


def _dict(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise CodecError(f"{where}: expected a dict of subfields, got {type(value).__name__}")
    return value


def _fields(layout: _Layout, fields: tuple[Field, ...], obj: dict[str, object], where: str, *,
            check: bool) -> None:
    """A group's fields; absent ones take the reference codec's defaults."""
    if check:
        unknown = obj.keys() - field_names(fields)
        if unknown:
            raise CodecError(f"{where}: unknown subfields {sorted(unknown)}")
    for f in fields:
        if isinstance(f, Spare):
            layout.constant(0, f.bits)
        elif isinstance(f, Element):
            value = obj.get(f.name, _MISSING)
            if value is _MISSING:
                value = default_value(f)
            layout.value(_element(f, value, layout.n, f"{where}/{f.name}", (fields, obj)),
                         f.bits)
        elif f.name is None:
            _fields(layout, f.fields, obj, where, check=False)
        else:
            _fields(layout, f.fields, _dict(obj.get(f.name, {}), f"{where}/{f.name}"),
                    f"{where}/{f.name}", check=True)


def _extended(layout: _Layout, body: Extended, obj: dict[str, object], where: str) -> None:
    names = [field_names(part) for part in body.parts]
    unknown = obj.keys() - set().union(*names)
    if unknown:
        raise CodecError(f"{where}: unknown subfields {sorted(unknown)}")
    # As the reference codec: parts up to the last one with a field given, at least one.
    last = max((i for i, ns in enumerate(names) if ns & obj.keys()), default=0)
    for i in range(last + 1):
        _fields(layout, body.parts[i], obj, where, check=False)
        layout.constant(int(i < last), 1)


def _repetitive(layout: _Layout, body: Repetitive, value: object, where: str) -> None:
    if not isinstance(value, (list, tuple)):
        raise CodecError(f"{where}: expected a list of repetitions, got {type(value).__name__}")
    count = len(value)
    if body.fx and count == 0:
        raise CodecError(f"{where}: an FX-chained repetition needs at least one entry")
    if not body.fx:
        if count > 255:
            raise CodecError(f"{where}: {count} repetitions, at most 255")
        layout.constant(count, 8)
    for i, entry in enumerate(value):
        _body(layout, body.body, entry, f"{where}[{i}]")
        if body.fx:
            layout.constant(int(i < count - 1), 1)


def _compound(layout: _Layout, body: Compound, obj: dict[str, object], where: str) -> None:
    index = {s[0]: i for i, s in enumerate(body.subitems) if s is not None}
    unknown = obj.keys() - index.keys()
    if unknown:
        raise CodecError(f"{where}: unknown subfields {sorted(unknown)}")
    slots = sorted(index[k] for k in obj)
    try:
        layout.octets(fspec_bytes(slots))
    except CodecError as exc:
        raise CodecError(f"{where}: {exc}") from None
    for slot in body.subitems:  # in slot order, as the FSPEC marks them
        if slot is not None and slot[0] in obj:
            name, sub = slot
            _body(layout, sub, obj[name], f"{where}/{name}")


def _explicit(layout: _Layout, value: object, where: str) -> None:
    n = layout.n
    if isinstance(value, np.ndarray) and value.ndim == 2:
        if value.shape[0] != n:
            raise CodecError(f"{where}: {value.shape[0]} rows of bytes for {n} records")
        data = np.ascontiguousarray(value, dtype=np.uint8)
        width = data.shape[1]
    elif isinstance(value, (str, bytes)):
        one = _explicit_bytes(value, where)
        width = len(one)
        data = None
    else:
        rows = [_explicit_bytes(v, f"{where}[{i}]") for i, v in enumerate(_sequence(value, n,
                                                                                 where))]
        widths = {len(r) for r in rows}
        if len(widths) > 1:
            raise CodecError(f"{where}: explicit data of different lengths {sorted(widths)}")
        width = widths.pop() if widths else 0
        data = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(n, width)
    if width > 254:
        raise CodecError(f"{where}: explicit item longer than 254 bytes")
    layout.constant(width + 1, 8)
    if data is None:
        layout.octets(one)
    else:
        layout.block(data)


def _explicit_bytes(value: object, where: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not isinstance(value, str):
        raise CodecError(f"{where}: cannot encode {value!r}: expected hex text or bytes")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise CodecError(f"{where}: cannot encode {value!r}: {exc}") from None


def _sequence(value: object, n: int, where: str) -> list[object]:
    if not isinstance(value, Iterable):
        raise CodecError(f"{where}: expected {n} values, got {type(value).__name__}")
    values = value.tolist() if isinstance(value, np.ndarray) else list(value)
    if len(values) != n:
        raise CodecError(f"{where}: {len(values)} values for {n} records")
    return values


# --------------------------------------------------------------------------- elements


def _element(el: Element, value: object, n: int, where: str,
             group: tuple[tuple[Field, ...], dict[str, object]] | None) -> int | np.ndarray:
    """Raw unsigned values of one element: an int shared by all records, or a uint64 column."""
    if el.bits > _WORD:
        raise CodecError(f"{where}: elements wider than {_WORD} bits are not supported")
    if el.text is not None:
        return _text(el, value, n, where)
    column = _column(value, n, where)
    scale: float | np.ndarray | None = el.scale
    if el.case is not None:
        scale = _case_scale(el, group)
        if isinstance(scale, np.ndarray) and column.ndim == 0:
            column = np.broadcast_to(column, (n,))
    if column.ndim == 0:
        return int(_numeric(el, column.reshape(1), scale, where)[0])
    return _numeric(el, column, scale, where)


def _column(value: object, n: int, where: str) -> np.ndarray:
    column = np.asarray(value)
    if column.ndim == 0:
        return column
    if column.shape != (n,):
        raise CodecError(f"{where}: expected {n} values, got an array of shape {column.shape}")
    return column


def _case_scale(el: Element, group: tuple[tuple[Field, ...], dict[str, object]] | None
                ) -> float | np.ndarray | None:
    """The scale chosen by a sibling's value, per record (as the reference codec's context:
    the sibling's given value or default; no sibling or no matching choice: no scale)."""
    assert el.case is not None
    selector, choices = el.case
    sibling = None
    if group is not None:
        fields, obj = group
        for f in fields:
            if isinstance(f, Element) and f.name == selector:
                sibling = obj.get(selector, default_value(f))
    if sibling is None:
        return None
    sel = np.asarray(sibling)
    if sel.ndim == 0:
        return next((s for v, s, _u in choices if sel.item() == v), None)
    scale = np.full(sel.shape, np.nan)
    for v, s, _u in reversed(choices):  # the first matching choice wins
        scale[sel == v] = s
    return scale


def _bounds(el: Element) -> tuple[int, int]:
    if el.signed and el.text is None:
        return -(1 << (el.bits - 1)), (1 << (el.bits - 1)) - 1
    return 0, (1 << el.bits) - 1


def _out_of_range(el: Element, column: np.ndarray, bad: np.ndarray, where: str) -> CodecError:
    i = int(np.flatnonzero(bad)[0])
    lo, hi = _bounds(el)
    kind = "signed" if el.signed and el.text is None else "unsigned"
    value = column[i].item() if isinstance(column[i], np.generic) else column[i]
    return CodecError(f"{where}: value {value!r} (record {i}) is out of range for the "
                      f"{el.bits}-bit {kind} raw value ({lo}..{hi})")


def _numeric(el: Element, column: np.ndarray, scale: float | np.ndarray | None,
             where: str) -> np.ndarray:
    """Numbers -> raw two's-complement uint64, as the reference codec: ``round(v / scale)``
    for a quantity (half to even), ``int(v)`` for a plain integer."""
    kind = column.dtype.kind
    if kind in "USV" and scale is not None:
        raise CodecError(f"{where}: expected numbers, got {column.dtype}")
    if kind not in "biuf" and scale is None:
        return _numeric_objects(el, column, where)
    if kind not in "biuf":
        try:
            column = column.astype(np.float64)
        except (TypeError, ValueError):
            raise CodecError(f"{where}: expected numbers, got {column.dtype}") from None
        kind = "f"
    lo, hi = _bounds(el)
    if scale is None and kind in "bi":
        ints = column.astype(np.int64)
        bad = ints < lo
        if hi < 1 << 63:
            bad |= ints > hi
        if bad.any():
            raise _out_of_range(el, column, bad, where)
        return _twos_complement(ints.astype(_U64), el.bits)
    if scale is None and kind == "u":
        ints = column.astype(_U64)
        if hi < (1 << 64) - 1:
            bad = ints > _U64(hi)
            if bad.any():
                raise _out_of_range(el, column, bad, where)
        return ints
    values = column.astype(np.float64)
    if scale is None:
        raw = np.trunc(values)
    elif isinstance(scale, np.ndarray):
        with np.errstate(invalid="ignore"):
            raw = np.where(np.isnan(scale), np.trunc(values), np.rint(values / scale))
    else:
        raw = np.rint(values / scale)
    # lo and hi + 1 are powers of two: exact as floats, so the comparison is exact too.
    with np.errstate(invalid="ignore"):
        bad = ~((raw >= float(lo)) & (raw < float(hi + 1)))
    if bad.any():
        raise _out_of_range(el, column, bad, where)
    if hi < 1 << 63:
        return _twos_complement(raw.astype(np.int64).astype(_U64), el.bits)
    return np.array([int(r) for r in raw.tolist()], dtype=_U64)


def _numeric_objects(el: Element, column: np.ndarray, where: str) -> np.ndarray:
    """Python integers too large for int64 (or mixed objects): one at a time, ``int(v)``."""
    lo, hi = _bounds(el)
    mask = (1 << el.bits) - 1
    out = []
    for i, v in enumerate(column.reshape(-1).tolist()):
        try:
            raw = int(v)
        except (TypeError, ValueError, OverflowError) as exc:
            raise CodecError(f"{where}: cannot encode {v!r} (record {i}): {exc}") from None
        if not lo <= raw <= hi:
            raise _out_of_range(el, column.reshape(-1), np.arange(column.size) == i, where)
        out.append(raw & mask)
    return np.array(out, dtype=_U64).reshape(column.shape)


def _twos_complement(raw: np.ndarray, bits: int) -> np.ndarray:
    if bits == _WORD:
        return raw
    raw &= _U64((1 << bits) - 1)
    return raw


@cache
def _text_encoder(el: Element) -> Callable[[object, str], int]:
    """One text value (or raw integer) -> the raw integer, by the reference codec's rule
    (its element adapter), checked against the element's bits."""
    lo, hi = _bounds(el)

    def raw_of(value: object, where: str) -> int:
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            raw = int(value)
        else:
            if isinstance(value, (bytes, np.bytes_)):
                value = value.decode("latin-1")
            try:
                raw = text_raw(el, value)
            except CodecError as exc:
                raise CodecError(f"{where}: {exc}") from None
        if not lo <= raw <= hi:
            raise CodecError(f"{where}: {value!r} is out of range for the {el.bits}-bit raw "
                             f"value ({lo}..{hi})")
        return raw

    return raw_of


def _text(el: Element, value: object, n: int, where: str) -> int | np.ndarray:
    """Text (or raw integers) -> raw values; each distinct value is encoded once."""
    raw_of = _text_encoder(el)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biu":
        column = _column(value, n, where)
        if column.ndim == 0:
            return raw_of(column.item(), where)
        return _numeric(el, column, None, where)
    if isinstance(value, (str, bytes, int, np.generic)) or (
            isinstance(value, np.ndarray) and value.ndim == 0):
        return raw_of(value.item() if isinstance(value, np.ndarray) else value, where)
    if not isinstance(value, (Sequence, np.ndarray)):
        raise CodecError(f"{where}: expected {n} values, got {type(value).__name__}")
    values = _sequence(value, n, where)
    try:
        index = dict.fromkeys(values)
    except TypeError:
        raise CodecError(f"{where}: expected text or integers") from None
    distinct = list(index)
    raws = [raw_of(v, where) for v in distinct]
    if len(distinct) == 1 and n:
        return raws[0]
    for i, v in enumerate(distinct):
        index[v] = i
    which = np.fromiter(map(index.__getitem__, values), dtype=np.intp, count=n)
    return np.array(raws, dtype=_U64)[which]
