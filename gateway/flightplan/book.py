"""The flight plans on file: filed (FPL), changed (CHG), delayed (DLA), cancelled (CNL).

A plan is keyed as an FDPS keys it: aircraft identification, departure, destination and
date of flight (field 18 DOF).  A CHG, CNL or DLA names its plan by the same four; one that
gives no DOF names the plan with the other three if there is exactly one (several: it is
ambiguous, counted as ``fpl-not-unique`` and not applied).  An FPL for a key already on
file replaces the plan (``fpl-refiled``).

Each plan has a time window in which a track may be correlated with it: from its EOBT less
``window_before_s`` to its EOBT plus the total EET (the ETA) plus ``window_after_s``.  The
EOBT's day is the DOF; a plan without a DOF flies on the day that puts its EOBT nearest to
the time it was filed (or, filed before any data time was known, as from a file read at
start, nearest to the first data time).  A plan whose window has ended is dropped; so is
the plan whose window ends first when ``max_plans`` are on file and another comes.

A plan is found by its SSR code (field 7) and by the codes CHGs replaced (the last
``MAX_EARLIER_CODES``): a flight changes code when a controller tells it, and the CHG may be
on file before the change (a plan file read at start holds every CHG already).

Sans-IO: the book is given every message and the time (the data's time) and keeps no clock.
Everything it refuses or drops is counted (``counters``, ``fpl-...``).
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field

from gateway.flightplan.ats import AtsMessage, Filed
from gateway.messages import FlightPlan

DAY = 86400.0
MAX_EARLIER_CODES = 2  # codes a plan is still found by after CHGs replaced them
SWEEP_S = 10.0  # ended windows are looked for at most this often (data time)
PlanKey = tuple[str, str, str, str | None]  # identification, departure, destination, DOF


def hhmm_s(text: str) -> float:
    """HHMM as seconds (EET may exceed 24 h)."""
    return int(text[:2]) * 3600.0 + int(text[2:]) * 60.0


def dof_epoch(dof: str) -> float:
    """YYMMDD (a date the parser checked) as the epoch of its 00:00 UTC."""
    day = datetime.date(2000 + int(dof[:2]), int(dof[2:4]), int(dof[4:]))
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC).timestamp()


def nearest(time_of_day_s: float, near: float) -> float:
    """The epoch of that time of day nearest to ``near``."""
    day = near - near % DAY
    return min((day - DAY, day, day + DAY), key=lambda d: abs(d + time_of_day_s - near)) \
        + time_of_day_s


@dataclass
class OnFile:
    """One plan on file; ``eobt_t`` is None until its day is known (no DOF, no time yet)."""

    key: PlanKey
    filed: Filed
    state: str  # "filed" | "changed" | "delayed"
    eobt_t: float | None
    earlier_codes: tuple[str, ...] = ()  # field 7 codes a CHG replaced, latest first
    plan: FlightPlan = field(init=False)

    def __post_init__(self) -> None:
        self.plan = self.filed.plan()

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes the plan is found by: its own, then those a CHG replaced."""
        return ((self.filed.ssr,) if self.filed.ssr else ()) + self.earlier_codes

    def window(self, before_s: float, after_s: float) -> tuple[float, float] | None:
        if self.eobt_t is None:
            return None
        return (self.eobt_t - before_s, self.eobt_t + hhmm_s(self.filed.eet) + after_s)


def key_of(plan: Filed) -> PlanKey:
    return (plan.callsign, plan.dep, plan.dst, plan.dof)


