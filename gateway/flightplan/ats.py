"""Filed flight plan messages in ICAO ATS format (Doc 4444, Appendix 3): FPL, CHG, CNL, DLA.

A message is ``(`` then fields separated by ``-`` then ``)``; line breaks and runs of spaces
count as one space, so the message may be split over lines as AFTN sends it.

- ``FPL``: fields 7 (identification, SSR code), 8 (rules, type of flight), 9 (number, type,
  wake), 10 (equipment), 13 (departure and EOBT), 15 (speed, level, route), 16
  (destination, total EET, alternates), 18 (other information, ``0`` for none):
  ``(FPL-AMX412/A4121-IS-B738/M-SDE2E3FGHIRWY/LB1-MMMX1230-N0450F350 DCT TIJ-KLAX0305
  KSAN-DOF/261204 REG/XAAMX)``;
- ``CHG``: 7, 13, 16, optionally 18 (the DOF that tells plans apart), then one or more
  field 22 amendments, ``8/IS`` (the field's number, then its new content):
  ``(CHG-AMX412-MMMX-KLAX-DOF/261204-7/AMX412/A5523)``;
- ``CNL``: 7, 13, 16, optionally 18;
- ``DLA``: 7, 13 with the new EOBT, 16, optionally 18.

Each field's grammar is ``gateway.icao.fields`` (the AIDC parser uses the same).  The parser
is strict: every inbound text is hostile.  It refuses anything longer than ``MAX_TEXT``, not
ASCII, or not exactly in the grammar, with ``AtsSyntaxError`` saying what in one line; a
hyphen is the field separator and cannot appear inside a field (Doc 4444).  Field 19
(supplementary information) is not part of the messages exchanged between ATS units and is
refused.  ``AtsMessage.text()`` and ``parse()`` are exact inverses.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from dataclasses import dataclass
from typing import Literal, cast

from gateway.icao.fields import (
    FIELD7,
    FIELD8,
    FIELD9,
    FIELD10,
    FIELD13,
    FIELD15,
    FIELD16,
    FIELD18,
    FIELD22,
    level_fl,
    other_info,
)
from gateway.messages import FlightPlan, Wake

MessageType = Literal["FPL", "CHG", "CNL", "DLA"]
MESSAGE_TYPES: tuple[MessageType, ...] = ("FPL", "CHG", "CNL", "DLA")
MAX_TEXT = 4096  # a long route is a few hundred characters; anything longer is refused unread
MAX_ROUTE = 1024  # field 15, whole (FlightPlan.route)
AMENDABLE = (7, 8, 9, 10, 13, 15, 16, 18)  # the fields a CHG may change

_NUMBER = r"[A-Z]{1,4}/[A-Z]{1,4}[0-9]{3}"
# field 3: the type, optionally the message number and reference data (not kept)
_FIELD3 = re.compile(rf"(FPL|CHG|CNL|DLA)(?:{_NUMBER}(?:{_NUMBER})?)?", re.ASCII)
_AERODROME = re.compile(r"[A-Z]{4}", re.ASCII)
_DOF = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{2})", re.ASCII)


class AtsSyntaxError(ValueError):
    """Inbound text that is not a valid FPL, CHG, CNL or DLA; the text is the reason, one line."""


@dataclass(frozen=True)
class Filed:
    """An FPL's fields 7 to 18, as filed (and as CHG amends them)."""

    callsign: str
    ssr: str | None  # field 7's Mode A code, four octal digits
    rules: str  # field 8: "IS"
    number: int | None  # field 9: aircraft in a formation (None: one)
    type: str  # field 9: type designator (ZZZZ: in field 18 TYP/)
    wtc: str  # field 9: L, M, H, J
    equipment: str  # field 10, whole: "SDE2E3FGHIRWY/LB1"
    dep: str  # field 13
    eobt: str  # field 13: estimated off-block time, HHMM
    route: str  # field 15, whole: "N0450F350 DCT TIJ"
    dst: str  # field 16
    eet: str  # field 16: total estimated elapsed time, HHMM
    alternates: str | None  # field 16: one or two aerodromes, space-separated
    other: str  # field 18, whole; "0" for none

    def fields(self) -> list[str]:
        """Fields 7 to 18 as the message writes them."""
        return [
            self.callsign + (f"/A{self.ssr}" if self.ssr else ""),
            self.rules,
            f"{self.number or ''}{self.type}/{self.wtc}",
            self.equipment,
            f"{self.dep}{self.eobt}",
            self.route,
            f"{self.dst}{self.eet}" + (f" {self.alternates}" if self.alternates else ""),
            self.other,
        ]

    @property
    def dof(self) -> str | None:
        """Field 18's date of flight, YYMMDD (None: the plan's day is not stated)."""
        return other_info(self.other).get("DOF")

    @property
    def level(self) -> str:
        """Field 15's requested cruising level (F350, S1190, VFR)."""
        return _match(FIELD15, self.route, "15")[2]

    def plan(self) -> FlightPlan:
        """The shared format's flight plan: the filed parts, and the requested cruising level
        as the cleared one (the level a radar-only site knows)."""
        return FlightPlan(
            callsign=self.callsign, dep=self.dep, dst=self.dst, cfl=level_fl(self.level),
            type=self.type, wtc=cast(Wake, self.wtc), ssr=self.ssr, rules=self.rules,
            number=self.number, equipment=self.equipment, eobt=self.eobt, route=self.route,
            eet=self.eet, alternates=self.alternates,
            other=None if self.other == "0" else self.other)

    def amended(self, field: int, content: str) -> Filed:
        """This plan with one field replaced by a CHG's field 22 content (checked by parse)."""
        values = _field(field, content, fpl=True)
        return dataclasses.replace(self, **values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AtsMessage:
    """One FPL, CHG, CNL or DLA.  An FPL has ``plan`` (and the rest are its fields 7, 13, 16,
    18); the others name the plan they change by fields 7, 13, 16 and the DOF of 18."""

    msg: MessageType
    callsign: str
    ssr: str | None
    dep: str
    dep_time: str | None  # field 13's time: the FPL's EOBT, the DLA's new one
    dst: str
    other: str | None = None  # field 18 (optional outside FPL)
    amendments: tuple[tuple[int, str], ...] = ()  # CHG: (field, new content)
    plan: Filed | None = None  # FPL

    @property
    def dof(self) -> str | None:
        return other_info(self.other).get("DOF")

    def text(self) -> str:
        if self.plan is not None:
            return "(" + "-".join([self.msg, *self.plan.fields()]) + ")"
        parts = [self.msg, self.callsign + (f"/A{self.ssr}" if self.ssr else ""),
                 f"{self.dep}{self.dep_time or ''}", self.dst]
        if self.other is not None:
            parts.append(self.other)
        parts += [f"{n}/{content}" for n, content in self.amendments]
        return "(" + "-".join(parts) + ")"


def filed(plan: Filed) -> AtsMessage:
    """The FPL message of a plan."""
    return AtsMessage("FPL", plan.callsign, plan.ssr, plan.dep, plan.eobt, plan.dst,
                      plan.other, plan=plan)


def _match(pattern: re.Pattern[str], text: str, what: str) -> re.Match[str]:
    m = pattern.fullmatch(text)
    if m is None:
        raise AtsSyntaxError(f"field {what} invalid: {text[:40]!r}")
    return m


def _hhmm(text: str, what: str, max_hours: int = 23) -> str:
    if int(text[:2]) > max_hours or int(text[2:]) > 59:
        raise AtsSyntaxError(f"field {what} time {text!r} is not HHMM")
    return text


def _other(text: str) -> str:
    """Field 18, with its DOF (if any) a real date."""
    _match(FIELD18, text, "18")
    if len(text) > 1024:
        raise AtsSyntaxError("field 18 longer than 1024 characters")
    dof = other_info(text).get("DOF")
    if dof is not None:
        m = _DOF.fullmatch(dof)
        try:
            if m is None:
                raise ValueError
            datetime.date(2000 + int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise AtsSyntaxError(f"field 18 DOF {dof[:20]!r} is not a date YYMMDD") from None
    return text


def _field(number: int, text: str, *, fpl: bool) -> dict[str, object]:
    """One field's values, by Filed's names; ``fpl``: as an FPL writes it (times required)."""
    if number == 7:
        m = _match(FIELD7, text, "7")
        return {"callsign": m[1], "ssr": m[2]}
    if number == 8:
        return {"rules": _match(FIELD8, text, "8")[0]}
    if number == 9:
        m = _match(FIELD9, text, "9")
        return {"number": int(m[1]) if m[1] else None, "type": m[2], "wtc": m[3]}
    if number == 10:
        return {"equipment": _match(FIELD10, text, "10")[0]}
    if number == 13:
        m = _match(FIELD13, text, "13")
        if fpl and m[2] is None:
            raise AtsSyntaxError("field 13 of a plan needs the EOBT (HHMM)")
        return {"dep": m[1], "eobt": None if m[2] is None else _hhmm(m[2], "13")}
    if number == 15:
        if len(text) > MAX_ROUTE:
            raise AtsSyntaxError(f"field 15 longer than {MAX_ROUTE} characters")
        _match(FIELD15, text, "15")
        return {"route": text}
    if number == 16:
        m = _match(FIELD16, text, "16")
        if fpl and m[2] is None:
            raise AtsSyntaxError("field 16 of a plan needs the total EET (HHMM)")
        return {"dst": m[1], "eet": None if m[2] is None else _hhmm(m[2], "16", 99),
                "alternates": m[3].strip() or None}
    if number == 18:
        return {"other": _other(text)}
    raise AtsSyntaxError(f"field {number} cannot be amended (only {AMENDABLE})")


def parse(text: str) -> AtsMessage:
    """The fields of one message; AtsSyntaxError says what is wrong, in one line."""
    if len(text) > MAX_TEXT:
        raise AtsSyntaxError(f"message longer than {MAX_TEXT} characters")
    if not text.isascii():
        raise AtsSyntaxError("message is not ASCII")
    text = " ".join(text.split())  # line breaks and runs of spaces are one space
    if not (text.startswith("(") and text.endswith(")")):
        raise AtsSyntaxError("not enclosed in parentheses")
    fields = [f.strip() for f in text[1:-1].split("-")]
    msg = cast(MessageType, _match(_FIELD3, fields[0], "3")[1])
    rest = fields[1:]
    if msg == "FPL":
        if len(rest) != 8:
            raise AtsSyntaxError(f"FPL has 8 fields after field 3 (7 to 18), not {len(rest)}")
        values: dict[str, object] = {}
        for number, value in zip((7, 8, 9, 10, 13, 15, 16, 18), rest, strict=True):
            values.update(_field(number, value, fpl=True))
        return filed(Filed(**values))  # type: ignore[arg-type]
    if len(rest) < 3:
        raise AtsSyntaxError(f"{msg} needs fields 7, 13 and 16, has {len(rest)} fields")
    m7 = _match(FIELD7, rest[0], "7")
    m13 = _match(FIELD13, rest[1], "13")
    dep_time = None if m13[2] is None else _hhmm(m13[2], "13")
    if msg == "DLA" and dep_time is None:
        raise AtsSyntaxError("field 13 of a DLA needs the new EOBT (HHMM)")
    dst = _match(_AERODROME, rest[2], "16")[0]
    tail = rest[3:]
    other = None
    if tail and not FIELD22.fullmatch(tail[0]):
        other = _other(tail[0])
        tail = tail[1:]
    amendments: list[tuple[int, str]] = []
    for value in tail:
        if msg != "CHG":
            raise AtsSyntaxError(f"{msg} has fields 7, 13, 16 and 18 only, not {value[:20]!r}")
        m = _match(FIELD22, value, "22")
        number = int(m[1])
        _field(number, m[2], fpl=True)  # the new content must be a valid field of a plan
        amendments.append((number, m[2]))
    if msg == "CHG" and not amendments:
        raise AtsSyntaxError("CHG carries no amendment (field 22)")
    return AtsMessage(msg, m7[1], m7[2], m13[1], dep_time, dst, other, tuple(amendments))


def parse_many(text: str, limit: int = 100_000) -> list[AtsMessage | AtsSyntaxError]:
    """Every message in a text (a file, a payload with several): each ``(`` ... ``)`` is one
    message, parsed or refused on its own; text outside them is refused, and so is anything
    beyond ``limit`` messages (one error says so)."""
    out: list[AtsMessage | AtsSyntaxError] = []
    chunks = text.split(")")
    last = chunks.pop()
    for chunk in chunks:
        if len(out) >= limit:
            out.append(AtsSyntaxError(f"more than {limit} messages: the rest is not read"))
            return out
        head, paren, body = chunk.partition("(")
        if head.strip():
            out.append(AtsSyntaxError(f"text outside a message: {head.strip()[:40]!r}"))
        if not paren:
            continue
        try:
            out.append(parse(f"({body})"))
        except AtsSyntaxError as exc:
            out.append(exc)
    if last.strip():
        out.append(AtsSyntaxError(f"text outside a message (unclosed?): {last.strip()[:40]!r}"))
    return out
