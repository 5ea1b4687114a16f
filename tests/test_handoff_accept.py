"""The accepting side of the handoff engine (sans-IO): offers from a peer for flights
entering our units, matched to fused tracks and answered; both ends run the same engine."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from test_handoff_engine import AIRSPACE, KT_DEG, T0, track

from gateway.handoff.accepting import absolute
from gateway.handoff.dialogue import C2, State
from gateway.handoff.engine import Handoff, HandoffParameters
from gateway.handoff.text import AidcText, Estimate, parse
from gateway.messages import Aidc, Alert, Fused
from gateway.store.memory import MemoryStore
from gateway.store.sqlite import SqliteStore

OURS = HandoffParameters(units=("MMTY",), peers=("KZHU",), abi_lead_s=300, est_lead_s=200,
                         lam_timeout_s=10, lam_tries=2)
THEIRS = HandoffParameters(units=("KZHU",), peers=("MMTY",), abi_lead_s=300, est_lead_s=200,
                           lam_timeout_s=10, lam_tries=2)
LON = -100.4  # due south over EGLPS (28.5756 N), from Houston's airspace into Monterrey's


def south(t: float, k: int, start: float = 29.5, **kw: object) -> Fused:
    """A flight due south at 450 kt over EGLPS, ``k`` updates (4 s) after ``start``."""
    base: dict[str, Any] = dict(lon=LON, trk_deg=180.0, callsign="AAL7", mode3a="4521",
                                icao24="A00007", id="gw-T000007")
    base.update(kw)
    return track(t, start - 450 * KT_DEG * 4 * k, **base)


def eto(start: float = 29.5) -> float:
    """When the flight of ``south`` is over EGLPS."""
    return T0 + (start - 28.5756) / (450 * KT_DEG)


def offer(msg: str, serial: int, t: float, *, callsign: str = "AAL7", ssr: str | None = "4521",
          cop: str = "EGLPS", when: float | None = None, level: str | None = "F350",
          ref: int | None = None, amendments: tuple[tuple[int, str], ...] = ()) -> Aidc:
    """A message from KZHU to MMTY, as the peer's engine would send it."""
    estimate = (Estimate(cop, time.strftime("%H%M", time.gmtime(when or eto())), level)
                if msg in ("ABI", "EST", "CPL") else None)
    text = AidcText(msg, "KZHU", "MMTY", serial, ref=None if ref is None else ("MMTY", "KZHU", ref),
                    callsign=callsign, ssr=ssr, dep="KIAH", estimate=estimate, dst="MMMX",
                    amendments=amendments)
    return Aidc(t=t, msg=msg, from_="KZHU", to="MMTY", serial=serial, ref=ref, track_id=None,
                callsign=callsign, text=text.text(), session="0000000000aa")


def aidc(out: Iterable[Any]) -> list[Aidc]:
    return [m for m in out if isinstance(m, Aidc)]


def alerts(out: Iterable[Any]) -> list[Alert]:
    return [m for m in out if isinstance(m, Alert)]


def c2(engine: Handoff) -> list[Any]:
    return [f for f in engine.flights.values() if f.dialogue.role is C2]


def border(ours: Handoff, theirs: Handoff, seconds: float, *, k0: int = 0,
           **kw: object) -> list[tuple[str, Aidc | Alert]]:
    """Both engines on the same fused picture, every 4 s, their messages delivered to each
    other as they come: (who made it, what) in order."""
    log: list[tuple[str, Aidc | Alert]] = []
    for k in range(k0, k0 + int(seconds / 4)):
        t = T0 + 4 * k
        m = south(t, k, **kw)
        pending = [("MMTY", x) for x in ours.update([m], t) + ours.tick(t)]
        pending += [("KZHU", x) for x in theirs.update([m], t) + theirs.tick(t)]
        while pending:
            who, x = pending.pop(0)
            log.append((who, x))
            if isinstance(x, Aidc):
                engine = ours if x.to == "MMTY" else theirs
                pending += [(x.to, y) for y in engine.receive(x, t)]
    return log


