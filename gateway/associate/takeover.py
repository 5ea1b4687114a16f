"""Which fused ids a process taking over a redundant pair gives its tracks (sans-IO).

The two processes of a pair track the same inputs, each numbering its own tracks; only the
active one publishes.  When the standby takes over, the ids downstream knows (displays,
the handoff's dialogues, alerts) are the old active's, not its own.  The old active keeps
in the store, with its id sequence, a ``TrackState`` of each live track it has published
(id, Mode S address, callsign, Mode-3/A code, position, velocity, data time); the new
active matches its own live tracks to them, and each track it matches takes the saved id,
so the aircraft keeps its fused id across the takeover.  A track it cannot match gets a new
id after the old sequence's end (an id the old one never handed out).

The matching, one-to-one and deterministic:

1. the same Mode S address;
2. else the same callsign, where the addresses do not disagree (both known, different);
3. else the same Mode-3/A code, within ``position_m`` of where the saved state's velocity
   puts it at the track's time, where neither addresses nor callsigns disagree;
4. else, for tracks with no identity at all on either side (primary radar only), the
   position alone, within ``position_m`` likewise.

A saved state more than ``recent_s`` older than ``now`` matches by address only (a callsign
or a code is reused; an address is the airframe's), and one more than ``forget_s`` away
from ``now`` (older, or from the future) matches nothing (``dropped``).  Candidates are
taken best first: by rule, then by distance, then by the saved and own ids; each saved
state and each own track at most once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FORGET_S", "POSITION_M", "RECENT_S", "Matched", "TrackState", "match", "states",
           "states_json"]

POSITION_M = 2000.0  # code + position: how far from the saved state's prediction
RECENT_S = 60.0  # a saved state older than this matches by address only
FORGET_S = 3600.0  # ... and older than this (or this far in the future), not at all
_EARTH_M = 6371008.8  # mean radius: distances of a few km, where the ellipsoid is moot
ADDRESS, CALLSIGN, CODE, POSITION = 0, 1, 2, 3  # the rules, best first
RULES = ("address", "callsign", "code", "position")


@dataclass(frozen=True)
class TrackState:
    """One live track: ``id`` (the published id; for the new active's own tracks, any key
    that names the track), ``address`` the Mode S address (-1: none), ``callsign`` (None:
    none), ``code`` the Mode-3/A code (-1: none), position (degrees) and velocity (m/s
    east and north) at data time ``t``."""

    id: str
    address: int
    callsign: str | None
    code: int
    lat: float
    lon: float
    t: float
    ve: float = 0.0
    vn: float = 0.0

    def to_json(self) -> list[Any]:
        """As the store keeps it: a short list (hundreds of tracks in each save)."""
        return [self.id, self.address, self.callsign, self.code, round(self.lat, 6),
                round(self.lon, 6), self.t, round(self.ve, 1), round(self.vn, 1)]

    @classmethod
    def from_json(cls, value: Any) -> TrackState:
        """A stored state (hostile: ``ValueError`` for anything not of the right shape)."""
        if not isinstance(value, list) or len(value) != 9:
            raise ValueError("track state: not a list of 9")
        id_, address, callsign, code, *numbers = value
        if not isinstance(id_, str) or not id_ or len(id_) > 64:
            raise ValueError("track state: bad id")
        for n in (address, code):
            if not isinstance(n, int) or isinstance(n, bool) or not -1 <= n <= 0xFFFFFF:
                raise ValueError("track state: bad address or code")
        if callsign is not None and (not isinstance(callsign, str) or len(callsign) > 16):
            raise ValueError("track state: bad callsign")
        if not all(isinstance(n, (int, float)) and not isinstance(n, bool)
                   and math.isfinite(n) for n in numbers):
            raise ValueError("track state: a position, time or velocity is not a number")
        lat, lon, t, ve, vn = (float(n) for n in numbers)
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError("track state: position out of range")
        return cls(id_, address, callsign.strip() or None if callsign else None, code,
                   lat, lon, t, ve, vn)


@dataclass
class Matched:
    """What the matching decided: ``ids`` own id -> the saved id it takes (``by`` the rule
    of each: address, callsign, code); ``unmatched`` own ids with no saved id; ``missing``
    saved ids no own track took (their aircraft may come back: the identity map has them);
    ``dropped`` saved ids too far from ``now`` to match."""

    ids: dict[str, str] = field(default_factory=dict)
    by: dict[str, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def distance_m(saved: TrackState, own: TrackState) -> float:
    """How far ``own`` is from where ``saved`` flying straight on would be at ``own.t``
    (a flat earth around them: the gate is a few km)."""
    dt = own.t - saved.t
    lat0 = math.radians(saved.lat)
    north = math.radians(own.lat - saved.lat) * _EARTH_M - saved.vn * dt
    dlon = (own.lon - saved.lon + 180.0) % 360.0 - 180.0
    east = math.radians(dlon) * _EARTH_M * math.cos(lat0) - saved.ve * dt
    return math.hypot(north, east)


def _rule(saved: TrackState, own: TrackState, recent: bool, gap: float,
          position_m: float) -> int | None:
    """The best rule by which ``own`` may be ``saved``'s aircraft (None: none)."""
    if saved.address >= 0 and own.address >= 0:
        if saved.address == own.address:
            return ADDRESS
        return None  # two airframes
    if not recent:
        return None
    if saved.callsign is not None and own.callsign is not None:
        if saved.callsign == own.callsign:
            return CALLSIGN
        return None  # two flights
    if saved.code >= 0 and saved.code == own.code and gap <= position_m:
        return CODE
    if _anonymous(saved) and _anonymous(own) and gap <= position_m:
        return POSITION
    return None


