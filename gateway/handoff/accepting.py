"""The accepting side of border coordination (C2): offers from a peer for flights entering
our units, matched to the fused picture and answered (sans-IO).

The engine (``engine.Handoff``) takes every inbound message through the same checks
whichever side it is on (who speaks, which message, field 7, the transition table); what
is the accepting side's alone is here:

- **Which dialogue.** A message the transferring unit starts (ABI, EST, CPL, and TOC, MAC,
  CDN without a reference to one of our serials) belongs to the dialogue of its flight:
  (aircraft identification, the peer's unit, our unit), never a track id (a restarted
  tracker gives the flight another one).  An offer (ABI, EST, CPL) whose flight has no
  open dialogue starts one, once it names a COP on that boundary and a usable level
  (else LRM with the reason, ``aidc-refused-offer``), and while fewer than
  ``max_accepting`` are open (else LRM, ``aidc-accepting-full``).
- **The answer.** EST or CPL: ACP, or REJ with the reason in field 18 when ``policy.Policy``
  says so (a level the unit does not accept, every Nth offer); CDN: likewise (refused, the
  conditions agreed before stand); TOC: AOC; MAC ends the dialogue (LAM only).  An answer
  that finds every serial of the link awaiting its LAM is owed, and sent at the next
  update (the peer's message was acknowledged: it will not come again).
- **Which track.** An offer is matched to a fused track by identification and SSR code,
  then by a discrete SSR code alone, then by a track predicted within ``match_radius_nm``
  of the COP within ``match_window_s`` of the estimated time; only a unique candidate is
  taken (ambiguity is counted, never guessed).  Unmatched by its estimated time plus
  ``match_window_s``: a ``coordination-unmatched`` alert.  After a restart (new track ids)
  the flight is matched again.
- **Entries nobody announced.** A cooperative flight (identification or Mode S address)
  that crosses from a peer's unit into ours without an accepted coordination (ACP given)
  raises ``unannounced-entry``, once per flight: the case that is a phone call today.

The dialogues are the engine's ``Flight`` records (``dialogue.role`` C2: ``src`` the peer,
``dst`` our unit), stored and restored with the rest; ``index`` (flight -> its latest
dialogue) is rebuilt by ``restore`` and taken back with a refused message (``engine._Undo``).
"""

from __future__ import annotations

import math
import time as _time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from gateway.handoff.airspace import KT
from gateway.handoff.dialogue import C1, C2, Dialogue, State
from gateway.handoff.policy import Policy, bands
from gateway.handoff.state import Flight
from gateway.handoff.text import AidcText, Estimate
from gateway.icao.fields import FIELD14
from gateway.messages import Fused

if TYPE_CHECKING:
    from gateway.handoff.engine import Handoff

OFFERS = frozenset({"ABI", "EST", "CPL"})
# what a transferring unit starts: found by the flight when no serial of ours is named
STARTED_BY_C1 = OFFERS | {"TOC", "MAC", "CDN"}
# SSR codes many aircraft squawk at once (VFR, conspicuity, emergency): never a match alone
NON_DISCRETE = frozenset({"0000", "1200", "2000", "7000", "7500", "7600", "7700"})
MAX_FL = 660  # above any aircraft's ceiling: a level offered higher is no level
STALE_TRACK_S = 120.0  # a track not updated this long is not matched (it ended unseen)
M_PER_DEG = 111_195.0
# the states in which the coordination was accepted (ACP given)
ACCEPTED = frozenset({State.COORDINATED, State.NEGOTIATING, State.TRANSFERRING,
                      State.TRANSFERRED})

Ident = tuple[str, str, str]  # (aircraft identification, the peer's unit, our unit)


def absolute(hhmm: str, now: float) -> float:
    """The time ``HHMM`` (UTC, field 14) names: the one of yesterday's, today's and
    tomorrow's nearest to ``now`` (an estimate is for within hours, either way)."""
    day = math.floor(now / 86400.0) * 86400.0
    t = day + int(hhmm[:2]) * 3600 + int(hhmm[2:]) * 60
    return min((t - 86400.0, t, t + 86400.0), key=lambda c: abs(c - now))