def test_the_peer_transfers_and_we_accept_both_ends_the_same_engine() -> None:
    ours, theirs = Handoff(AIRSPACE, OURS), Handoff(AIRSPACE, THEIRS)
    log = border(ours, theirs, 600)
    theirs_said = [x.msg for who, x in log if who == "KZHU" and isinstance(x, Aidc)]
    ours_said = [x.msg for who, x in log if who == "MMTY" and isinstance(x, Aidc)]
    assert [m for m in theirs_said if m != "LAM"] == ["ABI", "EST", "TOC"]
    assert [m for m in ours_said if m != "LAM"] == ["ACP", "AOC"]
    assert ours_said.count("LAM") == 3 and theirs_said.count("LAM") == 2  # each acknowledged
    [f] = c2(ours)
    [g] = theirs.flights.values()
    assert f.dialogue.state is g.dialogue.state is State.TRANSFERRED
    assert (f.callsign, f.src, f.dst, f.cop, f.track_id) == ("AAL7", "KZHU", "MMTY", "EGLPS",
                                                            "gw-T000007")
    assert ours.counters["accepting-matched-callsign"] == 1
    acp = next(x for who, x in log if isinstance(x, Aidc) and x.msg == "ACP")
    est = next(x for who, x in log if isinstance(x, Aidc) and x.msg == "EST")
    assert acp.ref == est.serial and acp.track_id == "gw-T000007"
    assert not alerts(x for _, x in log)  # an accepted coordination: no unannounced entry


def test_an_offer_at_a_level_we_do_not_accept_is_rejected_with_the_reason() -> None:
    ours = Handoff(AIRSPACE, dataclasses.replace(OURS, accept_levels=("MMTY/F290-F330",)))
    out = ours.receive(offer("EST", 1, T0), T0)
    assert [m.msg for m in out] == ["LAM", "REJ"]
    rej = parse(out[1].text)
    assert rej.ref == ("KZHU", "MMTY", 1) and rej.remark == (
        "LEVEL F350 NOT AVAILABLE IN MMTY ONLY F290 TO F330")
    [f] = c2(ours)
    assert f.dialogue.state is State.REJECTED and f.reason == rej.remark
    # offered again at an accepted level: a new dialogue, accepted
    out = ours.receive(offer("EST", 2, T0 + 30, level="F310"), T0 + 30)
    assert [m.msg for m in out] == ["LAM", "ACP"]
    assert sorted(f.dialogue.state.value for f in c2(ours)) == ["coordinated", "rejected"]


def test_reject_every_nth_offer() -> None:
    ours = Handoff(AIRSPACE, dataclasses.replace(OURS, reject_every=2))
    answers = [ours.receive(offer("EST", n, T0 + n, callsign=f"AAL{n}", ssr=None), T0 + n)[1]
               for n in range(1, 5)]
    assert [m.msg for m in answers] == ["ACP", "REJ", "ACP", "REJ"]
    assert parse(answers[1].text).remark == "EVERY 2 OFFERS REFUSED BY POLICY"


def test_toc_gets_aoc_cdn_gets_acp_and_mac_cancels() -> None:
    ours = Handoff(AIRSPACE, OURS)
    assert [m.msg for m in ours.receive(offer("ABI", 1, T0), T0)] == ["LAM"]
    assert [m.msg for m in ours.receive(offer("EST", 2, T0 + 60), T0 + 60)] == ["LAM", "ACP"]
    hhmm = time.strftime("%H%M", time.gmtime(eto()))
    cdn = offer("CDN", 3, T0 + 90, amendments=((14, f"EGLPS/{hhmm}F370"),))
    assert [m.msg for m in ours.receive(cdn, T0 + 90)] == ["LAM", "ACP"]
    [f] = c2(ours)
    assert (f.dialogue.state, f.agreed_fl) == (State.COORDINATED, 370.0)
    # a change to a level the unit does not take: REJ, the agreed conditions stand
    ours.accepting.policy.levels = {"MMTY": [(290, 390)]}
    cdn = offer("CDN", 9, T0 + 95, amendments=((14, f"EGLPS/{hhmm}F410"),))
    out = ours.receive(cdn, T0 + 95)
    assert [m.msg for m in out] == ["LAM", "REJ"] and "F410 NOT AVAILABLE" in out[1].text
    assert (f.dialogue.state, f.fl, f.agreed_fl) == (State.COORDINATED, 370.0, 370.0)
    out = ours.receive(offer("TOC", 4, T0 + 400), T0 + 400)
    assert [m.msg for m in out] == ["LAM", "AOC"] and parse(out[1].text).ref == ("KZHU", "MMTY", 4)
    assert f.dialogue.state is State.TRANSFERRED
    # another flight offered, then cancelled
    ours.receive(offer("EST", 5, T0 + 100, callsign="DAL19", ssr="4522"), T0 + 100)
    out = ours.receive(offer("MAC", 6, T0 + 110, callsign="DAL19", ssr="4522"), T0 + 110)
    assert [m.msg for m in out] == ["LAM"]
    assert {g.callsign: g.dialogue.state for g in c2(ours)}["DAL19"] is State.CANCELLED
    # a TOC for a flight nobody offered, or out of turn: LRM
    out = ours.receive(offer("TOC", 7, T0 + 120, callsign="UAL1"), T0 + 120)
    assert [m.msg for m in out] == ["LRM"] and "NO DIALOGUE" in out[0].text
    # (serial 10: the CDN above took 9, and a message older than one handled that its
    # dialogue has moved past is acknowledged as overtaken, not refused)
    out = ours.receive(offer("TOC", 10, T0 + 120, callsign="DAL19", ssr="4522"), T0 + 120)
    assert [m.msg for m in aidc(out)] == ["LRM"] and ours.counters["aidc-out-of-turn"] == 1


