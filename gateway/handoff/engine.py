"""The handoff engine (sans-IO): fused tracks and inbound AIDC in, AIDC and alerts out.

It runs both ends of the dialogue (``dialogue.TRANSITIONS``): the transferring unit (C1)
for flights leaving its ``units``, below, and the accepting unit (C2) for flights entering
them (``accepting.py``): a peer's ABI, EST or CPL is matched to a fused track
(identification and SSR code, SSR code, position near the COP around the estimated time)
and answered ACP, or REJ with the reason when ``policy.py`` says so; its TOC gets AOC, its
CDN ACP (or REJ), its MAC ends the dialogue.  An offer no track matches by its time raises
``coordination-unmatched``, a cooperative flight entering from a peer's unit without an
accepted coordination ``unannounced-entry``.  Those dialogues are keyed by the flight
(identification, the peer's unit, ours), not by a track id, and go through the same
inbound checks as the transferring side's.  The transferring side:

For every confirmed track in one of this gateway's units (``units``) it predicts the next
boundary; a crossing into a peer unit that is predicted ``hysteresis`` updates running
starts a dialogue (one per flight and boundary), and one that is not predicted for as many
updates running ends it with MAC (the flight turned back or stopped being a candidate).
Along the way, by the estimated time over the coordination point (COP):

    ABI at abi_lead_s before it, EST (CPL to a peer without flight plans) at est_lead_s,
    CDN when the level or the time moves away from what was agreed, TOC at toc_lead_s,

and the peer answers ACP/REJ, AOC.  A dialogue goes on with its track's confirmed updates; a
track coasting in a gap of the radars' coverage (fused ``hidden``) is still the flight, and
its dialogue goes on by the clock (its TOC at its estimate); one coasting where the radars
should see it has been lost, and nothing is said on its prediction (``_followed``).
Every message is acknowledged by LAM (the link level,
``dialogue.Link``): a missing LAM is sent again, then raises a ``lam-timeout`` alert.
A flight without identification (no callsign: no flight plan to coordinate) that crosses
between countries raises ``uncoordinated-crossing`` once; one with no transponder at all (a
primary-only target: a drone, a light aircraft) raises it at every crossing, once it has been
seen on the other side for ``crossing_updates`` confirmed updates running.

Inbound, every message is hostile until it passes, in this order (each refusal counted by
its reason; one we can address, on a configured link, answered with LRM):

- who speaks: the MQTT topic's units, the envelope's and the text's field 3 agree, and the
  pair is a configured link (``aidc-refused-topic``, ``aidc-not-ours``, ``aidc-invalid``
  for text that does not parse, ``aidc-refused-units``);
- which message: its identity is (link, sender's session, serial, text digest)
  (``dialogue.Heard``): the same message sent again gets LAM again, once handled;
- which dialogue: a message the transferring unit starts (ABI, EST, CPL; TOC, MAC, CDN
  naming no serial of ours) is the accepting side's dialogue of its flight, or starts one
  (``aidc-refused-offer``, ``aidc-accepting-full`` when it cannot);
  an answer names our serial (field 3's reference), and is taken only if
  that serial is the flight's message it answers, field 7 (callsign, SSR code) is the
  flight's, and the dialogue's state allows it (``aidc-no-dialogue``; ``aidc-mismatch``
  and ``aidc-out-of-turn`` also raise an ``aidc-mismatch`` alert): an ACP for DAL19 never
  coordinates AAL7.

Handling one message is all or nothing: if it raises, ``rollback`` puts the engine back
(the caller refuses the message), and the pipeline calls it too when the store cannot
save what the message changed.  Alerts about floods are rate-limited (``alerts.py``).

The state lives in plain records (``state.py``: a ``Flight`` per dialogue, a ``Track`` per
track, a ``Link`` per pair of units) so that a store (``gateway.store.HandoffStore``, injected by
the service) can persist it after every call: publish only what a call returned *after*
it was stored, and a restart neither repeats nor loses a message (an unacknowledged one
is sent again, same serial).
"""

from __future__ import annotations

import dataclasses
import math
import string
import time as _time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np

from gateway import _airspace
from gateway.handoff.accepting import STARTED_BY_C1, Acceptance
from gateway.handoff.airspace import Airspace, Crossing
from gateway.handoff.alerts import AlertLimiter
from gateway.handoff.dialogue import (
    C1,
    C2,
    LINK_LEVEL,
    Heard,
    Link,
    ProtocolError,
    State,
    new_session,
    pair,
)
from gateway.handoff.parameters import HandoffParameters
from gateway.handoff.state import Flight, Saved, Track
from gateway.handoff.text import AidcSyntaxError, AidcText, Estimate, digest, parse, reference
from gateway.icao.fields import aircraft as fields_aircraft
from gateway.icao.fields import fl_level
from gateway.messages import Aidc, Alert, Coordination, FlightPlan, Fused

UNKNOWN_AERODROME = "ZZZZ"  # ICAO: no location indicator
LEVEL_FPM = 500.0  # below this climb or descent rate a flight is taken as level
AT_LEVEL_FL = 3.0  # this close to its cleared level (300 ft) a flight is at it
STEP_S = 5.0  # time step of the descent prediction
APPROACH_FL = 100.0  # below it a descending flight slows to the approach schedule
FORGET_EVERY_S = 60.0
# what each answer answers: an ACP or REJ the latest proposal, an AOC the latest TOC
ANSWERS = {"ACP": frozenset({"EST", "CPL", "CDN"}), "REJ": frozenset({"EST", "CPL", "CDN"}),
           "AOC": frozenset({"TOC"})}
_FIELD18 = frozenset(string.ascii_uppercase + string.digits + " /.")


def _tas_factor(fl: float) -> float:
    """True airspeed per calibrated airspeed at flight level ``fl``: the rule of thumb,
    2 % per 1,000 ft."""
    return 1.0 + 0.02 * max(fl, 0.0) / 10.0


def _approach_speed(fl: float) -> float:
    """The speed a descending flight slows to by flight level ``fl``: 250 kt below FL100
    (the usual limit below 10,000 ft), down to 150 kt by FL25 on final approach."""
    if fl >= APPROACH_FL:
        return np.inf
    return 150.0 + 100.0 * min(max((fl - 25.0) / 45.0, 0.0), 1.0)


def envelope(text: AidcText, now: float, track_id: str | None = None,
             callsign: str | None = None, session: str | None = None) -> Aidc:
    """The shared-format message (docs/messages.md) around one AIDC text; ``session``: the
    sender's session on the link (``Link.session``)."""
    return Aidc(t=now, msg=text.msg, from_=text.sender, to=text.receiver,  # type: ignore
                serial=text.serial, ref=None if text.ref is None else text.ref[2],
                track_id=track_id, callsign=callsign or text.callsign, text=text.text(),
                session=session)


