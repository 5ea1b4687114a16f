"""Code-callsign correlation of fused tracks with the plans on file, as an FDPS does it.

For a fused update at time t, the candidates are the plans whose window holds t
(``Book``):

1. by identification: the plans whose aircraft identification (field 7) is the track's
   callsign (Mode S);
2. else by SSR code: the plans whose field 7 code (or one a CHG replaced: ``Book``) is the
   track's Mode 3/A code, leaving out
   a plan whose identification differs from the track's callsign (that would be another
   flight's plan) and never on a code that is not discrete (``NON_DISCRETE``: conspicuity,
   emergency, VFR codes are shared by many flights).

One candidate: the track is correlated with it.  Two or more, or one that another live
track already holds: ambiguous.  An ambiguity is never resolved by guessing: the track gets
no plan, an ``fpl-ambiguous`` alert is raised (once for a track until its candidates change)
and counted.  A correlation is kept while the track lives and the plan is on file, unless
the track's callsign comes to differ from the plan's identification: a code change in
flight (the CHG's new code) does not lose the plan.

Sans-IO: fused updates in, the same updates with ``fpl`` filled and alerts out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import msgspec

from gateway.flightplan.book import Book, OnFile, PlanKey
from gateway.messages import Alert, Fused

# Mode 3/A codes many flights squawk at once: VFR (1200, 7000), conspicuity (1000, 2000),
# unlawful interference, radio failure, emergency (7500, 7600, 7700)
NON_DISCRETE = frozenset({"0000", "1000", "1200", "2000", "7000", "7500", "7600", "7700"})
STALE_S = 300.0  # a correlated track not updated for this long (data time) lets its plan go


@dataclass
class _Link:
    key: PlanKey
    seen: float  # the last update's time


class Correlator:
    """The correlations of live fused tracks with the plans in ``book``."""

    def __init__(self, book: Book) -> None:
        self.book = book
        self.links: dict[str, _Link] = {}  # track id -> its plan
        self.holders: dict[PlanKey, str] = {}  # plan -> the track correlated with it
        # track id -> the candidates of the ambiguity last alerted, and when
        self.reported: dict[str, tuple[tuple[PlanKey, ...], float]] = {}
        self.counters: Counter[str] = Counter()
        self._next_sweep = -float("inf")

    def attach(self, fused: list[Fused]) -> tuple[list[Fused], list[Alert]]:
        """A cycle's fused updates, each without a plan given the plan it correlates with."""
        if not fused:
            return fused, []
        t = max(m.t for m in fused)
        self.book.advance(t)
        self._sweep(t)
        out: list[Fused] = []
        alerts: list[Alert] = []
        for m in fused:
            if m.fpl is not None:  # the SDPS's plan (I390) comes first
                out.append(m)
                continue
            entry = self._correlate(m, alerts)
            # a Mode A/C track has no identification of its own: the correlated plan's is
            # the flight's (what code-callsign correlation is for), and what the handoff
            # coordinates it by
            out.append(m if entry is None else msgspec.structs.replace(
                m, fpl=entry.plan, callsign=m.callsign or entry.plan.callsign))
            if m.state == "ended":
                self._unlink(m.id)
                self.reported.pop(m.id, None)
        return out, alerts

    def _correlate(self, m: Fused, alerts: list[Alert]) -> OnFile | None:
        link = self.links.get(m.id)
        if link is not None:
            entry = self.book.plans.get(link.key)
            if entry is not None and (m.callsign is None
                                      or m.callsign.strip() == entry.filed.callsign):
                link.seen = m.t
                return entry
            self._unlink(m.id)
            self.counters["fpl-decorrelated"] += 1
        candidates = self._candidates(m)
        if not candidates:
            return None
        if len(candidates) == 1:
            entry = candidates[0]
            holder = self.holders.get(entry.key)
            if holder is None:
                self.links[m.id] = _Link(entry.key, m.t)
                self.holders[entry.key] = m.id
                self.reported.pop(m.id, None)
                self.counters["fpl-correlated"] += 1
                return entry
            why = f"its plan {_name(entry.key)} is correlated with track {holder}"
        else:
            why = "plans " + ", ".join(_name(c.key) for c in candidates) + " all match it"
        keys = tuple(sorted((c.key for c in candidates), key=str))
        alerted = self.reported.get(m.id)
        self.reported[m.id] = (keys, m.t)
        if alerted is None or alerted[0] != keys:
            self.counters["fpl-ambiguous"] += 1
            what = f"callsign {m.callsign.strip()}" if m.callsign else f"code {m.mode3a}"
            alerts.append(Alert(t=m.t, type="fpl-ambiguous", track_id=m.id,
                                text=f"track {m.id} ({what}): no plan attached: {why}"[:500]))
        return None

    def _candidates(self, m: Fused) -> list[OnFile]:
        callsign = m.callsign.strip() if m.callsign else None
        if callsign:
            found = self.book.active(self.book.by_callsign.get(callsign), m.t)
            if found:
                return found
        if m.mode3a is None or m.mode3a in NON_DISCRETE:
            return []
        return [e for e in self.book.active(self.book.by_ssr.get(m.mode3a), m.t)
                if not callsign or e.filed.callsign == callsign]

    def _unlink(self, track_id: str) -> None:
        link = self.links.pop(track_id, None)
        if link is not None and self.holders.get(link.key) == track_id:
            del self.holders[link.key]

    def _sweep(self, t: float) -> None:
        """Tracks that stopped without an ``ended`` update let their plans go."""
        if t < self._next_sweep:
            return
        self._next_sweep = t + STALE_S / 10
        for track_id in [i for i, link in self.links.items() if link.seen < t - STALE_S]:
            self._unlink(track_id)
        for track_id in [i for i, (_, seen) in self.reported.items() if seen < t - STALE_S]:
            del self.reported[track_id]


def _name(key: PlanKey) -> str:
    callsign, dep, dst, dof = key
    return f"{callsign} {dep}-{dst}" + (f" DOF/{dof}" if dof else "")