def test_a_duplicate_offer_gets_lam_again_and_no_second_answer() -> None:
    ours = Handoff(AIRSPACE, OURS)
    first = ours.receive(offer("EST", 1, T0), T0)
    again = ours.receive(offer("EST", 1, T0 + 5), T0 + 5)
    assert [m.msg for m in first] == ["LAM", "ACP"] and [m.msg for m in again] == ["LAM"]
    assert parse(again[0].text).ref == ("KZHU", "MMTY", 1) and len(c2(ours)) == 1
    assert ours.counters["aidc-duplicate"] == 1
    # another serial with the same offer while it is coordinated: out of turn, LRM
    out = ours.receive(offer("EST", 2, T0 + 6), T0 + 6)
    assert [m.msg for m in aidc(out)] == ["LRM"] and len(c2(ours)) == 1


def test_an_offer_overtaken_by_the_estimate_gets_lam_not_lrm() -> None:
    """The ABI (serial 1) was lost (a redundant pair taking over) and the EST (serial 2)
    coordinated the flight; the ABI comes again for want of a LAM: acknowledged and left,
    not refused. The same out of turn under a newer serial is still refused."""
    ours = Handoff(AIRSPACE, OURS)
    first = ours.receive(offer("EST", 2, T0), T0)
    assert [m.msg for m in first] == ["LAM", "ACP"]
    late = ours.receive(offer("ABI", 1, T0 + 30), T0 + 30)
    assert [m.msg for m in aidc(late)] == ["LAM"] and parse(late[0].text).ref[2] == 1
    assert ours.counters["aidc-overtaken"] == 1 and ours.counters["aidc-out-of-turn"] == 0
    assert {g.callsign: g.dialogue.state for g in c2(ours)}["AAL7"] is State.COORDINATED
    again = ours.receive(offer("ABI", 1, T0 + 60), T0 + 60)  # sent again: a duplicate
    assert [m.msg for m in aidc(again)] == ["LAM"] and ours.counters["aidc-duplicate"] == 1
    out = ours.receive(offer("ABI", 3, T0 + 61), T0 + 61)
    assert [m.msg for m in aidc(out)] == ["LRM"] and ours.counters["aidc-out-of-turn"] == 1


@pytest.mark.parametrize("callsign, mode3a, how", [
    ("AAL7", "4521", "callsign"),
    (None, "4521", "ssr"),  # no identification on the track: the SSR code alone
    (None, None, "position"),  # neither: over the COP at the time
])
def test_an_offer_is_matched_by_identification_ssr_or_position(
        callsign: str | None, mode3a: str | None, how: str) -> None:
    ours = Handoff(AIRSPACE, OURS)
    other = track(T0, 27.0, id="gw-T000001", lon=-99.0, callsign="VIV9", mode3a="1234")
    ours.update([other, south(T0, 0, callsign=callsign, mode3a=mode3a)], T0)
    ours.receive(offer("EST", 1, T0 + 1), T0 + 1)
    for k in range(1, 60):
        t = T0 + 4 * k
        ours.update([south(t, k, callsign=callsign, mode3a=mode3a)], t)
    [f] = c2(ours)
    assert f.track_id == "gw-T000007" and ours.counters[f"accepting-matched-{how}"] == 1


def test_a_shared_code_or_two_candidates_are_never_guessed() -> None:
    ours = Handoff(AIRSPACE, OURS)
    a = south(T0, 0, callsign=None, mode3a="7000", icao24=None)
    b = south(T0, 0, callsign=None, mode3a="7000", icao24=None, id="gw-T000008", lon=LON + 0.01)
    out: list[Any] = []
    for k in range(0, 200):
        t = T0 + 4 * k
        out += ours.update([msgspec.structs.replace(a, t=t, lat=29.5 - 450 * KT_DEG * 4 * k),
                            msgspec.structs.replace(b, t=t, lat=29.5 - 450 * KT_DEG * 4 * k)], t)
        if k == 0:
            out += ours.receive(offer("EST", 1, t, ssr="7000"), t)
    [f] = c2(ours)
    assert f.track_id == "" and ours.counters["accepting-match-ambiguous"] > 0
    [alert] = [x for x in alerts(out) if x.type == "coordination-unmatched"]
    assert "KZHU offered AAL7 (A7000) over EGLPS" in alert.text and f.unmatched