class Book:
    """The plans on file, indexed by identification and by SSR code for correlation."""

    def __init__(self, *, window_before_s: float, window_after_s: float,
                 max_plans: int = 10_000) -> None:
        self.before_s = window_before_s
        self.after_s = window_after_s
        self.max_plans = max_plans
        self.plans: dict[PlanKey, OnFile] = {}
        self.by_callsign: dict[str, set[PlanKey]] = {}
        self.by_ssr: dict[str, set[PlanKey]] = {}
        self.clock: float | None = None  # the latest data time seen
        self.unplaced: set[PlanKey] = set()  # plans whose day is not known yet
        self._next_sweep = -float("inf")
        self.counters: Counter[str] = Counter()

    # -- messages ---------------------------------------------------------------------------

    def file(self, message: AtsMessage, now: float | None) -> str:
        """Apply one message at ``now`` (None: no time known yet); what it did, one word
        (also counted as ``fpl-{word}``): filed, refiled, changed, delayed, cancelled,
        unknown (no such plan on file) or not-unique (no DOF, and several plans)."""
        if now is not None:
            self.clock = now if self.clock is None else max(self.clock, now)
        outcome = self._apply(message, now)
        self.counters[f"fpl-{outcome}"] += 1
        return outcome

    def _apply(self, message: AtsMessage, now: float | None) -> str:
        if message.plan is not None:
            key = key_of(message.plan)
            refiled = self._remove(key) is not None
            self._add(OnFile(key, message.plan, "filed", self._eobt(message.plan, now)))
            return "refiled" if refiled else "filed"
        found = self._find(message)
        if isinstance(found, str):
            return found
        entry = self._remove(found)
        assert entry is not None
        if message.msg == "CNL":
            return "cancelled"
        plan, old = entry.filed, entry.filed
        for number, content in message.amendments:  # CHG
            plan = plan.amended(number, content)
        if message.msg == "DLA":
            assert message.dep_time is not None  # the parser requires it
            plan = plan.amended(13, f"{plan.dep}{message.dep_time}")
        eobt_t = entry.eobt_t
        if plan.dof != old.dof or eobt_t is None:
            eobt_t = self._eobt(plan, now)
        elif plan.eobt != old.eobt:  # a new EOBT: the one nearest to the old
            eobt_t = nearest(hhmm_s(plan.eobt), eobt_t)
        state = "delayed" if message.msg == "DLA" else "changed"
        earlier = tuple(c for c in entry.codes if c != plan.ssr)[:MAX_EARLIER_CODES]
        self._add(OnFile(key_of(plan), plan, state, eobt_t, earlier))
        return state

    def _find(self, message: AtsMessage) -> PlanKey | str:
        key: PlanKey = (message.callsign, message.dep, message.dst, message.dof)
        if key in self.plans:
            return key
        if message.dof is not None:
            return "unknown"
        same = [k for k in self.by_callsign.get(message.callsign, ())
                if k[1:3] == key[1:3]]
        if not same:
            return "unknown"
        return same[0] if len(same) == 1 else "not-unique"

    def _eobt(self, plan: Filed, now: float | None) -> float | None:
        if plan.dof is not None:
            return dof_epoch(plan.dof) + hhmm_s(plan.eobt)
        near = now if now is not None else self.clock
        return None if near is None else nearest(hhmm_s(plan.eobt), near)

    def _add(self, entry: OnFile) -> None:
        if self._remove(entry.key) is not None:  # a CHG re-keyed a plan onto another's key
            self.counters["fpl-overwritten"] += 1
        if len(self.plans) >= self.max_plans:
            self._remove(min(self.plans, key=lambda k: self._end(self.plans[k])))
            self.counters["fpl-evicted"] += 1
        self.plans[entry.key] = entry
        if entry.eobt_t is None:
            self.unplaced.add(entry.key)
        self.by_callsign.setdefault(entry.filed.callsign, set()).add(entry.key)
        for code in entry.codes:
            self.by_ssr.setdefault(code, set()).add(entry.key)

    def _remove(self, key: PlanKey) -> OnFile | None:
        entry = self.plans.pop(key, None)
        if entry is None:
            return None
        for index, value in ((self.by_callsign, entry.filed.callsign),
                             *((self.by_ssr, code) for code in entry.codes)):
            keys = index.get(value)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[value]
        return entry

    def _end(self, entry: OnFile) -> float:
        window = entry.window(self.before_s, self.after_s)
        return window[1] if window is not None else float("inf")

    # -- time -------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """The data's time moved on: plans with no day yet get one, and (every ``SWEEP_S``
        of data time) plans whose window has ended go."""
        self.clock = now if self.clock is None else max(self.clock, now)
        for key in self.unplaced:
            entry = self.plans.get(key)
            if entry is not None and entry.eobt_t is None:
                entry.eobt_t = nearest(hhmm_s(entry.filed.eobt), self.clock)
        self.unplaced.clear()
        if self.clock < self._next_sweep:
            return
        self._next_sweep = self.clock + SWEEP_S
        ended = [k for k, e in self.plans.items() if self._end(e) < self.clock]
        for key in ended:
            self._remove(key)
        self.counters["fpl-expired"] += len(ended)

    # -- lookups ----------------------------------------------------------------------------

    def active(self, keys: set[PlanKey] | None, t: float) -> list[OnFile]:
        """The plans among ``keys`` whose window holds ``t``."""
        out = []
        for key in keys or ():
            window = self.plans[key].window(self.before_s, self.after_s)
            if window is not None and window[0] <= t <= window[1]:
                out.append(self.plans[key])
        return out