def utc_text(t: float) -> str:
    try:
        return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(t))
    except (OverflowError, OSError, ValueError):  # a stored clock from no real day
        return f"{t:.0f} s after 1970"


def _hhmm(t: float) -> str:
    return _time.strftime("%H%M", _time.gmtime(t))


def _level(fl: float | None) -> str | None:
    return None if fl is None else f"F{max(0, min(999, round(fl))):03d}"


def _plan_only(plan: FlightPlan) -> FlightPlan:
    """The plan without the coordination state a picture may carry (that is this engine's
    own, or a peer's)."""
    return plan if plan.coordination is None else msgspec.structs.replace(
        plan, coordination=None)


def _remark(reason: str) -> str:
    """Field 18 allows ASCII capitals, digits, space, / and . only (not ``isalnum``: a
    Unicode letter would make an LRM our own parser, and the peer's, refuses)."""
    text = "".join(c if c in _FIELD18 else " " for c in reason.upper())
    return " ".join(text.split())[:200] or "INVALID"


def _aerodromes(f: Flight) -> tuple[str, str]:
    """Fields 13 and 16 of our messages in this dialogue: the plan's departure and
    destination, ZZZZ for what it does not know (or with no plan)."""
    plan = f.plan
    return (plan.dep if plan is not None and plan.dep else UNKNOWN_AERODROME,
            plan.dst if plan is not None and plan.dst else UNKNOWN_AERODROME)