def test_an_offer_no_track_matches_raises_coordination_unmatched_once() -> None:
    ours = Handoff(AIRSPACE, OURS)
    ours.receive(offer("EST", 1, T0, callsign="GHOST1", ssr="6001"), T0)
    out: list[Any] = []
    for k in range(0, 200):  # an unrelated flight far away
        t = T0 + 4 * k
        out += ours.update([track(t, 25.0 + 0.001 * k, id="gw-T000001", callsign="VIV9",
                                  mode3a="1234")], t)
    found = [x for x in alerts(out) if x.type == "coordination-unmatched"]
    when = absolute(time.strftime("%H%M", time.gmtime(eto())), T0)  # field 14: minutes
    assert len(found) == 1 and when + OURS.match_window_s < found[0].t <= when + 304
    assert "GHOST1" in found[0].text


def test_a_flight_entering_without_an_accepted_coordination_raises_unannounced_entry() -> None:
    ours = Handoff(AIRSPACE, OURS)
    out: list[Any] = []
    for k in range(0, 120):
        t = T0 + 4 * k
        out += ours.update([south(t, k)], t)
        if k == 1:  # only advance information: nothing accepted
            out += ours.receive(offer("ABI", 1, t), t)
    [alert] = alerts(out)
    assert alert.type == "unannounced-entry" and alert.track_id == "gw-T000007"
    assert "AAL7 (A4521) entered MMTY from KZHU" in alert.text
    # a flight whose offer was accepted enters without an alert
    ours = Handoff(AIRSPACE, OURS)
    ours.update([south(T0, 0)], T0)
    ours.receive(offer("EST", 1, T0), T0)
    assert not alerts(x for k in range(1, 120)
                      for x in ours.update([south(T0 + 4 * k, k)], T0 + 4 * k))
    # a non-cooperative one is the other alert's (uncoordinated-crossing), not this one's
    ours = Handoff(AIRSPACE, OURS)
    quiet = [x.type for k in range(0, 120) for x in alerts(ours.update(
        [south(T0 + 4 * k, k, callsign=None, icao24=None)], T0 + 4 * k))]
    assert "unannounced-entry" not in quiet


def test_hostile_offers_and_a_flood_are_refused_with_lrm() -> None:
    ours = Handoff(AIRSPACE, dataclasses.replace(OURS, max_accepting=3))
    for n, kw in enumerate([dict(cop="ALTAR"), dict(level="F990"), dict(level="VFR"),
                            dict(level=None)], 1):
        out = ours.receive(offer("EST", n, T0, **kw), T0)  # type: ignore[arg-type]
        assert [m.msg for m in out] == ["LRM"], kw
    assert "ALTAR IS NOT ON THE KZHU/MMTY BOUNDARY" in aidc(
        ours.receive(offer("EST", 10, T0, cop="ALTAR"), T0))[0].text
    assert ours.counters["aidc-refused-offer"] == 5 and not c2(ours)
    for n in range(20, 26):
        ours.receive(offer("EST", n, T0, callsign=f"F{n}", ssr=None), T0)
    assert len(c2(ours)) == 3 and ours.counters["aidc-accepting-full"] == 3
    # stale open dialogues expire (the peer said nothing for an hour past their time)
    ours.forget(eto() + 3700)
    assert not c2(ours) and not ours.accepting.index and ours.counters["accepting-expired"] == 3