def _anonymous(s: TrackState) -> bool:
    """No identity at all: a primary radar's track."""
    return s.address < 0 and s.callsign is None and s.code < 0


def _keys(s: TrackState) -> list[tuple[int, object]]:
    """What a track may be matched by (``match``'s look-up)."""
    if _anonymous(s):
        return [(POSITION, None)]
    return [key for key in ((ADDRESS, s.address), (CALLSIGN, s.callsign), (CODE, s.code))
            if key[1] not in (-1, None)]


def match(saved: Sequence[TrackState], own: Sequence[TrackState], now: float, *,
          position_m: float = POSITION_M, recent_s: float = RECENT_S,
          forget_s: float = FORGET_S) -> Matched:
    """Which of the ``own`` tracks take which ``saved`` ids (the module says how), at data
    time ``now``.  Ids repeated within ``saved`` or ``own``: only the first counts."""
    out = Matched()
    live: dict[str, TrackState] = {}
    for s in saved:
        if s.id in live or s.id in out.dropped:
            continue
        if abs(now - s.t) > forget_s:
            out.dropped.append(s.id)
        else:
            live[s.id] = s
    mine: dict[str, TrackState] = {}
    for o in own:
        mine.setdefault(o.id, o)
    # only pairs sharing an address, a callsign or a code, or two tracks without any,
    # can match: look those up
    index: dict[tuple[int, object], list[TrackState]] = {}
    for o in mine.values():
        for key in _keys(o):
            index.setdefault(key, []).append(o)
    candidates: list[tuple[int, float, str, str]] = []
    for s in live.values():
        recent = now - s.t <= recent_s
        near = {o.id: o for key in _keys(s) for o in index.get(key, ())}
        for o in near.values():
            gap = distance_m(s, o)
            rule = _rule(s, o, recent, gap, position_m)
            if rule is not None:
                candidates.append((rule, gap, s.id, o.id))
    candidates.sort()
    taken: set[str] = set()
    for rule, _, sid, oid in candidates:
        if sid in taken or oid in out.ids:
            continue
        taken.add(sid)
        out.ids[oid] = sid
        out.by[oid] = RULES[rule]
    out.unmatched = sorted(oid for oid in mine if oid not in out.ids)
    out.missing = sorted(sid for sid in live if sid not in taken)
    out.dropped.sort()
    return out


def states_json(tracks: Sequence[TrackState]) -> dict[str, Any]:
    """Live tracks as a store's state row keeps them."""
    return {"states": [s.to_json() for s in tracks]}


def states(data: Any) -> list[TrackState]:
    """The stored row (None: nothing stored); ``ValueError`` if it is not of that shape."""
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("states"), list):
        raise ValueError("tracks: not an object with a list of states")
    return [TrackState.from_json(v) for v in data["states"]]