class Handoff:
    def __init__(self, airspace: Airspace, params: HandoffParameters) -> None:
        self.airspace = airspace
        self.p = params
        self.flights: dict[str, Flight] = {}  # by key: every dialogue
        self.tracks: dict[str, Track] = {}  # by track id: every live track
        # Links are named "SENDER/RECEIVER" (``pair``), both ways: every pair of units
        # numbers its messages on its own (PAN AIDC ICD), so MMZT's and MMTY's first
        # messages to KZAB are each 001.
        # link "UNIT/PEER" -> our serials and the messages awaiting their LAM on it
        self.links: dict[str, Link] = {}
        # link "PEER/UNIT" -> what was heard on it: the peer's session and recent serials
        self.seen: dict[str, Heard] = {}
        # (link "UNIT/PEER", our serial) -> flight key: the index over the flights'
        # serials, added to by _send, pruned with the flights (_drop), rebuilt by restore
        self.by_serial: dict[tuple[str, int], str] = {}
        self.counters: Counter[str] = Counter()
        self._forgot_at = -np.inf
        self.clock = -np.inf  # the latest data time seen (stored: it survives a restart)
        self.resume_after = -np.inf  # after a restart: the stored clock
        self.notices: list[str] = []  # one line each, for the caller to log (_resumed)
        self._noticed: set[str] = set()
        # flight keys changed / forgotten since the state was last saved (mark_saved)
        self._changed: set[str] = set()
        self._removed: set[str] = set()
        self.countries = {u.id: u.country for u in airspace.units.values()}
        self.limiter = AlertLimiter()
        self._full: set[str] = set()  # links with every serial awaiting LAM
        self._undo: _Undo | None = None  # how to take back the message being handled
        self.accepting = Acceptance(self)  # the accepting side (C2): accepting.py
        # tracks coasting in a gap of the radars' coverage (fused ``hidden``): their
        # dialogues go on by the clock until the track is updated or ends (not stored: after
        # a restart a hidden track's dialogue waits for its next message)
        self.hidden: set[str] = set()
        # after a takeover (``expect``): the restored dialogues' tracks the new tracker does
        # not have, each with the data time by which an update must come (not stored)
        self.expected: dict[str, float] = {}

    # -- the state a store keeps -------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """Has a dialogue changed (or been forgotten) since the state was last saved."""
        return bool(self._changed or self._removed)

    def unsaved(self) -> Saved:
        """What a store writes now: the dialogues changed or forgotten since the last
        ``mark_saved``, and the link state.  Live objects: write them before the engine's
        next call."""
        return Saved(flights=[self.flights[k] for k in self._changed if k in self.flights],
                     removed=list(self._removed), links=self.links, seen=self.seen,
                     clock=self.clock)

    def mark_saved(self) -> None:
        self._changed.clear()
        self._removed.clear()

    def restore(self, saved: Saved) -> int:
        """Put stored state into this fresh engine; returns how many dialogues.

        Data no newer than the stored clock decides nothing (``resume_after``): a replay
        started again from its beginning must not repeat what was already sent; unless it
        is more than ``clock_margin_s`` behind it (``_resumed``)."""
        self.clock = self.resume_after = saved.clock
        for f in saved.flights:
            self.flights[f.key] = f
            if f.dialogue.role is C1:  # a C2 dialogue goes by its flight, not a track
                self._track(f.track_id, saved.clock).flights.append(f.key)
        self.accepting.restore()
        for key, ours in saved.links.items():
            if "/" in key:
                self.links[key] = ours
            else:  # stored before links were per pair: one link per peer
                self.links.update(self._split(key, ours))
        for key, heard in saved.seen.items():
            # stored before links were told apart: the peer's serials, for each unit
            for link in [key] if "/" in key else [pair(key, unit) for unit in self.p.units]:
                self.seen[link] = heard.copy()
        # in the order they were sent: a serial used again after 999 is the later flight's
        sent = sorted((t, f.link, serial, f.key) for f in self.flights.values()
                      for serial, t in f.serials)
        self.by_serial = {(link, serial): key for _, link, serial, key in sent}
        return len(self.flights)

    def _split(self, peer: str, link: Link) -> dict[str, Link]:
        """A link stored when one sequence served all our units with ``peer``, as one link
        per pair: each pending message goes to the pair its field 3 names, and every pair
        goes on from the old next serial (``Link.number`` skips its pending ones), so no
        serial still awaiting its LAM is given again on its pair."""
        links = {pair(unit, peer): Link(link.lam_timeout_s, link.max_tries, link.next_serial,
                                        session=link.session) for unit in self.p.units}
        unsendable = []
        for serial, pending in link.pending.items():
            try:
                sender = parse(pending.text).sender
            except AidcSyntaxError:
                sender = None
            target = links.get(pair(sender, peer)) if sender else None
            if target is None:  # not ours to send again: said, not kept
                unsendable.append(f"{serial:03d}")
            else:
                target.pending[serial] = pending
        if unsendable:
            self.counters["handoff-restore-unsendable"] += len(unsendable)
            self._notice(f"split-{peer}", f"stored messages to {peer} awaiting LAM whose field "
                         f"3 names no unit of ours are not sent again: {' '.join(unsendable)}")
        return links

    def _resumed(self, now: float) -> bool:
        """May data at ``now`` decide, after a restart?  Not while it is no newer than the
        stored clock (what the dialogues had seen before: a replay started again from its
        beginning would repeat messages), unless it is more than ``clock_margin_s`` behind
        it: the stored clock is then wrong, or the data another day's, and waiting for
        the data to catch up would silence the handoff for that long; the data's time
        wins from there on.  Each case is one notice, once."""
        if now > self.resume_after:
            return True
        behind = self.resume_after - now
        stored = utc_text(self.resume_after)
        if behind <= self.p.clock_margin_s:
            self._notice("behind", f"data at {utc_text(now)} is {behind:.0f} s behind the stored "
                         f"clock ({stored}): it decides nothing until it passes it (a replay "
                         "started again after a restart); the stored clock wins up to "
                         f"clock_margin_s ({self.p.clock_margin_s:g} s)")
            return False
        self._notice("reset", f"data at {utc_text(now)} is {behind:.0f} s behind the stored clock "
                     f"({stored}), more than clock_margin_s ({self.p.clock_margin_s:g} s): "
                     "the stored clock is taken for wrong (or the data for another day's); "
                     "the data's time wins from now on")
        self.counters["handoff-clock-reset"] += 1
        self.resume_after = -np.inf
        self.clock = now
        return True

    def _notice(self, key: str, text: str) -> None:
        if key not in self._noticed:
            self._noticed.add(key)
            self.notices.append(text)

    def _track(self, track_id: str, now: float) -> Track:
        """The record of this track, made at its first update; ``now`` it was seen."""
        track = self.tracks.get(track_id)
        if track is None:
            track = self.tracks[track_id] = Track(now)
        else:
            track.seen_at = max(track.seen_at, now)
        return track

    def _drop(self, f: Flight) -> None:
        """A forgotten flight out of the indexes (serials used again since are not its)."""
        track = self.tracks.get(f.track_id)
        if track is not None and f.key in track.flights:
            track.flights.remove(f.key)
        for serial, _ in f.serials:
            if self.by_serial.get((f.link, serial)) == f.key:
                del self.by_serial[(f.link, serial)]
        if f.dialogue.role is C2:
            self.accepting.drop(f)

    # -- links ------------------------------------------------------------------------------

    def link(self, me: str, peer: str, now: float) -> Link:
        """Our link from unit ``me`` to ``peer``, started at ``now`` if there is none yet."""
        key = pair(me, peer)
        if key not in self.links:
            self.links[key] = Link(self.p.lam_timeout_s, self.p.lam_tries,
                                   session=new_session(now))
        return self.links[key]

    def _number(self, me: str, peer: str, now: float, out: list[Any]) -> int | None:
        """The next serial on the link from ``me`` to ``peer``; None when every one of them
        still awaits its LAM: the message is not sent (counted, and alerted once until one
        is free)."""
        key = pair(me, peer)
        serial = self.link(me, peer, now).number()
        if serial is not None:
            self._full.discard(key)
            return serial
        self.counters["aidc-link-full"] += 1
        if key not in self._full:
            self._full.add(key)
            self._alert("link-full", peer, None, f"every serial from {me} to {peer} awaits "
                        "its LAM: nothing more is sent on it until one is acknowledged",
                        now, out)
        return None

    def _alert(self, type_: str, peer: str, track_id: str | None, text: str, now: float,
               out: list[Any]) -> None:
        """An alert about a peer, through the flood limiter."""
        if self.limiter.admit(type_, peer, now, out):
            out.append(Alert(t=now, type=type_, track_id=track_id, text=text))
        else:
            self.counters["alerts-suppressed"] += 1

    def _send(self, flight: Flight | None, text: AidcText, now: float,
              out: list[Any]) -> None:
        link = self.link(text.sender, text.receiver, now)
        message = envelope(text, now, flight.track_id or None if flight else None,
                           flight.callsign if flight else None, session=link.session or None)
        if text.msg not in LINK_LEVEL:
            link.sent(text.serial, message.text, now)
        if flight is not None:
            if self._undo is not None:
                self._undo.serial(self.by_serial, (flight.link, text.serial))
            self.by_serial[(flight.link, text.serial)] = flight.key
            flight.last_sent = now
            flight.sent.append(text.msg)
            flight.serials.append((text.serial, now))
            self._changed.add(flight.key)
        self.counters[f"aidc-sent-{text.msg}"] += 1
        out.append(message)

    def _dialogue_message(self, f: Flight, msg: str, now: float, out: list[Any],
                          amendment: tuple[tuple[int, str], ...] = ()) -> bool:
        """Send ``msg`` in this dialogue; False if the link has no free serial (the
        dialogue stays as it was, and the timeline asks again)."""
        serial = self._number(f.src, f.dst, now, out)
        if serial is None:
            return False
        f.dialogue.send(msg)
        self._send(f, self._outbound(f, msg, serial, amendment), now, out)
        return True

    def _outbound(self, f: Flight, msg: str, serial: int,
                  amendment: tuple[tuple[int, str], ...] = ()) -> AidcText:
        """The text of our message ``msg`` in this dialogue, from the flight's plan: field 7
        the identification and SSR code, 13 and 16 the aerodromes, 14 (ABI, EST, CPL) the
        estimate with the cleared level; an ABI adds the aircraft (field 9) as an
        amendment, a CPL carries the whole plan.  What the plan does not know, or with no
        plan at all, is ZZZZ (``text.AidcText``)."""
        plan = f.plan
        dep, dst = _aerodromes(f)
        estimate = self._estimate(f) if msg in ("ABI", "EST", "CPL") else None
        if msg == "ABI" and plan is not None and plan.type is not None:
            amendment = ((9, fields_aircraft(plan.number, plan.type, plan.wtc)), *amendment)
        if msg != "CPL" or plan is None:
            return AidcText(msg, f.src, f.dst, serial, callsign=f.callsign, ssr=f.ssr,
                            dep=dep, estimate=estimate, dst=dst, amendments=amendment)
        return AidcText(msg, f.src, f.dst, serial, callsign=f.callsign, ssr=f.ssr,
                        dep=dep, dep_time=plan.eobt, estimate=estimate, dst=dst,
                        amendments=amendment, rules=plan.rules, number=plan.number,
                        actype=plan.type, wtc=plan.wtc, equipment=plan.equipment,
                        route=plan.route, eet=plan.eet, alternates=plan.alternates,
                        other=plan.other)

    def _estimate(self, f: Flight) -> Estimate:
        """Field 14: over the COP at the estimated time, at the cleared level (the plan's;
        without one, the level the flight is at), and, when the flight will still be
        climbing or descending there, the level it will cross at: at or above it (A,
        rounded down to ten flight levels) when climbing, at or below (B, rounded up)
        when descending: ``ELP/1423F350F310A``."""
        level = self._field14_level(f)
        cross, condition = None, None
        if f.plan is not None and f.plan.cfl is not None and f.cross_fl is not None:
            up = f.cross_fl > 0  # the sign carries the direction (_crossing_fl)
            at = abs(f.cross_fl)
            rounded = 10.0 * (math.floor if up else math.ceil)(at / 10.0)
            if round(rounded) != round(f.plan.cfl):
                cross, condition = fl_level(rounded), "A" if up else "B"
        return Estimate(f.cop, _hhmm(f.eto), fl_level(level), cross, condition)

    @staticmethod
    def _field14_level(f: Flight) -> float | None:
        """The level field 14 coordinates: the plan's cleared level, else (no plan, or no
        cleared level in it) the level the flight was at when last level."""
        if f.plan is not None and f.plan.cfl is not None:
            return f.plan.cfl
        return f.fl

    @staticmethod
    def _crossing_fl(m: Fused, cfl: float | None, to_go: float) -> float | None:
        """The level a flight will be at over the COP ``to_go`` seconds ahead, at its
        present rate, never past ``cfl`` when it is heading for it; None when it will be
        at its cleared level there (or either level is unknown).  Signed with the way it
        will be going, as field 14's condition says it: positive for a flight climbing (or
        level below its cleared level: at or above), negative for one descending (or level
        above it: at or below)."""
        if cfl is None or m.fl is None:
            return None
        fl, up = m.fl, m.fl < cfl
        if m.roc_fpm is not None and abs(m.roc_fpm) >= LEVEL_FPM:
            up = m.roc_fpm > 0
            fl = max(fl + m.roc_fpm / 6000.0 * max(to_go, 0.0), 0.0)
            if up == (m.fl < cfl):  # heading for its cleared level: it stops there
                fl = min(fl, cfl) if up else max(fl, cfl)
        if abs(fl - cfl) < AT_LEVEL_FL:
            return None
        return max(fl, 1e-3) if up else -fl

    def coordination(self, track_id: str) -> Coordination | None:
        """The latest border dialogue of this fused track as this engine sees it (for the
        track's ``fpl.coordination`` in the picture); None: the track has none."""
        track = self.tracks.get(track_id)
        if track is None:
            return None
        for key in reversed(track.flights):
            f = self.flights.get(key)
            if f is None:
                continue
            level = f.agreed_level if f.agreed_level is not None else self._field14_level(f)
            return Coordination(
                state=f.dialogue.state.value, from_=f.src, to=f.dst,
                cop=f.cop, eto=f.agreed_eto if f.agreed_eto is not None else f.eto,
                level=level)
        return None

    # -- fused tracks in ----------------------------------------------------------------------

    def update(self, fused: Sequence[Fused], now: float) -> list[Any]:
        """One association cycle's fused updates; what to publish (aidc, alerts)."""
        out: list[Any] = []
        self._undo = None  # only the last inbound message can be taken back
        if not self._resumed(now):
            self.counters["handoff-stale-data"] += len(fused)
            return out
        self.clock = max(self.clock, now)
        live = []
        latest = self.accepting.latest  # ``Acceptance.observe``'s, in the same loop
        for m in fused:
            if m.state == "ended":
                self._lost(m.id, now, out)
                latest.pop(m.id, None)
            elif m.lat is not None and m.lon is not None:
                live.append(m)
                latest[m.id] = m
        if self.expected:
            self._overdue(fused, now, out)
        self.accepting.update(now, out)
        if not live:
            if self.hidden:
                self._advance_hidden(set(), now, out)
            return out
        codes, units = self.airspace.units_at(live)
        due: list[tuple[Fused, Track]] = []
        asked: list[int] = []  # the rows of ``live`` predicted (``_candidate`` below)
        # the rows whose dialogues go on (``_followed``) and whose track has one: the last
        # loop below walks only these (and the rows of tracks ``_candidate`` may give one),
        # not every fused update; most tracks have no dialogue
        follow: list[int] = []
        # this loop sees every fused update of every cycle: ``_track``, ``_observe``'s
        # and ``_followed``'s common cases are written out here, the same steps in the same
        # order (a track staying in its unit with a transponder, as most do, changes
        # nothing but its time); ``hidden`` is read by nothing before the last loop, so
        # ``_followed``'s bookkeeping is done here, in the same order of rows
        tracks, ours, every = self.tracks, self.p.units, self.p.predict_every_s
        hidden = self.hidden
        for i, (m, unit) in enumerate(zip(live, units, strict=True)):
            track = tracks.get(m.id)
            if track is None:
                track = tracks[m.id] = Track(now)
            elif now > track.seen_at:
                track.seen_at = now  # max(seen_at, now)
            before = track.unit
            if unit is not None and (unit != before or (m.mode3a is None
                                                        and m.icao24 is None)):
                self._observe(m, track, unit, now, out)
            if before != unit:
                self.accepting.entered(m, before, unit, now, out)
            state = m.state
            if (state == "confirmed" and unit in ours and m.gs_kt
                    and m.trk_deg is not None and now - track.predicted_at >= every):
                due.append((m, track))
                if m.callsign is not None:
                    asked.append(i)
            if state == "coasting" and m.hidden:  # _followed
                hidden.add(m.id)
            else:
                if hidden:
                    hidden.discard(m.id)
                if state != "confirmed":
                    continue
            if track.flights:
                follow.append(i)
        if due:
            # predicted are the tracks with an identification, and only their crossings into
            # a peer's unit: ``_candidate`` makes of any other crossing, and of any for a
            # track without one (nothing to coordinate), the same as of none; where each
            # is was located above
            crossings = iter(self.airspace.crossings_of(
                live, asked, self.p.abi_lead_s + 120.0, into=self.p.peers, here=codes))
            gained: set[str] = set()  # tracks ``_candidate`` may give a dialogue
            for m, track in due:
                track.predicted_at = now
                c = next(crossings) if m.callsign is not None else None
                if c is None and not track.flights:  # ``_candidate``'s common case
                    track.heading_for, track.hits = "", 0
                else:
                    self._candidate(m, track, c, now, out)
                    gained.add(m.id)
            if gained:  # only _candidate gives a track a dialogue (a new one, _adopt)
                follow = sorted({*follow, *(i for i, m in enumerate(live) if m.id in gained)})
        for i in follow:
            m = live[i]
            if m.state != "confirmed" and not (m.state == "coasting" and m.hidden):
                continue  # (a row of ``gained``) whose dialogues do not go on
            track = tracks.get(m.id)
            if track is None or not track.flights:  # no dialogue (_flights_of)
                continue
            for f in self._flights_of(m):
                if not f.dialogue.final:
                    self._advance(f, now, out, crossed=units[i] == f.dst)
        if hidden:
            self._advance_hidden({m.id for m in live}, now, out)
        return out

    def _followed(self, m: Fused) -> bool:
        """Do this track's dialogues go on with this message?  A confirmed track's do; so do
        those of a track coasting in a gap of the radars' coverage (``hidden``: no radar can
        see where it is predicted, it is still the flight, as an SDPS keeps a flight
        through a cone of silence), from now on by the clock (``_advance_hidden``).  A
        track coasting where the radars should see it has been lost: nothing is said on
        its prediction (no TOC for a flight that may have landed or gone), its dialogue
        waits for its next update, or ends in MAC when the track ends."""
        if m.state == "coasting" and m.hidden:
            self.hidden.add(m.id)
            return True
        self.hidden.discard(m.id)
        return m.state == "confirmed"

    def _advance_hidden(self, updated: set[str], now: float, out: list[Any]) -> None:
        """The dialogues of the tracks held hidden, not updated in this call, on the clock:
        the estimate over the COP made while the track was seen stands (the flight flies
        on through the gap), so the TOC goes at its time."""
        for track_id in sorted(self.hidden - updated):
            track = self.tracks.get(track_id)
            if track is None:
                self.hidden.discard(track_id)
                continue
            for key in track.flights:
                f = self.flights.get(key)
                if f is not None and not f.dialogue.final:
                    self._advance(f, now, out, crossed=False)

    def _flights_of(self, m: Fused) -> list[Flight]:
        """The dialogues of this track.  A track id can come back after a restart for
        another aircraft (ids start again at 1): a dialogue whose callsign is not this
        track's is not its own, and is let go (it may be adopted by its flight's new
        track, see ``_adopt``)."""
        track = self.tracks.get(m.id)
        if track is None or not track.flights:
            return []
        mine = [self.flights[k] for k in track.flights if self.flights[k].callsign == m.callsign
                or m.callsign is None]
        if len(mine) < len(track.flights):
            track.flights = [f.key for f in mine]
        return mine

    def _adopt(self, m: Fused, track: Track, dst: str) -> Flight | None:
        """After a restart the flights come back under new track ids: an open dialogue
        with the same aircraft identification and boundary is this track's."""
        for f in self.flights.values():
            if f.callsign == m.callsign and f.dst == dst and f.track_id != m.id \
                    and not f.dialogue.final:
                before = self.tracks.get(f.track_id)
                if before is not None and f.key in before.flights:
                    before.flights.remove(f.key)
                f.track_id = m.id
                track.flights.append(f.key)
                self._changed.add(f.key)
                self.counters["dialogue-adopted"] += 1
                return f
        return None

    def _observe(self, m: Fused, track: Track, unit: str | None, now: float,
                 out: list[Any]) -> None:
        """Where the track is: an actual crossing between countries of a flight nobody can
        coordinate is an alert."""
        before = track.unit
        if unit is None:
            return
        track.unit = unit
        if m.mode3a is None and m.icao24 is None:
            self._dark_crossing(m, track, unit, now, out)
            return
        if before is None or before == unit or self.countries[before] == self.countries[unit]:
            return
        if (m.callsign is None or (m.mode3a is None and m.icao24 is None)) \
                and not track.alerted:
            track.alerted = True
            what = "no transponder" if m.mode3a is None and m.icao24 is None else (
                f"Mode-3/A {m.mode3a}" if m.mode3a else f"address {m.icao24}")
            out.append(Alert(t=now, type="uncoordinated-crossing", track_id=m.id,
                             text=f"{m.id} ({what}, no flight plan) crossed from {before} into "
                             f"{unit} at {m.lat:.4f} {m.lon:.4f} {_level(m.fl) or 'level unknown'}"
                             f" at {_time.strftime('%H:%M:%S', _time.gmtime(m.t))}Z"))
            self.counters["uncoordinated-crossing"] += 1

    def _dark_crossing(self, m: Fused, track: Track, unit: str, now: float,
                       out: list[Any]) -> None:
        """A track with no transponder: each crossing between countries is an alert, once
        its confirmed updates have been in the new country ``crossing_updates`` times
        running (a track jittering along the border is one crossing, or none)."""
        if m.state != "confirmed" or getattr(m, "extrapolated", False):
            return  # a coasting track's position, or an extrapolated one, is a prediction
        if track.settled is None:
            track.settled = unit
            return
        country = self.countries[unit]
        if country == self.countries[track.settled]:
            track.entering, track.entering_n = None, 0
            return
        if track.entering is None or self.countries[track.entering] != country:
            track.entering, track.entering_n = unit, 0
        track.entering_n += 1
        if track.entering_n < self.p.crossing_updates:
            return
        before, track.settled = track.settled, unit
        track.entering, track.entering_n = None, 0
        out.append(Alert(t=now, type="uncoordinated-crossing", track_id=m.id,
                         text=f"{m.id} (no transponder, no flight plan) crossed from {before} "
                         f"into {unit} at {m.lat:.4f} {m.lon:.4f} "
                         f"{_level(m.fl) or 'level unknown'}"
                         f" at {_time.strftime('%H:%M:%S', _time.gmtime(m.t))}Z"))
        self.counters["uncoordinated-crossing"] += 1

    def _candidate(self, m: Fused, track: Track, c: Crossing | None, now: float,
                   out: list[Any]) -> None:
        """A new prediction for a track in one of our units: count it towards starting a
        dialogue, or against the dialogues it no longer supports."""
        ours = (c is not None and c.src in self.p.units and c.dst in self.p.peers
                and c.cop is not None and m.callsign is not None)
        dst = c.dst if ours and c is not None else None
        for open_ in self._flights_of(m):
            if open_.dialogue.final or open_.dialogue.state is State.TRANSFERRING:
                continue
            if open_.dst == dst:
                open_.misses, open_.last_hit = 0, now
                continue
            open_.misses += 1
            self._changed.add(open_.key)
            if (open_.misses >= self.p.hysteresis
                    and now - open_.last_hit >= self.p.cancel_after_s):
                self._cancel(open_, now, out)
        if dst is None or c is None or c.cop is None or m.callsign is None:
            track.heading_for, track.hits = "", 0
            return
        track.hits = track.hits + 1 if track.heading_for == dst else 1
        track.heading_for = dst
        mine = self._flights_of(m)
        f = next((g for g in mine if g.dst == dst and not g.dialogue.final), None)
        if f is None:
            f = self._adopt(m, track, dst)
        if f is None:
            if track.hits < self.p.hysteresis or any(
                    g.dst == dst and g.dialogue.state in (
                        State.TRANSFERRED, State.REJECTED, State.TRANSFERRING) for g in mine):
                return  # not yet; or this boundary is done with for this flight
            key = f"{m.callsign}>{dst}@{now:.3f}"
            f = self.flights[key] = Flight(key, m.id, c.src, dst, m.callsign, m.mode3a,
                                           c.cop.name, now + c.seconds, m.fl, last_hit=now)
            track.flights.append(key)
            self.counters["dialogues"] += 1
        key = f.key
        f.eto, f.cop = now + self._time_to(m, c.seconds * m.gs_kt, now), c.cop.name  # type: ignore[operator]
        if m.roc_fpm is None or abs(m.roc_fpm) < LEVEL_FPM:
            f.fl = m.fl  # the level it will cross at: its level once it is level
        if m.fpl is not None:  # the latest plan stands (a track's plan can be lost)
            f.plan = _plan_only(m.fpl)
        f.callsign, f.ssr = m.callsign, m.mode3a or (f.plan.ssr if f.plan else None)
        f.cross_fl = self._crossing_fl(m, f.plan.cfl if f.plan else None, f.eto - now)
        self._changed.add(key)

    def _time_to(self, m: Fused, distance_kt_s: float, now: float) -> float:
        """Seconds to fly ``distance`` (in knot-seconds) along the predicted path.

        At constant speed a descending flight would be estimated a minute early over a few
        hundred seconds: flown at constant calibrated airspeed, its true airspeed falls about
        2 % per 1,000 ft as it gets lower, and on approach it slows further.  So a climbing
        or descending flight is flown forward in time, its level following its vertical
        rate, its speed scaled by that rule and capped by the approach schedule (250 kt
        below FL100, falling to 150 kt at FL25); a level flight keeps its speed."""
        v = float(m.gs_kt)  # type: ignore[arg-type]
        if m.roc_fpm is None or m.fl is None or abs(m.roc_fpm) < LEVEL_FPM:
            return distance_kt_s / v
        # the loop below, in C (ext/airspace.pyx), to the bit: it runs for every climbing
        # or descending flight near a boundary, every prediction, up to 1,440 steps
        return _airspace.time_to(v, float(m.fl), float(m.roc_fpm), distance_kt_s)

    @staticmethod
    def _time_to_python(v: float, fl: float, roc_fpm: float, distance_kt_s: float) -> float:
        """``_time_to``'s climb or descent as it was in Python: the reference that
        tests/test_handoff_time_to.py holds the kernel (``_airspace.time_to``) to."""
        # what does not change along the path, worked out once (the same arithmetic, so
        # the same figures)
        tas0 = _tas_factor(fl)
        climb = roc_fpm / 100 / 60 * STEP_S  # flight levels per step
        descending = roc_fpm < 0
        t, left = 0.0, distance_kt_s
        while t < 7200:
            speed = v * _tas_factor(fl) / tas0
            if descending and fl < APPROACH_FL:
                speed = min(speed, _approach_speed(fl))
            step = speed * STEP_S
            if left <= step:
                return t + left / speed
            left -= step
            t += STEP_S
            fl = max(fl + climb, 0.0)
        return t

    def _advance(self, f: Flight, now: float, out: list[Any], crossed: bool) -> None:
        """What the timeline asks of this dialogue now."""
        state, to_go = f.dialogue.state, f.eto - now
        if state is State.IDLE and self.p.est_lead_s < to_go <= self.p.abi_lead_s:
            self._dialogue_message(f, "ABI", now, out)
        elif state in (State.IDLE, State.NOTIFIED) and to_go <= self.p.est_lead_s:
            if self._dialogue_message(f, "CPL" if f.dst in self.p.cpl_to else "EST", now, out):
                f.agreed_eto, f.agreed_fl = f.eto, f.fl
                f.agreed_level = self._field14_level(f)
        elif state is State.COORDINATED and (crossed or to_go <= self.p.toc_lead_s):
            self._dialogue_message(f, "TOC", now, out)
        elif (state is State.COORDINATED and now - f.last_sent >= self.p.cdn_interval_s
              and self._moved(f)):
            amended = self._estimate(f).text()
            if self._dialogue_message(f, "CDN", now, out, ((14, amended),)):
                f.agreed_eto, f.agreed_fl = f.eto, f.fl
                f.agreed_level = self._field14_level(f)

    def _moved(self, f: Flight) -> bool:
        """Has what was coordinated changed: the level field 14 coordinates (a new cleared
        level in the plan, any change; without a plan, the level the flight keeps, by
        ``cdn_level_fl``), or the time over the COP (by ``cdn_time_s``)?"""
        now = self._field14_level(f)
        if f.plan is not None and f.plan.cfl is not None:
            # (a dialogue stored before levels were kept so has none: it compares nothing)
            level = f.agreed_level is not None and round(f.plan.cfl) != round(f.agreed_level)
        else:
            agreed = f.agreed_level if f.agreed_level is not None else f.agreed_fl
            level = (now is not None and agreed is not None
                     and abs(now - agreed) >= self.p.cdn_level_fl)
        late = f.agreed_eto is not None and abs(f.eto - f.agreed_eto) > self.p.cdn_time_s
        return level or late

    def _cancel(self, f: Flight, now: float, out: list[Any]) -> None:
        if f.dialogue.state is State.IDLE:
            f.dialogue.state = State.CANCELLED  # nothing was said: nothing to take back
        elif "MAC" in f.dialogue.allowed(C1):
            self._dialogue_message(f, "MAC", now, out)
        self._changed.add(f.key)

    def show(self, fused: Sequence[Fused], now: float) -> None:
        """The whole picture, once, without deciding anything: a restored engine taking
        over (a redundant pair) knows every live track before its first update, which
        holds only one association cycle's part of the sky.  Without it the accepted
        dialogues whose tracks were not in that cycle were matched again against it, and
        those past their time raised ``coordination-unmatched`` though they had a track."""
        self.accepting.observe(fused, now)

    def expect(self, live: set[str], now: float, within_s: float) -> int:
        """After a takeover: the restored dialogues whose track is none of the ``live`` ids
        of the tracker taking over (the old active one's track had ended, or coasted out
        where the new one never saw it) end as at the track's end (MAC) unless an update
        of it comes within ``within_s`` of data time (a track not yet confirmed gets its
        old id back when it is).  Without it they would wait for a track that never comes.
        Returns how many tracks are awaited."""
        for track_id, track in self.tracks.items():
            if track_id not in live and any(not self.flights[k].dialogue.final
                                            for k in track.flights):
                self.expected[track_id] = now + within_s
        return len(self.expected)

    def _overdue(self, fused: Sequence[Fused], now: float, out: list[Any]) -> None:
        for m in fused:
            self.expected.pop(m.id, None)
        for track_id, due in list(self.expected.items()):
            if now >= due:
                del self.expected[track_id]
                self.counters["takeover-track-lost"] += 1
                self._lost(track_id, now, out)

    def _lost(self, track_id: str, now: float, out: list[Any]) -> None:
        """The track ended: its dialogues that have not reached the transfer end in MAC,
        and its record goes (its id may come back, for another aircraft)."""
        self.hidden.discard(track_id)
        track = self.tracks.pop(track_id, None)
        if track is None:
            return
        for key in track.flights:
            f = self.flights[key]
            if not f.dialogue.final and f.dialogue.state is not State.TRANSFERRING:
                self._cancel(f, now, out)

    # -- AIDC in -----------------------------------------------------------------------------

    def receive(self, message: Aidc, now: float,
                via: tuple[str, str] | None = None) -> list[Any]:
        """One inbound message from a peer (its envelope already validated); ``via``: the
        (from, to) units its MQTT topic names (None: not known, as in tests and replays).

        All or nothing: if handling it raises, the engine is put back as it was
        (``rollback``) and the exception goes to the caller."""
        self._undo = _Undo(self, pair(message.to, message.from_),
                           pair(message.from_, message.to))
        try:
            return self._receive(message, now, via)
        except BaseException:
            self.rollback()
            raise

    def rollback(self) -> None:
        """Take back what handling the last inbound message changed (it raised, or the store
        could not save it): the message is not recorded as seen, its dialogue, serials and
        link are as before.  Counters keep what happened."""
        if self._undo is not None:
            self._undo.apply(self)
            self._undo = None

    def refuse(self, message: Aidc, reason: str, now: float) -> list[Any]:
        """LRM for an inbound message that could not be handled, if its sender is a
        configured link (else nothing: no one to address)."""
        out: list[Any] = []
        if message.from_ in self.p.peers and message.to in self.p.units:
            self._refuse(message.from_, message.to, message.serial % 1000, reason, now, out)
        return out

    def _receive(self, message: Aidc, now: float, via: tuple[str, str] | None) -> list[Any]:
        out: list[Any] = self.limiter.due(now) if self.limiter.windows else []
        peer, me = message.from_, message.to
        link_ok = peer in self.p.peers and me in self.p.units
        if via is not None and via != (peer, me):
            self.counters["aidc-refused-topic"] += 1
            if link_ok:
                self._refuse(peer, me, message.serial % 1000,
                             "TOPIC UNITS DIFFER FROM THE ENVELOPE", now, out)
            return out
        if not link_ok:
            self.counters["aidc-not-ours"] += 1
            return out
        try:
            text = parse(message.text)
        except AidcSyntaxError as exc:
            self.counters["aidc-invalid"] += 1
            self._refuse(peer, me, message.serial % 1000, str(exc), now, out)
            return out
        if (text.sender, text.receiver) != (peer, me):
            self.counters["aidc-refused-units"] += 1
            self._refuse(peer, me, text.serial, "FIELD 3 UNITS DIFFER FROM THE ENVELOPE", now,
                         out)
            return out
        self.counters[f"aidc-received-{text.msg}"] += 1
        identity = digest(text)
        heard = self.seen.get(pair(peer, me))
        if heard is None:
            heard = self.seen[pair(peer, me)] = Heard()
        if heard.heard(message.session, text.serial, identity):
            self.counters["aidc-peer-restart"] += 1
        if text.msg in LINK_LEVEL:
            self._link_level(peer, me, text, now, out)
            return out
        if heard.duplicate(text.serial, identity):  # sent again: it did not get our LAM
            self._ack(peer, me, text.serial, now, out)
            self.counters["aidc-duplicate"] += 1
            return out
        if self._handle(peer, me, text, now, out, overtaken=heard.behind(text.serial)):
            heard.record(text.serial, identity)  # only what was handled: LRM records nothing
        return out

    def _link_level(self, peer: str, me: str, text: AidcText, now: float,
                    out: list[Any]) -> None:
        """LAM or LRM for one of our messages: it is no longer awaited.  Never answered (an
        LRM for a LAM would start a loop): a LAM for nothing awaited is only counted."""
        assert text.ref is not None  # parse() requires it of LAM and LRM
        ours = text.ref[:2] == (me, peer)
        pending = self.link(me, peer, now).acknowledged(text.ref[2]) if ours else None
        if text.msg == "LRM":
            self._alert("lrm-received", peer, None, f"{peer} refused our message "
                        f"{reference(text.ref)}: {text.remark}", now, out)
        elif pending is None:
            self.counters["lam-unexpected"] += 1

    def _handle(self, peer: str, me: str, text: AidcText, now: float, out: list[Any], *,
                overtaken: bool = False) -> bool:
        """A peer's answer (or proposal) in one of our dialogues: True if handled (LAM), False
        if refused (LRM, with the reason).  ``overtaken``: the peer sent it before a message
        we have handled already; if its dialogue has moved past it, it is acknowledged and
        left (``aidc-overtaken``), not refused: an ABI lost while a redundant pair took over
        came again for want of a LAM after the flight's EST, and an LRM would tell the peer
        the coordination it has was refused."""
        key = (self.by_serial.get((pair(me, peer), text.ref[2]))
               if text.ref is not None and text.ref[:2] == (me, peer) else None)
        flight = self.flights.get(key) if key else None
        if flight is None and text.msg in STARTED_BY_C1:  # the peer transfers: we accept
            found = self.accepting.dialogue(peer, me, text, now)
            if isinstance(found, str):
                self._refuse(peer, me, text.serial, found, now, out)
                return False
            flight = found
        if flight is None:
            self.counters["aidc-no-dialogue"] += 1
            self._refuse(peer, me, text.serial, "NO DIALOGUE FOR THIS REFERENCE", now, out)
            return False
        reason = self._mismatch(flight, text)
        if reason is None:
            if self._undo is not None:
                self._undo.flight(flight)
            try:
                flight.dialogue.receive(text.msg)
            except ProtocolError as exc:
                if overtaken:
                    self.counters["aidc-overtaken"] += 1
                    self._ack(peer, me, text.serial, now, out)
                    return True
                self.counters["aidc-out-of-turn"] += 1
                reason = str(exc)
        else:
            self.counters["aidc-mismatch"] += 1
        if reason is not None:
            about = reference(text.ref) if text.ref is not None else "its dialogue"
            self._alert("aidc-mismatch", peer, flight.track_id or None,
                        f"{peer} {text.msg} {reference((peer, me, text.serial))} for "
                        f"{about} ({flight.callsign}) refused: {reason}", now, out)
            self._refuse(peer, me, text.serial, reason, now, out)
            return False
        self._ack(peer, me, text.serial, now, out)
        self._changed.add(flight.key)
        if flight.dialogue.role is C2:
            self.accepting.handled(flight, text, now, out)
            return True
        if text.msg == "ACP" and flight.dialogue.state is State.COORDINATED:
            flight.agreed_eto, flight.agreed_fl = flight.eto, flight.fl
        elif text.msg == "CDN":  # the peer proposes other conditions: accept them
            serial = self._number(me, peer, now, out)
            if serial is not None:
                dep, dst = _aerodromes(flight)
                reply = AidcText("ACP", flight.src, peer, serial,
                                 ref=(peer, flight.src, text.serial), callsign=flight.callsign,
                                 ssr=flight.ssr, dep=dep, dst=dst)
                flight.dialogue.send("ACP")
                self._send(flight, reply, now, out)
        elif text.msg == "REJ" and flight.dialogue.state is State.REJECTED:
            out.append(Alert(t=now, type="coordination-rejected", track_id=flight.track_id,
                             text=f"{peer} rejected {flight.callsign} at {flight.cop}"
                             + (f" ({text.remark})" if text.remark else "")
                             + ": coordinate by voice"))
        return True

    def _mismatch(self, flight: Flight, text: AidcText) -> str | None:
        """Why this answer is not this flight's (None: it is): field 7, and the message
        its reference names must be the one it answers."""
        if text.callsign != flight.callsign:
            return f"FIELD 7 {text.callsign} IS NOT {flight.callsign}"
        # an answer to our proposal carries the code we gave; the transferring unit's own
        # messages (our accepting side) may carry a new one: the flight changed code
        # between its offer and its TOC, and the dialogue takes it (accepting.handled)
        if (flight.dialogue.role is C1 and text.ssr is not None and flight.ssr is not None
                and text.ssr != flight.ssr):
            return f"SSR CODE {text.ssr} IS NOT {flight.ssr}"
        answers = ANSWERS.get(text.msg)
        if answers is None or text.ref is None:
            return None
        serial = text.ref[2]
        # the flight's messages and their serials, in the order sent (lists kept in step
        # by _send; a flight stored before the serials were kept may have fewer serials)
        if len(flight.sent) != len(flight.serials):
            return None
        latest = next((i for i in range(len(flight.sent) - 1, -1, -1)
                       if flight.sent[i] in answers), None)
        if latest is None or flight.serials[latest][0] != serial:
            return f"{text.msg} DOES NOT ANSWER THE LATEST {'/'.join(sorted(answers))}"
        return None

    def _ack(self, peer: str, me: str, serial: int, now: float, out: list[Any]) -> None:
        number = self._number(me, peer, now, out)
        if number is not None:
            self._send(None, AidcText("LAM", me, peer, number, ref=(peer, me, serial)), now, out)

    def _refuse(self, peer: str, me: str, serial: int, reason: str, now: float,
                out: list[Any]) -> None:
        number = self._number(me, peer, now, out)
        if number is not None:
            self._send(None, AidcText("LRM", me, peer, number, ref=(peer, me, serial),
                                      remark=_remark(reason)), now, out)

    # -- the clock ---------------------------------------------------------------------------

    def forget(self, now: float, after_s: float = 3600.0) -> None:
        """Ended dialogues are kept an hour (late answers still find them), then dropped:
        a gateway that runs for months must not keep every flight it ever handed over.
        So is the record of a track not seen for as long and left with no dialogue (one
        restored after a restart that never came back, or whose end came as stale data).
        Looked at once a minute: every association cycle would walk all the flights."""
        if now - self._forgot_at < FORGET_EVERY_S:
            return
        self._forgot_at = now
        old = [k for k, f in self.flights.items()
               if f.dialogue.final and now - f.last_sent > after_s]
        old += self.accepting.forget(now, after_s)
        for key in old:
            self._drop(self.flights.pop(key))
        self._removed.update(old)
        gone = [tid for tid, t in self.tracks.items()
                if not t.flights and now - t.seen_at > after_s]
        for track_id in gone:
            del self.tracks[track_id]

    def tick(self, now: float) -> list[Any]:
        """Missing LAMs: send again (same serial), then give up with an alert."""
        out: list[Any] = []
        self._undo = None
        if not self._resumed(now):
            return out
        self.forget(now)
        if self.limiter.windows:
            out += self.limiter.due(now)
        for name, link in self.links.items():
            if not link.pending:  # nothing awaits its LAM (``Link.due`` finds nothing)
                continue
            peer = name.partition("/")[2]
            again, lost = link.due(now)
            for p in again:
                key = self.by_serial.get((name, p.serial))
                flight = self.flights.get(key) if key else None
                out.append(envelope(parse(p.text), now, flight.track_id or None if flight else None,
                                    flight.callsign if flight else None,
                                    session=link.session or None))
                self.counters["aidc-resent"] += 1
            for p in lost:
                key = self.by_serial.get((name, p.serial))
                flight = self.flights.get(key) if key else None
                self._alert("lam-timeout", peer, flight.track_id or None if flight else None,
                            f"{peer} did not acknowledge {p.text} after {p.tries} tries",
                            now, out)
                self.counters["lam-timeout"] += 1
        return out