def test_a_refused_message_takes_back_the_dialogue_it_made() -> None:
    ours = Handoff(AIRSPACE, dataclasses.replace(OURS, reject_every=2))
    ours.receive(offer("EST", 1, T0), T0)
    ours.rollback()  # as the pipeline does when the store cannot save
    assert not ours.flights and not ours.accepting.index and ours.accepting.policy.offers == 0
    assert [m.msg for m in ours.receive(offer("EST", 1, T0), T0)] == ["LAM", "ACP"]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_restart_mid_dialogue_completes_under_new_track_ids(tmp_path: Path, kind: str) -> None:
    ours, theirs = Handoff(AIRSPACE, OURS), Handoff(AIRSPACE, THEIRS)
    log = border(ours, theirs, 320)  # ABI, EST, ACP: coordinated, not yet transferred
    assert [x.msg for _, x in log if isinstance(x, Aidc) and x.msg != "LAM"] == [
        "ABI", "EST", "ACP"]
    store: MemoryStore | SqliteStore = (MemoryStore() if kind == "memory"
                                        else SqliteStore(tmp_path / "h.sqlite"))
    store.save(ours)
    again = Handoff(AIRSPACE, OURS)
    assert store.restore(again) == 1
    again.resume_after = -1e18  # live data comes after the restart anyway
    [f] = c2(again)
    assert dataclasses.asdict(f) == dataclasses.asdict(c2(ours)[0])  # every field round-trips
    assert (f.dialogue.state, f.agreed_fl, f.track_id) == (State.COORDINATED, 350.0, "gw-T000007")
    assert again.accepting.index == ours.accepting.index and again.by_serial == ours.by_serial
    # the restarted tracker numbers the flight anew
    log = border(again, theirs, 300, k0=80, id="gw-T000099")
    said = [(who, x.msg) for who, x in log if isinstance(x, Aidc) and x.msg != "LAM"]
    assert said == [("KZHU", "TOC"), ("MMTY", "AOC")]
    assert f.dialogue.state is State.TRANSFERRED and f.track_id == "gw-T000099"
    assert not [x for _, x in log if isinstance(x, Alert)]  # no unannounced entry
    assert [g.dialogue.state for g in theirs.flights.values()] == [State.TRANSFERRED]


def test_the_estimated_time_is_the_nearest_day() -> None:
    assert absolute("0807", T0) == T0 + 420
    assert absolute("2350", T0 - 8 * 3600 + 600) == T0 - 8 * 3600 - 600  # yesterday's


def test_an_answer_with_no_free_serial_is_owed_and_sent_when_one_frees() -> None:
    ours = Handoff(AIRSPACE, OURS)
    link = ours.link("MMTY", "KZHU", T0)
    for serial in range(1, 1000):  # every serial to KZHU awaits its LAM
        link.sent(serial, f"(TOCMMTY/KZHU{serial:03d}-X{serial}-ZZZZ-ZZZZ)", T0)
    out = ours.receive(offer("EST", 1, T0), T0)
    assert not aidc(out) and [a.type for a in alerts(out)] == ["link-full"]
    [f] = c2(ours)
    assert f.dialogue.state is State.OFFERED and ours.counters["accepting-answer-owed"] == 1
    lam = AidcText("LAM", "KZHU", "MMTY", 2, ref=("MMTY", "KZHU", 7))
    ours.receive(Aidc(t=T0, msg="LAM", from_="KZHU", to="MMTY", serial=2, ref=7, track_id=None,
                      callsign=None, text=lam.text(), session="0000000000aa"), T0 + 1)
    out = ours.update([south(T0 + 2, 0)], T0 + 2)
    [acp] = aidc(out)
    assert (acp.msg, acp.serial, parse(acp.text).ref) == ("ACP", 7, ("KZHU", "MMTY", 1))
    assert f.dialogue.state is State.COORDINATED
    assert not aidc(ours.update([south(T0 + 6, 1)], T0 + 6))  # answered once


def test_our_rej_reaches_the_peer_with_its_reason_and_the_entry_is_unannounced() -> None:
    ours = Handoff(AIRSPACE, dataclasses.replace(OURS, accept_levels=("MMTY/F200-F300",)))
    theirs = Handoff(AIRSPACE, THEIRS)
    log = border(ours, theirs, 600)
    assert [x.msg for _, x in log if isinstance(x, Aidc) and x.msg != "LAM"] == [
        "ABI", "EST", "REJ"]
    said = {(who, x.type): x.text for who, x in log if isinstance(x, Alert)}
    assert set(said) == {("KZHU", "coordination-rejected"), ("MMTY", "unannounced-entry")}
    assert "(LEVEL F350 NOT AVAILABLE IN MMTY ONLY F200 TO F300)" in said[
        ("KZHU", "coordination-rejected")]


def test_a_toc_with_the_flights_new_ssr_code_gets_aoc() -> None:
    """The transferring unit assigns the code: a flight that changed code between its offer
    and its TOC is the same flight (field 7's identification), and the dialogue takes the
    new code; an answer to our own offer still has to carry the code we gave."""
    ours = Handoff(AIRSPACE, OURS)
    ours.receive(offer("EST", 1, T0), T0)
    [f] = c2(ours)
    out = ours.receive(offer("TOC", 2, T0 + 400, ssr="4577"), T0 + 400)
    assert [m.msg for m in out] == ["LAM", "AOC"] and "AAL7/A4577" in out[1].text
    assert (f.dialogue.state, f.ssr) == (State.TRANSFERRED, "4577")
