"""The vocabulary in which every ASTERIX category of the gateway is declared.

A category module states each item's layout once, in these terms; the reference codec
(construct), the Cython walker's tables, the columnar field extraction and the labels of
``decode --format text`` are all derived from that single statement.  The terms follow the
structure of the EUROCONTROL specifications: fixed items are groups of elements, "extended"
items grow by FX-terminated parts, "repetitive" items carry a count (or FX chain), "compound"
items carry their own sub-FSPEC, and SP/RE are "explicit" length-prefixed fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

Text = Literal["hex", "octal", "icao", "ascii"]


@dataclass(frozen=True)
class Element:
    """An N-bit field.  ``scale`` (the LSB) makes it a quantity in ``unit``."""

    name: str
    bits: int
    signed: bool = False
    scale: float | None = None
    unit: str | None = None
    text: Text | None = None
    # Scale chosen by the value of a sibling element (e.g. CAT062 I380/IAS by IM).
    case: tuple[str, tuple[tuple[int, float, str], ...]] | None = None


@dataclass(frozen=True)
class Spare:
    """Bits the standard reserves; decoded values never show them."""

    bits: int


@dataclass(frozen=True)
class Group:
    """A fixed sequence of fields; nested groups carry a name (e.g. I048/020 ADSB)."""

    fields: tuple[Field, ...]
    name: str | None = None

    @property
    def bits(self) -> int:
        return sum(f.bits for f in self.fields)


Field = Union[Element, Spare, Group]


@dataclass(frozen=True)
class Extended:
    """Parts of 8k-1 bits, each followed by an FX bit that announces the next part."""

    parts: tuple[tuple[Field, ...], ...]


@dataclass(frozen=True)
class Repetitive:
    """A one-octet repetition count (REP) followed by that many copies of ``body``.

    With ``fx`` there is no count: each copy ends in an FX bit that announces another.
    """

    body: Element | Group
    fx: bool = False


@dataclass(frozen=True)
class Compound:
    """A sub-FSPEC (7 bits an octet plus FX) selecting which subitems follow.

    ``None`` marks a subfield slot the standard leaves unused.
    """

    subitems: tuple[tuple[str, Body] | None, ...]


@dataclass(frozen=True)
class Explicit:
    """SP and RE fields: a length octet (counting itself) and opaque bytes."""

    kind: Literal["sp", "re"]


Body = Union[Element, Group, Extended, Repetitive, Compound, Explicit]


@dataclass(frozen=True)
class Item:
    number: str  # "010", or "SP" / "RE"
    title: str
    body: Body


@dataclass(frozen=True)
class Category:
    number: int
    edition: str
    title: str
    items: tuple[Item, ...]
    uap: tuple[str | None, ...]  # item number per FRN (1-based order); None = spare FRN
    by_number: dict[str, Item] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table = {item.number: item for item in self.items}
        object.__setattr__(self, "by_number", table)
        for number in self.uap:
            if number is not None and number not in table:
                raise ValueError(f"CAT{self.number:03d} UAP names undefined item {number}")

    def frn(self, number: str) -> int:
        """FRN (1-based) of an item in this UAP."""
        return self.uap.index(number) + 1


# Short constructors keep the category modules close to the layout tables of the standard.


def E(name: str, bits: int, *, signed: bool = False) -> Element:
    """A table value or plain integer."""
    return Element(name, bits, signed=signed)


def Q(name: str, bits: int, lsb: float, unit: str, *, signed: bool = False) -> Element:
    """A quantity: raw value times ``lsb`` in ``unit``."""
    return Element(name, bits, signed=signed, scale=lsb, unit=unit)


def Hex(name: str, bits: int) -> Element:
    """Addresses and opaque bit strings, shown as upper-case hex."""
    return Element(name, bits, text="hex")


def Octal(name: str, bits: int = 12) -> Element:
    """Mode-1/2/3A codes, shown as octal digits."""
    return Element(name, bits, text="octal")


def Icao(name: str, bits: int = 48) -> Element:
    """Aircraft identification in the 6-bit ICAO character set."""
    return Element(name, bits, text="icao")


def Ascii(name: str, bits: int) -> Element:
    """Flight-plan text fields, 8-bit characters."""
    return Element(name, bits, text="ascii")


def G(*fields: Field, name: str | None = None) -> Group:
    return Group(tuple(fields), name)


def X(*parts: tuple[Field, ...]) -> Extended:
    return Extended(tuple(tuple(p) for p in parts))


def Rep(body: Element | Group, *, fx: bool = False) -> Repetitive:
    return Repetitive(body, fx)


def C(*subitems: tuple[str, Body] | None) -> Compound:
    return Compound(tuple(subitems))


def SAC_SIC(title: str = "Data Source Identifier") -> Item:
    """I010 of every category here."""
    return Item("010", title, G(E("SAC", 8), E("SIC", 8)))


SP = Item("SP", "Special Purpose Field", Explicit("sp"))
RE = Item("RE", "Reserved Expansion Field", Explicit("re"))


def check(category: Category) -> None:
    """Reject a definition whose fixed parts are not whole octets (a typo in a layout)."""

    def whole(bits: int, where: str) -> None:
        if bits % 8:
            raise ValueError(f"CAT{category.number:03d} {where}: {bits} bits is not whole octets")

    def body(b: Body, where: str) -> None:
        if isinstance(b, (Element, Group)):
            whole(b.bits, where)
        elif isinstance(b, Extended):
            for i, part in enumerate(b.parts):
                whole(sum(f.bits for f in part) + 1, f"{where} part {i + 1}")
        elif isinstance(b, Repetitive):
            whole(b.body.bits + (1 if b.fx else 0), where)
        elif isinstance(b, Compound):
            for sub in b.subitems:
                if sub is not None:
                    body(sub[1], f"{where}/{sub[0]}")

    for item in category.items:
        body(item.body, f"I{item.number}")
