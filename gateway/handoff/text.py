"""AIDC messages in ICAO field format (Doc 4444 Appendix 3; PAN AIDC ICD message set).

A message is ``(`` then fields separated by ``-`` then ``)``:

- field 3, message type, number and reference data: ``ESTP/L027`` is an EST from unit P to
  unit L, serial 027; an answer adds the reference ``D/P036`` (the serial it answers);
- field 7, aircraft identification and SSR mode and code: ``BAW671/A5631``;
- field 13, departure aerodrome (and time): ``LFPG``;
- field 14, estimate data: point / time, cleared level, supplementary crossing level and
  condition (A at or above, B at or below): ``ABB/1548F140F110A``;
- field 16, destination aerodrome: ``EGLL``;
- field 22, amendments, each ``-N/content`` giving a new value of field N;
- field 18: ``RMK/`` and the error (LRM), or the reason for a rejection (REJ, optional).

Which fields each message carries is the ``LAYOUT`` table.  The parser is strict: every
inbound text is hostile, and whatever it refuses is answered with LRM naming the reason.
It is ASCII only (``re.ASCII``, ``[0-9]`` rather than ``\\d``): a Unicode digit is no serial,
and nothing it accepts can be a text that another AIDC system refuses.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Required, TypedDict

from gateway.icao.fields import FIELD7 as _FIELD7
from gateway.icao.fields import FIELD13 as _FIELD13
from gateway.icao.fields import FIELD14 as _FIELD14

# fields after field 3, per message type (PAN AIDC ICD, as this gateway uses them)
LAYOUT: dict[str, tuple[str, ...]] = {
    "ABI": ("7", "13", "14", "16", "22*"),
    "EST": ("7", "13", "14", "16"),
    "CPL": ("7", "13", "14", "16", "22*"),
    "CDN": ("7", "13", "16", "22*"),
    "ACP": ("7", "13", "16"),
    "REJ": ("7", "13", "16", "18?"),  # 18: why, when the accepting unit says
    "MAC": ("7", "13", "16"),
    "TOC": ("7", "13", "16"),
    "AOC": ("7", "13", "16"),
    "LAM": (),
    "LRM": ("18",),
}
MAX_TEXT = 1024  # an ATS message is a few lines; anything longer is refused unread

_UNIT = r"[A-Z]{1,4}"
_NUMBER = rf"({_UNIT})/({_UNIT})([0-9]{{3}})"
_FIELD3 = re.compile(rf"([A-Z]{{3}})(?:{_NUMBER})(?:{_NUMBER})?", re.ASCII)
_FIELD16 = re.compile(r"([A-Z]{4})", re.ASCII)
_FIELD22 = re.compile(r"([0-9]{1,2})/([A-Z0-9/ ]{1,120})", re.ASCII)
_FIELD18 = re.compile(r"RMK/([A-Z0-9 /.]{1,200})", re.ASCII)


class AidcSyntaxError(ValueError):
    """Inbound text that is not a valid AIDC message; the text is the reason (for LRM)."""


@dataclass(frozen=True)
class Estimate:
    """Field 14: over ``point`` at ``time`` (HHMM UTC), at ``level`` (F350), and the
    supplementary crossing data: at or above (A) / below (B) ``cross_level``."""

    point: str
    time: str
    level: str | None = None
    cross_level: str | None = None
    cross_condition: str | None = None

    def text(self) -> str:
        extra = f"{self.cross_level}{self.cross_condition}" if self.cross_level else ""
        return f"{self.point}/{self.time}{self.level or ''}{extra}"


@dataclass(frozen=True)
class AidcText:
    """One AIDC message as its fields; ``text()`` and ``parse()`` are exact inverses."""

    msg: str
    sender: str
    receiver: str
    serial: int
    ref: tuple[str, str, int] | None = None  # (sender, receiver, serial) answered
    callsign: str | None = None
    ssr: str | None = None  # Mode-3/A, four octal digits
    dep: str | None = None
    dep_time: str | None = None
    estimate: Estimate | None = None
    dst: str | None = None
    amendments: tuple[tuple[int, str], ...] = field(default_factory=tuple)
    remark: str | None = None  # LRM: the reason

    def text(self) -> str:
        head = f"{self.msg}{self.sender}/{self.receiver}{self.serial % 1000:03d}"
        if self.ref is not None:
            head += f"{self.ref[0]}/{self.ref[1]}{self.ref[2] % 1000:03d}"
        parts = [head]
        for name in LAYOUT[self.msg]:
            if name == "7":
                parts.append(f"{self.callsign}" + (f"/A{self.ssr}" if self.ssr else ""))
            elif name == "13":
                parts.append(f"{self.dep}{self.dep_time or ''}")
            elif name == "14":
                parts.append(self.estimate.text() if self.estimate else "")
            elif name == "16":
                parts.append(f"{self.dst}")
            elif name == "22*":
                parts.extend(f"{n}/{content}" for n, content in self.amendments)
            elif name == "18" or (name == "18?" and self.remark):
                parts.append(f"RMK/{self.remark}")
        return "(" + "-".join(parts) + ")"


def reference(ref: tuple[str, str, int]) -> str:
    """A message's number as field 3 writes it: ``P/L027`` (serial 27 from P to L)."""
    return f"{ref[0]}/{ref[1]}{ref[2] % 1000:03d}"


