"""When the accepting unit says no: the rules an offer is answered REJ by, with the reason.

A real unit refuses an estimate when it cannot take the flight on the conditions offered,
most often the level (a level not available in its sector at that time); the transferring
unit then coordinates by voice.  This gateway has no sector load to judge by, so the rules
are the configuration's: the levels each unit accepts (``accept_levels``), and, for tests
and demonstrations, refusing every Nth offer (``reject_every``).  ``decide`` is pure but
for the count of offers, which ``Acceptance`` keeps (and an undone message takes back).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_BAND = re.compile(r"([A-Z]{1,4})/F([0-9]{3})-F([0-9]{3})", re.ASCII)


def bands(specs: Iterable[str]) -> dict[str, list[tuple[int, int]]]:
    """``["MMTY/F290-F410", ...]`` as unit -> [(lowest, highest) flight level]; a spec that
    is not one (the configuration checks them at load) raises ValueError."""
    out: dict[str, list[tuple[int, int]]] = {}
    for spec in specs:
        m = _BAND.fullmatch(spec)
        if m is None:
            raise ValueError(f"{spec!r} is not a level band (UNIT/F290-F410)")
        low, high = int(m[2]), int(m[3])
        if low > high:
            raise ValueError(f"{spec!r}: the lowest level is above the highest")
        out.setdefault(m[1], []).append((low, high))
    return out


@dataclass
class Policy:
    """The accepting unit's rules: ``levels`` unit -> the level bands it accepts (a unit
    not named accepts every level), ``reject_every`` N > 0 refuses every Nth offer."""

    levels: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    reject_every: int = 0
    offers: int = 0  # offers decided (EST, CPL): what reject_every counts

    def decide(self, unit: str, fl: float | None, offer: bool) -> str | None:
        """Why ``unit`` refuses a flight at flight level ``fl`` (None: it accepts).  An
        ``offer`` (EST, CPL; not a CDN) counts towards ``reject_every``."""
        if offer:
            self.offers += 1
        allowed = self.levels.get(unit)
        if allowed and fl is not None and not any(lo <= fl <= hi for lo, hi in allowed):
            shown = " ".join(f"F{lo:03d} TO F{hi:03d}" for lo, hi in allowed)
            return f"LEVEL F{round(fl):03d} NOT AVAILABLE IN {unit} ONLY {shown}"
        if offer and self.reject_every and self.offers % self.reject_every == 0:
            return f"EVERY {self.reject_every} OFFERS REFUSED BY POLICY"
        return None
