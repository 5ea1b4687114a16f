"""The field grammars of ICAO ATS messages (Doc 4444, Appendix 3), in one place.

AIDC messages (``gateway.handoff.text``) and filed flight plan messages
(``gateway.flightplan.ats``) are made of the same numbered fields; each field's grammar is
here once, and both parsers use it.  Every pattern is ASCII only (``re.ASCII``, ``[0-9]``
rather than ``\\d``) and free of nested quantifiers: the text is hostile, and a pattern that
backtracks exponentially would hang on a crafted field.
"""

from __future__ import annotations

import re

UNKNOWN = "ZZZZ"  # ICAO: no location indicator / no type designator

LEVEL = r"(?:F[0-9]{3}|A[0-9]{3}|S[0-9]{4}|M[0-9]{4}|VFR)"

# field 7: aircraft identification, then SSR mode and code
FIELD7 = re.compile(r"([A-Z0-9]{2,7})(?:/A([0-7]{4}))?", re.ASCII)
# field 8: flight rules, type of flight
FIELD8 = re.compile(r"([IVYZ])([SNGMX])", re.ASCII)
# field 9: number of aircraft (if more than one), type designator, wake turbulence category
FIELD9 = re.compile(r"([1-9][0-9]?)?([A-Z][A-Z0-9]{1,3})/([LMHJ])", re.ASCII)
# field 10: radio communication, navigation and approach aid equipment / surveillance
FIELD10 = re.compile(r"([A-Z0-9]{1,40})/([A-Z0-9]{1,20})", re.ASCII)
# field 13: departure aerodrome, and time (EOBT in FPL; optional in AIDC)
FIELD13 = re.compile(r"([A-Z]{4})([0-9]{4})?", re.ASCII)
# field 14: estimate data: point / time, cleared level, supplementary crossing level and
# condition (A at or above, B at or below)
FIELD14 = re.compile(rf"([A-Z0-9]{{2,11}})/([0-9]{{4}})({LEVEL})?(?:({LEVEL})([AB]))?",
                     re.ASCII)
# field 15: cruising speed (N knots or K km/h, four digits; M Mach, three: M082), cruising
# level, then the route as space-separated elements
FIELD15 = re.compile(rf"([NK][0-9]{{4}}|M[0-9]{{3}})({LEVEL})( [A-Z0-9/]{{1,30}}){{0,200}}",
                     re.ASCII)
# field 16: destination aerodrome and total estimated elapsed time, up to two alternates
FIELD16 = re.compile(r"([A-Z]{4})([0-9]{4})?((?: [A-Z]{4}){0,2})", re.ASCII)
# field 18: other information, "0" (none) or INDICATOR/text groups
FIELD18 = re.compile(r"0|[A-Z]{3,4}/[A-Z0-9 /.+-]{1,1000}", re.ASCII)
_INDICATOR = re.compile(r"(?:^| )([A-Z]{3,4})/", re.ASCII)
# field 22: amendment, the number of the field amended then its new content
FIELD22 = re.compile(r"([1-9][0-9]?)/(.{1,1000})", re.ASCII | re.DOTALL)


def level_fl(level: str | None) -> float | None:
    """A level as field 14/15 writes it, in flight levels: F350 -> 350, A045 -> 45
    (hundreds of feet), S1190 -> 390 (tens of metres), M0840 -> 276; VFR or none -> None."""
    if not level or level == "VFR":
        return None
    value = int(level[1:])
    if level[0] in "FA":
        return float(value)
    return round(value * 10 / 0.3048 / 100, 1)  # S (tens of metres), M (metres)


def fl_level(fl: float | None) -> str | None:
    """A flight level as a field writes it: 350 -> F350 (clamped to F000-F999)."""
    return None if fl is None else f"F{max(0, min(999, round(fl))):03d}"


def other_info(field18: str | None) -> dict[str, str]:
    """Field 18's groups, indicator -> text (``REG/N123 DOF/261203`` -> two entries); a
    repeated indicator keeps its texts, space-separated."""
    if not field18 or field18 == "0":
        return {}
    marks = list(_INDICATOR.finditer(field18))
    groups: dict[str, str] = {}
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(field18)
        text = field18[m.end():end].strip()
        groups[m[1]] = f"{groups[m[1]]} {text}" if m[1] in groups else text
    return groups


def aircraft(number: int | None, type_: str | None, wtc: str | None) -> str:
    """Field 9: ``2F18/M``, ``B738/M``; ZZZZ for a type that is not known."""
    return f"{number if number and number > 1 else ''}{type_ or UNKNOWN}/{wtc or 'M'}"


def destination(dst: str | None, eet: str | None = None, alternates: str | None = None) -> str:
    """Field 16: ``MMMX0145 MMGL``; ZZZZ for an aerodrome that is not known."""
    return f"{dst or UNKNOWN}{eet or ''}" + (f" {alternates}" if alternates else "")
