"""The handoff engine's state as plain records: one per dialogue, one per track.

Each fact has one home.  Everything about one flight's dialogue across one boundary is in
its ``Flight`` (the row a store writes); everything the engine remembers about one fused
track is in its ``Track``, and the record goes when the track ends or is forgotten, so a
track id used again later (ids start again at 1 after a restart) starts with a clean
slate.  The engine's look-ups (by serial, by track) are indexes over these records, kept
in step with them.

``Saved`` is what of it outlives the process: the plain data a store
(``gateway.store.HandoffStore``) writes after every call and gives back after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gateway.handoff.dialogue import C1, Dialogue, Heard, Link, pair
from gateway.messages import FlightPlan


@dataclass
class Flight:
    """One flight across one boundary, from either side: ``dialogue.role`` C1 (we transfer
    it, from our unit ``src`` to the peer ``dst``) or C2 (we accept it, from the peer
    ``src`` into our unit ``dst``; its ``track_id`` is "" until an offer is matched to a
    fused track, see ``accepting.py``)."""

    key: str
    track_id: str
    src: str
    dst: str
    callsign: str
    ssr: str | None
    cop: str
    eto: float
    fl: float | None
    dialogue: Dialogue = field(default_factory=lambda: Dialogue(C1))
    agreed_eto: float | None = None
    agreed_fl: float | None = None
    misses: int = 0
    last_hit: float = 0.0  # the last prediction that supported it
    last_sent: float = -1e18
    sent: list[str] = field(default_factory=list)  # message types, in order
    # (serial, time sent) of each of those messages: the peer's answers refer to the
    # serial; the time says whose a serial is once the link's 001-999 has wrapped
    serials: list[tuple[int, float]] = field(default_factory=list)
    # the flight plan its track carries (fused ``fpl``, without the coordination state):
    # what ABI, EST and CPL say of the flight; None: no plan known (ZZZZ)
    plan: FlightPlan | None = None
    # the level predicted over the COP when the flight will not be at its cleared level
    # there: field 14's supplementary crossing level, positive when the flight will be
    # climbing (at or above), negative when descending (at or below)
    cross_fl: float | None = None
    # field 14's level as last proposed (EST, CPL, CDN) and so agreed: the plan's cleared
    # level, else the level the flight was at; a CDN follows when it changes
    agreed_level: float | None = None
    # the accepting side (C2) only:
    icao24: str | None = None  # the matched track's Mode S address
    reason: str = ""  # why we answered REJ
    heard_at: float = 0.0  # the peer's latest message in it: one silent for long expires
    unmatched: bool = False  # coordination-unmatched raised (once per dialogue)
    answer_to: int | None = None  # the peer's serial our next answer refers to
    dep_ad: str = ""  # fields 13 and 16 as the peer sent them: our answers repeat them
    dest_ad: str = ""

    @property
    def link(self) -> str:
        """The link our messages in this dialogue go on ("OURS/PEER", ``dialogue.pair``)."""
        return pair(self.src, self.dst) if self.dialogue.role is C1 else pair(self.dst, self.src)


@dataclass
class Track:
    """What the engine remembers of one fused track while it lives."""

    seen_at: float  # its last update: a track that stops without ending is forgotten
    flights: list[str] = field(default_factory=list)  # keys of its dialogues
    unit: str | None = None  # the unit it was last seen in
    predicted_at: float = -np.inf
    heading_for: str = ""  # the peer unit its recent predictions cross into ...
    hits: int = 0  # ... and how many of them running
    alerted: bool = False  # uncoordinated crossing reported (once per track)
    # a track without transponder, alerted at each crossing: the unit of the country it is
    # settled in, and the unit of another country it has been seen in for ``entering``
    # confirmed updates running (``crossing_updates`` of them settle it there)
    settled: str | None = None
    entering: str | None = None
    entering_n: int = 0


@dataclass
class Saved:
    """The engine's state that a restart must not lose.

    Written: ``flights`` holds only the dialogues changed since the last save and
    ``removed`` the ones forgotten since; given back: every stored flight, nothing removed.

    No ``Track`` is kept: a restarted tracker numbers its tracks from 1 again, so a stored
    track id would name another aircraft.  A remembered "already alerted" would then
    silence the uncoordinated-crossing alert of whichever aircraft got the id; forgetting
    it costs at most a second alert for a flight that crosses again after the restart.
    The prediction counters are rebuilt within a few updates.
    """

    flights: list[Flight]
    removed: list[str]
    # link "UNIT/PEER" -> our serials on it; a key without "/" (stored when one sequence
    # per peer served all our units) is the peer's, split per pair by ``Handoff.restore``
    links: dict[str, Link]
    # link "PEER/UNIT" -> the peer's session and recent serials on it (a message sent
    # again); a key without "/" (stored before links were told apart) is the peer's
    seen: dict[str, Heard]
    clock: float  # the latest data time seen
