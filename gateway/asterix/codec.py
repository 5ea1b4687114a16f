"""The reference codec: every item of a category, decoded and encoded, built with construct.

It is derived from the category definitions alone, so it is the independent check the Cython
fast path is held against, the encoder the simulator writes through, and the decoder behind
``decode --format jsonl``.  It is strict: bad input raises :class:`CodecError` rather than
guessing, because the fast path, not this, is what copes with hostile traffic.

Decoded values are those of ``decode --format jsonl`` (docs/commands.md): quantities scaled to
the specification's units, Mode codes as octal strings, addresses as hex, identifications
trimmed; spare and FX bits are not shown.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import IO, TYPE_CHECKING, Never, TypeAlias, cast

from construct import (
    Adapter,
    BitsInteger,
    BitStruct,
    Construct,
    ConstructError,
    Container,
    Flag,
    Padding,
    Struct,
    stream_read,
    stream_write,
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

if TYPE_CHECKING:
    from construct.core import Context  # construct-stubs only: a typed view of a Container

# A decoded item: an element's value, or dicts and lists of them, as the category defines it.
# (construct's Containers, being dicts, are Values too.)
Value: TypeAlias = int | float | str | list["Value"] | dict[str, "Value"]

# construct's classes are generic only in its stubs (construct-typing), not at run time.
if TYPE_CHECKING:
    _ElementBase = Adapter[int, int, Value, Value]
    _FixedBase = Adapter[dict[str, Value], dict[str, Value], Value, Value]
    _ItemBase = Construct[Value, Value]
else:
    _ElementBase = _FixedBase = Adapter
    _ItemBase = Construct

# Annex 10 Vol IV table 3-9.  Code 0 has no character; an all-zero identification is how a
# transponder says "none", so it reads as padding (as asterix_decoder and Wireshark show it).
ICAO_CHARS = " ABCDEFGHIJKLMNOPQRSTUVWXYZ????? ???????????????0123456789??????"
_ICAO_CODE = {c: i for i, c in enumerate(ICAO_CHARS) if c != "?" and i}


class CodecError(ValueError):
    """An item or record the reference codec cannot decode or encode."""


def icao_text(raw: int, chars: int) -> str:
    """ICAO 6-bit characters (Annex 10 Vol IV table 3-9), trailing padding removed."""
    out = [ICAO_CHARS[(raw >> (6 * (chars - 1 - i))) & 0x3F] for i in range(chars)]
    return "".join(out).rstrip(" ")


def icao_raw(text: str, chars: int) -> int:
    if len(text) > chars:
        raise CodecError(f"identification {text!r} longer than {chars} characters")
    raw = 0
    for c in text.ljust(chars):
        if c not in _ICAO_CODE:
            raise CodecError(f"character {c!r} has no ICAO 6-bit code")
        raw = (raw << 6) | _ICAO_CODE[c]
    return raw


def text_raw(el: Element, value: object) -> int:
    """A text element's value (hex, octal, ICAO or ASCII text) -> its raw integer."""
    if not isinstance(value, str):
        raise CodecError(f"{el.name}: cannot encode {value!r}: expected text")
    try:
        if el.text == "hex":
            return int(value, 16)
        if el.text == "octal":
            return int(value, 8)
        if el.text == "icao":
            return icao_raw(value, el.bits // 6)
        if el.text == "ascii":
            return int.from_bytes(value.ljust(el.bits // 8).encode("latin-1"), "big")
    except (ValueError, UnicodeEncodeError) as exc:
        raise CodecError(f"{el.name}: cannot encode {value!r}: {exc}") from None
    raise CodecError(f"{el.name}: not a text element")


class ElementAdapter(_ElementBase):
    """Raw bits <-> the value a user reads, per the element's declared meaning."""

    def __init__(self, el: Element) -> None:
        numeric_signed = el.signed and el.text is None
        super().__init__(BitsInteger(el.bits, signed=numeric_signed))
        self.el = el

    def _scale(self, context: Context) -> float | None:
        el = self.el
        if el.case is not None:
            selector, choices = el.case
            for value, scale, _unit in choices:
                if context.get(selector) == value:
                    return scale
            return None
        return el.scale

    def _decode(self, obj: int, context: Context, path: str) -> Value:
        el = self.el
        if el.text == "hex":
            return f"{obj:0{(el.bits + 3) // 4}X}"
        if el.text == "octal":
            return f"{obj:0{el.bits // 3}o}"
        if el.text == "icao":
            return icao_text(obj, el.bits // 6)
        if el.text == "ascii":
            return obj.to_bytes(el.bits // 8, "big").decode("latin-1").rstrip(" \x00")
        scale = self._scale(context)
        return obj if scale is None else obj * scale

    def _encode(self, obj: Value, context: Context, path: str) -> int:
        el = self.el
        if el.text is not None:
            return text_raw(el, obj)
        if isinstance(obj, (str, list, dict)):
            raise CodecError(f"{el.name}: cannot encode {obj!r}: expected a number")
        scale = self._scale(context)
        return int(obj) if scale is None else round(obj / scale)


def _field_cons(fields: tuple[Field, ...]) -> list[Construct[object, Never]]:
    """Subconstructs of a (Bit)Struct, which takes any mix of them."""
    cons: list[Construct[object, Never]] = []
    for f in fields:
        if isinstance(f, Spare):
            cons.append(Padding(f.bits))
        elif isinstance(f, Element):
            cons.append(f.name / ElementAdapter(f))
        else:
            cons.append(f.name / Struct(*_field_cons(f.fields)))
    return cons


def _plain(obj: Value) -> Value:
    """construct Containers -> plain dicts, without its bookkeeping keys."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


class _Fixed(_FixedBase):
    """A fixed-length Element or Group: an element shows its value, a group a dict."""

    def __init__(self, body: Element | Group) -> None:
        self.fields: tuple[Field, ...] = (body,) if isinstance(body, Element) else body.fields
        super().__init__(BitStruct(*_field_cons(self.fields)))
        self.single = body.name if isinstance(body, Element) else None

    def _decode(self, obj: dict[str, Value], context: Context, path: str) -> Value:
        return obj[self.single] if self.single else _plain(obj)

    def _encode(self, obj: Value, context: Context, path: str) -> dict[str, Value]:
        return _complete(self.fields, {self.single: obj} if self.single else obj)


def default_value(el: Element) -> Value:
    """What an absent element encodes as: zero, or an empty (space-padded) text."""
    return {"hex": "0", "octal": "0", "icao": "", "ascii": ""}.get(el.text or "", 0)


def _complete(fields: tuple[Field, ...], obj: Value) -> dict[str, Value]:
    """Absent fields encode as zero, so a value need name only the fields it sets."""
    if not isinstance(obj, dict):
        raise CodecError(f"expected a dict of subfields, got {obj!r}")
    out: dict[str, Value] = {}
    for f in fields:
        if isinstance(f, Element):
            out[f.name] = obj.get(f.name, default_value(f))
        elif isinstance(f, Group) and f.name:
            out[f.name] = _complete(f.fields, obj.get(f.name, {}))
    return out


def field_names(fields: tuple[Field, ...]) -> set[str]:
    """The names a value may give for these fields (spares have none)."""
    return {f.name for f in fields if not isinstance(f, Spare) and f.name}


class _Item(_ItemBase):
    """An item body construct of ours: parses to a Value and builds from one."""

    # construct returns the built object from _build (Struct stores it in the context), but
    # construct-stubs declares int: the one override the stubs force us to silence.
    def _build(  # type: ignore[override]
        self, obj: Value, stream: IO[bytes], context: Context, path: str
    ) -> Value:
        self._write(obj, stream, context, path)
        return obj

    def _write(self, obj: Value, stream: IO[bytes], context: Context, path: str) -> None:
        raise NotImplementedError


class _Extended(_Item):
    """Parts are read while the previous one's FX bit is set; unknown extensions are skipped."""

    def __init__(self, body: Extended) -> None:
        super().__init__()
        self.fields = body.parts
        self.parts = [BitStruct(*_field_cons(p), "FX" / Flag) for p in body.parts]
        self.part_names = [field_names(p) for p in body.parts]
        self.unknown = BitStruct(Padding(7), "FX" / Flag)

    def _parse(self, stream: IO[bytes], context: Context, path: str) -> Value:
        out: dict[str, Value] = {}
        i = 0
        while True:
            con = self.parts[i] if i < len(self.parts) else self.unknown
            part = con._parsereport(stream, context, path)
            out.update((k, _plain(v)) for k, v in part.items() if not k.startswith("_"))
            i += 1
            if not out.pop("FX"):
                return out

    def _write(self, obj: Value, stream: IO[bytes], context: Context, path: str) -> None:
        if not isinstance(obj, dict):
            raise CodecError(f"expected a dict of subfields, got {obj!r}")
        last = max((i for i, ns in enumerate(self.part_names) if ns & obj.keys()), default=0)
        for i in range(last + 1):
            values = _complete(self.fields[i], obj)
            values["FX"] = i < last
            self.parts[i]._build(values, stream, context, path)


class _RepetitiveFX(_Item):
    """Copies each ending in an FX bit that announces another (e.g. I048/030)."""

    def __init__(self, body: Element | Group) -> None:
        super().__init__()
        self.fields: tuple[Field, ...] = (body,) if isinstance(body, Element) else body.fields
        self.con = BitStruct(*_field_cons(self.fields), "FX" / Flag)
        self.single = body.name if isinstance(body, Element) else None

    def _parse(self, stream: IO[bytes], context: Context, path: str) -> Value:
        out: list[Value] = []
        while True:
            part = self.con._parsereport(stream, context, path)
            values = {k: _plain(v) for k, v in part.items() if not k.startswith("_") and k != "FX"}
            out.append(values[self.single] if self.single else values)
            if not part["FX"]:
                return out

    def _write(self, obj: Value, stream: IO[bytes], context: Context, path: str) -> None:
        if not isinstance(obj, list) or not obj:
            raise CodecError(f"expected a non-empty list, got {obj!r}")
        for i, v in enumerate(obj):
            values = _complete(self.fields, {self.single: v} if self.single else v)
            values["FX"] = i < len(obj) - 1
            self.con._build(values, stream, context, path)


class _Repetitive(_Item):
    """A REP octet and that many fixed-length copies."""

    def __init__(self, body: Element | Group) -> None:
        super().__init__()
        self.con = _Fixed(body)

    def _parse(self, stream: IO[bytes], context: Context, path: str) -> Value:
        count = stream_read(stream, 1, path)[0]
        return [self.con._parsereport(stream, context, path) for _ in range(count)]

    def _write(self, obj: Value, stream: IO[bytes], context: Context, path: str) -> None:
        if not isinstance(obj, list) or len(obj) > 255:
            raise CodecError(f"expected a list of at most 255 entries, got {obj!r}")
        stream_write(stream, bytes([len(obj)]), 1, path)
        for v in obj:
            self.con._build(v, stream, context, path)


def read_fspec(stream: IO[bytes], path: str) -> list[int]:
    """Indices (0-based) of the slots an FSPEC marks present; 7 slots an octet, then FX."""
    present: list[int] = []
    base = 0
    while True:
        octet = stream_read(stream, 1, path)[0]
        present.extend(base + b for b in range(7) if octet & (0x80 >> b))
        base += 7
        if not octet & 1:
            return present


def fspec_bytes(slots: list[int]) -> bytes:
    """The shortest FSPEC marking ``slots`` (0-based) present."""
    if not slots:
        raise CodecError("a record or compound item needs at least one field")
    octets = bytearray(max(slots) // 7 + 1)
    for s in slots:
        octets[s // 7] |= 0x80 >> (s % 7)
    for i in range(len(octets) - 1):
        octets[i] |= 1
    return bytes(octets)


class _Compound(_Item):
    """A sub-FSPEC then the subitems it marks, in slot order."""

    def __init__(self, body: Compound) -> None:
        super().__init__()
        self.slots = [None if s is None else (s[0], body_construct(s[1])) for s in body.subitems]
        self.index = {s[0]: i for i, s in enumerate(self.slots) if s is not None}
        self.by_name = {s[0]: s[1] for s in self.slots if s is not None}

    def _parse(self, stream: IO[bytes], context: Context, path: str) -> Value:
        out: dict[str, Value] = {}
        for i in read_fspec(stream, path):
            slot = self.slots[i] if i < len(self.slots) else None
            if slot is None:
                raise CodecError(f"compound subfield {i + 1} is not defined")
            out[slot[0]] = slot[1]._parsereport(stream, context, path)
        return out

    def _write(self, obj: Value, stream: IO[bytes], context: Context, path: str) -> None:
        if not isinstance(obj, dict):
            raise CodecError(f"expected a dict of subfields, got {obj!r}")
        unknown = obj.keys() - self.index.keys()
        if unknown:
            raise CodecError(f"unknown subfields {sorted(unknown)}")
        slots = sorted(self.index[k] for k in obj)
        stream_write(stream, fspec_bytes(slots), len(fspec_bytes(slots)), path)
        for name in sorted(obj, key=self.index.__getitem__):
            self.by_name[name]._build(obj[name], stream, context, path)


class _Explicit(_Item):
    """SP/RE: a length octet that counts itself, then bytes shown as hex."""

    def _parse(self, stream: IO[bytes], context: Context, path: str) -> Value:
        length = stream_read(stream, 1, path)[0]
        if length < 1:
            raise CodecError("explicit item with length 0")
        return stream_read(stream, length - 1, path).hex().upper()

    def _write(self, obj: Value, stream: IO[bytes], context: Context, path: str) -> None:
        if not isinstance(obj, str):
            raise CodecError(f"expected hex text, got {obj!r}")
        data = bytes.fromhex(obj)
        if len(data) > 254:
            raise CodecError("explicit item longer than 254 bytes")
        stream_write(stream, bytes([len(data) + 1]) + data, len(data) + 1, path)


def body_construct(body: Body) -> Construct[Value, Value]:
    """The construct for one item (or compound subitem) body."""
    if isinstance(body, (Element, Group)):
        return _Fixed(body)
    if isinstance(body, Extended):
        return _Extended(body)
    if isinstance(body, Repetitive):
        return _RepetitiveFX(body.body) if body.fx else _Repetitive(body.body)
    if isinstance(body, Compound):
        return _Compound(body)
    if isinstance(body, Explicit):
        return _Explicit()
    raise TypeError(f"not an item body: {body!r}")


def _context(parsing: bool) -> Context:
    # Context exists only in construct-stubs, as a typed view of the Container construct uses.
    return cast("Context", Container(_parsing=parsing, _building=not parsing, _sizing=False,
                                     _params=Container()))


class RecordCodec:
    """Decode and encode whole records and single items of one category."""

    def __init__(self, category: Category) -> None:
        self.category = category
        self.items = {i.number: body_construct(i.body) for i in category.items}
        self.slots = {n: i for i, n in enumerate(category.uap) if n is not None}
        # Identical item bytes recur constantly (SAC/SIC, flags, codes): decode each once.
        self.decode_item = lru_cache(maxsize=65536)(self._decode_item)

    def _decode_item(self, number: str, data: bytes) -> Value:
        stream = io.BytesIO(data)
        try:
            value = self.items[number]._parsereport(stream, _context(True), f"I{number}")
        except ConstructError as exc:
            raise CodecError(f"I{number}: {exc}") from None
        if stream.tell() != len(data):
            raise CodecError(f"I{number}: {len(data) - stream.tell()} bytes left over")
        return value

    def encode_item(self, number: str, value: Value) -> bytes:
        stream = io.BytesIO()
        try:
            self.items[number]._build(value, stream, _context(False), f"I{number}")
        except ConstructError as exc:
            raise CodecError(f"I{number}: {exc}") from None
        return stream.getvalue()

    def decode_record(self, data: bytes, offset: int = 0) -> tuple[dict[str, Value], int]:
        """One record at ``offset``: its items in UAP order and its length in bytes."""
        stream = io.BytesIO(data)
        stream.seek(offset)
        out: dict[str, Value] = {}
        try:
            for slot in read_fspec(stream, "FSPEC"):
                number = self.category.uap[slot] if slot < len(self.category.uap) else None
                if number is None:
                    raise CodecError(f"FRN {slot + 1} is not defined")
                out[number] = self.items[number]._parsereport(stream, _context(True), f"I{number}")
        except ConstructError as exc:
            raise CodecError(str(exc)) from None
        return out, stream.tell() - offset

    def encode_record(self, items: dict[str, Value]) -> bytes:
        unknown = items.keys() - self.slots.keys()
        if unknown:
            raise CodecError(f"CAT{self.category.number:03d} has no items {sorted(unknown)}")
        slots = sorted(self.slots[n] for n in items)
        parts = [fspec_bytes(slots)]
        parts += [self.encode_item(n, items[n]) for n in sorted(items, key=self.slots.__getitem__)]
        return b"".join(parts)


def datablock(category: int, records: list[bytes]) -> bytes:
    """CAT, LEN (counting the 3-byte header) and the records."""
    length = 3 + sum(len(r) for r in records)
    if length > 0xFFFF:
        raise CodecError(f"datablock of {length} bytes exceeds 65535")
    return bytes([category]) + length.to_bytes(2, "big") + b"".join(records)