_MISSING = object()


class _Undo:
    """What handling one inbound message may change, as it was: our link to the peer (next
    serial, messages awaited), what was heard from the peer, the flight it touched and the
    serial index entries it wrote.  Cheap: copied up front are only the link's numbers and
    the bounded ``Heard``; the flight is copied when it is about to change."""

    def __init__(self, engine: Handoff, link_to: str, heard_on: str) -> None:
        self.link_to, self.heard_on = link_to, heard_on
        link = engine.links.get(link_to)
        self.link = None if link is None else (link.next_serial, dict(link.pending))
        heard = engine.seen.get(heard_on)
        self.heard = None if heard is None else heard.copy()
        self.full = link_to in engine._full
        self.flights: dict[str, Flight] = {}
        self.serials: dict[tuple[str, int], str | None] = {}
        self.created: set[str] = set()  # flights the message made (an offer): removed
        self.entries: list[tuple[dict[Any, Any], Any, Any]] = []  # (index, key, old value)
        self.offers = engine.accepting.policy.offers

    def entry(self, index: dict[Any, Any], key: Any) -> None:
        """An index entry about to change (the accepting side's)."""
        self.entries.append((index, key, index.get(key, _MISSING)))

    def flight(self, f: Flight) -> None:
        if f.key not in self.flights and f.key not in self.created:
            self.flights[f.key] = dataclasses.replace(
                f, dialogue=dataclasses.replace(f.dialogue), sent=list(f.sent),
                serials=list(f.serials))

    def serial(self, index: dict[tuple[str, int], str], key: tuple[str, int]) -> None:
        self.serials.setdefault(key, index.get(key))

    def apply(self, engine: Handoff) -> None:
        if self.link is None:
            engine.links.pop(self.link_to, None)
        else:
            link = engine.links[self.link_to]
            link.next_serial, link.pending = self.link[0], self.link[1]
        if self.heard is None:
            engine.seen.pop(self.heard_on, None)
        else:
            engine.seen[self.heard_on] = self.heard
        if self.full:
            engine._full.add(self.link_to)
        else:
            engine._full.discard(self.link_to)
        engine.flights.update(self.flights)
        for made in self.created:
            engine.flights.pop(made, None)
        for index, entry, old in reversed(self.entries):
            if old is _MISSING:
                index.pop(entry, None)
            else:
                index[entry] = old
        engine.accepting.policy.offers = self.offers
        for key, value in self.serials.items():
            if value is None:
                engine.by_serial.pop(key, None)
            else:
                engine.by_serial[key] = value