def flight_level(level: str | None) -> float | None:
    """Field 14's level as a flight level (hundreds of feet): F350 -> 350, A045 -> 45,
    S1130 / M0840 (tens of metres) -> feet / 100; None for none, VFR or garbage."""
    if level is None or level == "VFR":
        return None
    if level[0] in "FA":
        return float(level[1:])
    if level[0] in "SM":
        return round(int(level[1:]) * 10 / 0.3048 / 100.0, 1)
    return None


class Acceptance:
    """The accepting side's state beside the engine's ``flights``: the index of dialogues
    by flight, the latest fused update of each live track (to match offers between
    updates), the policy, and the flights already alerted as unannounced."""

    def __init__(self, engine: Handoff) -> None:
        self.engine = engine
        self.p = engine.p
        self.policy = Policy(bands(self.p.accept_levels), self.p.reject_every)
        self.index: dict[Ident, str] = {}  # flight -> key of its latest dialogue
        self.latest: dict[str, Fused] = {}  # track id -> its latest update (live tracks)
        self.announced: dict[str, float] = {}  # flight -> when unannounced-entry was raised
        self.counters: Counter[str] = engine.counters
        self._cops = {(c.name, c.units) for c in engine.airspace.cops}
        self._updated_at = -math.inf

    # -- inbound -------------------------------------------------------------------------

    def dialogue(self, peer: str, me: str, text: AidcText, now: float) -> Flight | str:
        """The C2 dialogue a message the transferring unit started belongs to, made for a
        new offer; or why there is none (the engine answers LRM with it)."""
        ident = (text.callsign or "", peer, me)
        key = self.index.get(ident)
        f = self.engine.flights.get(key) if key else None
        if text.msg not in OFFERS:
            if f is None:
                self.counters["aidc-no-dialogue"] += 1
                return "NO DIALOGUE FOR THIS FLIGHT"
            return f  # the transition table judges it
        reason = self._hostile(peer, me, text)
        if reason is not None:
            self.counters["aidc-refused-offer"] += 1
            return reason
        if f is not None and not f.dialogue.final:
            return f  # an update (ABI again), or out of turn: the table judges it
        if self.open() >= self.p.max_accepting:
            self.counters["aidc-accepting-full"] += 1
            return f"{self.p.max_accepting} COORDINATIONS OPEN ALREADY"
        assert text.estimate is not None and text.callsign is not None  # _hostile checked
        key = f"{text.callsign}<{peer}>{me}@{now:.3f}#{text.serial:03d}"
        f = Flight(key, "", peer, me, text.callsign, text.ssr, text.estimate.point,
                   absolute(text.estimate.time, now), flight_level(text.estimate.level),
                   dialogue=Dialogue(C2), last_hit=now, heard_at=now,
                   dep_ad=text.dep or "", dest_ad=text.dst or "")
        undo = self.engine._undo
        if undo is not None:
            undo.created.add(key)
            undo.entry(self.index, ident)
        self.engine.flights[key] = f
        self.index[ident] = key
        self.counters["dialogues-accepting"] += 1
        return f

    def open(self) -> int:
        return sum(1 for key in self.index.values()
                   if (f := self.engine.flights.get(key)) is not None and not f.dialogue.final)

    def _hostile(self, peer: str, me: str, text: AidcText) -> str | None:
        """Why an offer cannot be taken at all (None: it can)."""
        est = text.estimate
        if est is None or text.callsign is None:
            return f"{text.msg} WITHOUT FIELD 7 OR 14"
        if (est.point, frozenset((peer, me))) not in self._cops:
            return f"COP {est.point} IS NOT ON THE {peer}/{me} BOUNDARY"
        if est.level is None:
            return None if text.msg == "ABI" else f"{text.msg} WITHOUT A LEVEL"
        fl = flight_level(est.level)
        if fl is None or fl > MAX_FL:
            return f"LEVEL {est.level} CANNOT BE COORDINATED"
        return None

    def handled(self, f: Flight, text: AidcText, now: float, out: list[Any]) -> None:
        """A peer's message the dialogue took (acknowledged already): what it changes, and
        our answer."""
        f.heard_at = now
        f.ssr = text.ssr or f.ssr  # the transferring unit assigns the code: it may change
        if text.msg in OFFERS and text.estimate is not None:
            f.cop, f.eto = text.estimate.point, absolute(text.estimate.time, now)
            f.fl = flight_level(text.estimate.level) if text.estimate.level else f.fl
            f.dep_ad, f.dest_ad = text.dep or f.dep_ad, text.dst or f.dest_ad
            if not f.track_id:
                self._match(f, now, self._picture(now))
        elif text.msg == "CDN":
            proposed = _amended(text)
            if proposed is not None:  # the proposal, until answered (agreed_* stand)
                f.cop, f.eto = proposed.point, absolute(proposed.time, now)
                f.fl = flight_level(proposed.level) if proposed.level else f.fl
        elif text.msg == "MAC":
            self.counters["coordination-cancelled-by-peer"] += 1
        if text.msg != "ABI":
            f.answer_to = text.serial
        self.answer(f, now, out)

    def answer(self, f: Flight, now: float, out: list[Any]) -> None:
        """The answer this dialogue owes the peer, if it owes one: ACP or REJ to an offer
        or to a change the peer proposed, AOC to a TOC.  Not sent (still owed) while the
        link has no free serial."""
        state, reason = f.dialogue.state, None
        if state is State.TRANSFERRING:
            msg = "AOC"
        elif state is State.OFFERED or (state is State.NEGOTIATING
                                        and f.dialogue.proposer is C1):
            msg = "ACP"
        else:
            return
        if f.answer_to is None:
            return
        serial = self.engine._number(f.dst, f.src, now, out)
        if serial is None:
            self.counters["accepting-answer-owed"] += 1
            return
        if msg == "ACP":
            reason = self.policy.decide(f.dst, f.fl, offer=state is State.OFFERED)
            msg = "ACP" if reason is None else "REJ"
        f.dialogue.send(msg)
        if msg == "ACP":
            f.agreed_eto, f.agreed_fl = f.eto, f.fl
        elif state is State.NEGOTIATING:  # refused: the conditions agreed before stand
            f.eto = f.agreed_eto if f.agreed_eto is not None else f.eto
            f.fl = f.agreed_fl
        if reason is not None:
            from gateway.handoff.engine import _remark  # field 18's alphabet (no cycle at import)

            f.reason = reason = _remark(reason)
            self.counters["accepting-rejected"] += 1
        text = AidcText(msg, f.dst, f.src, serial, ref=(f.src, f.dst, f.answer_to),
                        callsign=f.callsign, ssr=f.ssr, dep=f.dep_ad or "ZZZZ",
                        dst=f.dest_ad or "ZZZZ", remark=reason)
        self.engine._send(f, text, now, out)

    # -- the picture -----------------------------------------------------------------------

    def observe(self, fused: Sequence[Fused], now: float) -> None:
        """One update's tracks: the latest of each live one, for matching."""
        for m in fused:
            if m.state == "ended":
                self.latest.pop(m.id, None)
            elif m.lat is not None and m.lon is not None:
                self.latest[m.id] = m

    def update(self, now: float, out: list[Any]) -> None:
        """After every update: match the open dialogues not matched yet (or whose track
        is gone, as after a restart), raise ``coordination-unmatched`` for those still
        unmatched past their time, send the answers still owed.  At most once every
        ``predict_every_s``: updates come with every association cycle, and this walks
        every open dialogue."""
        if 0.0 <= now - self._updated_at < self.p.predict_every_s:  # (data time may jump back)
            return
        self._updated_at = now
        picture: _Picture | None = None  # made once, if a dialogue needs a match
        for key in list(self.index.values()):
            f = self.engine.flights.get(key)
            if f is None or f.dialogue.state in (State.CANCELLED, State.REJECTED):
                continue
            track = self.latest.get(f.track_id) if f.track_id else None
            if track is None or (track.callsign not in (None, f.callsign)):
                if f.track_id:
                    f.track_id = ""  # its track is gone (ended, restarted): match again
                    self.engine._changed.add(f.key)
                picture = picture or self._picture(now)
                self._match(f, now, picture)
            if not f.track_id and not f.unmatched and now > f.eto + self.p.match_window_s:
                f.unmatched = True
                self.engine._changed.add(f.key)
                self.counters["coordination-unmatched"] += 1
                self.engine._alert(
                    "coordination-unmatched", f.src, None,
                    f"{f.src} offered {f.callsign}" + (f" (A{f.ssr})" if f.ssr else "") +
                    f" over {f.cop} at {_time.strftime('%H%M', _time.gmtime(f.eto))}Z into "
                    f"{f.dst}: no track matches it", now, out)
            if not f.dialogue.final:
                self.answer(f, now, out)

    def _picture(self, now: float) -> _Picture:
        """The live tracks no open dialogue has taken, by identification and SSR code:
        matching many offers costs a look-up each, not a pass over every track."""
        taken = {g.track_id for k in self.index.values()
                 if (g := self.engine.flights.get(k)) is not None and g.track_id
                 and not g.dialogue.final}
        picture = _Picture(taken)
        for m in self.latest.values():
            if m.id in taken or now - m.t > STALE_TRACK_S:
                continue
            if m.callsign is None:
                picture.anonymous.append(m)
            else:
                picture.by_callsign.setdefault(m.callsign, []).append(m)
            if m.mode3a is not None:
                picture.by_ssr.setdefault(m.mode3a, []).append(m)
        return picture

    def _match(self, f: Flight, now: float, picture: _Picture) -> None:
        """Give the dialogue its track: identification and SSR code, a discrete SSR code
        alone, or position near the COP around the estimated time; a unique one only."""
        free = [m for m in picture.by_callsign.get(f.callsign, []) if m.id not in picture.taken]
        stages: list[tuple[str, list[Fused]]] = [
            ("callsign", [m for m in free if f.ssr is None or m.mode3a == f.ssr]),
            ("ssr", [] if f.ssr is None or f.ssr in NON_DISCRETE else [
                m for m in picture.by_ssr.get(f.ssr, [])
                if m.id not in picture.taken and m.callsign in (None, f.callsign)]),
        ]
        if now >= f.eto - self.p.match_window_s:
            anonymous = [m for m in picture.anonymous if m.id not in picture.taken]
            stages.append(("position", self._near_cop(f, free + anonymous)))
        for how, found in stages:
            if len(found) == 1:
                m = found[0]
                picture.taken.add(m.id)
                f.track_id, f.icao24 = m.id, m.icao24 or f.icao24
                self.engine._changed.add(f.key)
                self.counters[f"accepting-matched-{how}"] += 1
                return
            if len(found) > 1:
                self.counters["accepting-match-ambiguous"] += 1
                return  # never guessed

    def _near_cop(self, f: Flight, live: list[Fused]) -> list[Fused]:
        """The tracks whose straight path passes within ``match_radius_nm`` of the COP
        within ``match_window_s`` of the estimated time (flat earth around the COP:
        tens of kilometres)."""
        cop = next((c for c in self.engine.airspace.cops
                    if c.name == f.cop and c.units == frozenset((f.src, f.dst))), None)
        if cop is None or not live:
            return []
        lat = np.array([m.lat for m in live], dtype=np.float64)
        lon = np.array([m.lon for m in live], dtype=np.float64)
        x = (lon - cop.lon) * M_PER_DEG * math.cos(math.radians(cop.lat))
        y = (lat - cop.lat) * M_PER_DEG
        speed = np.array([(m.gs_kt or 0.0) * KT for m in live])
        trk = np.radians([m.trk_deg or 0.0 for m in live])
        vx, vy = speed * np.sin(trk), speed * np.cos(trk)
        v2 = vx * vx + vy * vy
        tau = np.where(v2 > 0, -(x * vx + y * vy) / np.where(v2 > 0, v2, 1.0), 0.0)
        miss = np.hypot(x + vx * tau, y + vy * tau)
        when = np.array([m.t for m in live]) + tau
        near = (miss <= self.p.match_radius_nm * 1852.0) & (
            np.abs(when - f.eto) <= self.p.match_window_s)
        return [m for m, ok in zip(live, near.tolist(), strict=True) if ok]

    def entered(self, m: Fused, before: str | None, unit: str | None, now: float,
                out: list[Any]) -> None:
        """A track moved from ``before`` to ``unit``: from a peer's unit into ours, a
        cooperative flight needs an accepted coordination, or it is an unannounced entry
        (alerted once per flight)."""
        if (before is None or unit is None or before not in self.p.peers
                or unit not in self.p.units or (m.callsign is None and m.icao24 is None)):
            return
        who = m.callsign or m.icao24 or m.id
        if who in self.announced:
            return
        for key in self.index.values():
            f = self.engine.flights.get(key)
            if (f is not None and f.dst == unit and f.dialogue.state in ACCEPTED
                    and (f.track_id == m.id or (m.callsign is not None
                                                and f.callsign == m.callsign))):
                return
        self.announced[who] = now
        self.counters["unannounced-entry"] += 1
        code = f"A{m.mode3a}" if m.mode3a else f"address {m.icao24}" if m.icao24 else "no code"
        level = f"F{round(m.fl):03d}" if m.fl is not None else "level unknown"
        self.engine._alert(
            "unannounced-entry", before, m.id,
            f"{m.callsign or m.icao24} ({code}) entered {unit} from {before} at {m.lat:.4f} "
            f"{m.lon:.4f} {level} at {_time.strftime('%H:%M:%S', _time.gmtime(m.t))}Z "
            "without an accepted coordination", now, out)

    # -- the clock and the store -----------------------------------------------------------

    def forget(self, now: float, after_s: float) -> list[str]:
        """Open dialogues the peer has left silent for ``after_s`` past their estimated
        time (it never sent TOC or MAC): returned, for the engine to drop.  Tracks not
        seen for ``STALE_TRACK_S`` and old unannounced-entry marks go too."""
        stale = [key for key in self.index.values()
                 if (f := self.engine.flights.get(key)) is not None and not f.dialogue.final
                 and now - max(f.heard_at, f.last_sent, f.eto) > after_s]
        self.counters["accepting-expired"] += len(stale)
        for track_id in [k for k, m in self.latest.items() if now - m.t > STALE_TRACK_S]:
            del self.latest[track_id]
        for who in [k for k, t in self.announced.items() if now - t > after_s]:
            del self.announced[who]
        return stale

    def drop(self, f: Flight) -> None:
        """A forgotten dialogue out of the index."""
        ident = (f.callsign, f.src, f.dst)
        if self.index.get(ident) == f.key:
            del self.index[ident]

    def restore(self) -> None:
        """The index over the restored dialogues: each flight's latest."""
        latest: dict[Ident, Flight] = {}
        for f in self.engine.flights.values():
            if f.dialogue.role is not C2:
                continue
            ident = (f.callsign, f.src, f.dst)
            if ident not in latest or f.heard_at >= latest[ident].heard_at:
                latest[ident] = f
        self.index = {ident: f.key for ident, f in latest.items()}


@dataclass
class _Picture:
    """The tracks an offer may be matched to (``Acceptance._picture``)."""

    taken: set[str]  # tracks of other open dialogues
    by_callsign: dict[str, list[Fused]] = field(default_factory=dict)
    by_ssr: dict[str, list[Fused]] = field(default_factory=dict)
    anonymous: list[Fused] = field(default_factory=list)  # no identification


def _amended(text: AidcText) -> Estimate | None:
    """A CDN's new field 14 (its amendment ``14/...``), None if it has none that parses."""
    for number, content in text.amendments:
        if number == 14:
            m = FIELD14.fullmatch(content)
            if m is not None and int(m[2][:2]) < 24 and int(m[2][2:]) < 60:
                return Estimate(m[1], m[2], m[3])
    return None