def digest(text: AidcText) -> str:
    """What identifies a message's content: the same message sent again has the same
    digest (the canonical text, so spacing and line breaks do not count), another message
    under the same serial has another."""
    return hashlib.blake2b(text.text().encode(), digest_size=8).hexdigest()


class _Fields(TypedDict, total=False):
    """AidcText's fields as parse() collects them: those a message has no field for are left out."""

    msg: Required[str]
    sender: Required[str]
    receiver: Required[str]
    serial: Required[int]
    ref: tuple[str, str, int]
    callsign: str
    ssr: str
    dep: str
    dep_time: str
    estimate: Estimate
    dst: str
    amendments: tuple[tuple[int, str], ...]
    remark: str


def _match(pattern: re.Pattern[str], text: str, what: str) -> re.Match[str]:
    m = pattern.fullmatch(text)
    if m is None:
        raise AidcSyntaxError(f"field {what} invalid: {text[:40]!r}")
    return m


def parse(text: str) -> AidcText:
    """The fields of one message; AidcSyntaxError says what is wrong, in one line."""
    if len(text) > MAX_TEXT:
        raise AidcSyntaxError(f"message longer than {MAX_TEXT} characters")
    text = " ".join(text.split())  # line breaks and runs of spaces are one space
    if not (text.startswith("(") and text.endswith(")")):
        raise AidcSyntaxError("not enclosed in parentheses")
    fields = text[1:-1].split("-")
    head = _match(_FIELD3, fields[0], "3")
    msg = head[1]
    if msg not in LAYOUT:
        raise AidcSyntaxError(f"unknown message type {msg!r}")
    values: _Fields = {"msg": msg, "sender": head[2], "receiver": head[3],
                       "serial": int(head[4])}
    if head[5]:
        values["ref"] = (head[5], head[6], int(head[7]))
    layout = LAYOUT[msg]
    fixed = [f for f in layout if not f.endswith(("*", "?"))]
    rest = fields[1:]
    if layout[-1:] == ("18?",) and len(rest) == len(fixed) + 1:
        fixed.append("18")  # the optional last field is there
    if len(rest) < len(fixed) or (len(rest) > len(fixed) and not layout[-1:] == ("22*",)):
        raise AidcSyntaxError(f"{msg} has {len(fixed)} fields after field 3, not {len(rest)}")
    for name, value in zip(fixed, rest, strict=False):
        if name == "7":
            m = _match(_FIELD7, value, "7")
            values["callsign"], values["ssr"] = m[1], m[2]
        elif name == "13":
            m = _match(_FIELD13, value, "13")
            values["dep"], values["dep_time"] = m[1], m[2]
        elif name == "14":
            m = _match(_FIELD14, value, "14")
            values["estimate"] = Estimate(m[1], _hhmm(m[2]), m[3], m[4], m[5])
        elif name == "16":
            values["dst"] = _match(_FIELD16, value, "16")[1]
        elif name == "18":
            values["remark"] = _match(_FIELD18, value, "18")[1]
    amendments = []
    for value in rest[len(fixed):]:
        m = _match(_FIELD22, value, "22")
        amendments.append((int(m[1]), m[2]))
    values["amendments"] = tuple(amendments)
    if msg in ("ACP", "REJ", "AOC", "LAM", "LRM") and "ref" not in values:
        raise AidcSyntaxError(f"{msg} must carry the reference of the message it answers")
    return AidcText(**values)


def _hhmm(text: str) -> str:
    if int(text[:2]) > 23 or int(text[2:]) > 59:
        raise AidcSyntaxError(f"field 14 time {text!r} is not HHMM")
    return text
