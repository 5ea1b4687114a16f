"""The handoff engine on hand-made tracks: a crossing dialogue, hostile inbound text, LAM
retries, the store."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from gateway.handoff.airspace import Airspace
from gateway.handoff.dialogue import State
from gateway.handoff.engine import Handoff, HandoffParameters
from gateway.handoff.peer import Peer
from gateway.handoff.state import Track
from gateway.handoff.text import AidcText, parse
from gateway.messages import Aidc, Alert, FlightPlan, Fused
from gateway.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
AIRSPACE = Airspace.load(ROOT / "captures" / "border-airspace.geojson")
PARAMS = HandoffParameters(units=("MMTY",), peers=("KZHU",), abi_lead_s=300, est_lead_s=200,
                           lam_timeout_s=10, lam_tries=2)
T0 = 1779868800.0
KT_DEG = 1852.0 / 3600.0 / 111_195.0  # degrees of latitude per knot-second


def track(t: float, lat: float, **kw: object) -> Fused:
    base = dict(t=t, id="gw-T000001", state="confirmed", lat=lat, lon=-100.1, fl=350.0,
                gs_kt=450.0, trk_deg=0.0, roc_fpm=0.0, mode3a="2311", icao24="0D0001",
                callsign="AMX412", pos_sigma_m=50.0, sources=[])
    base.update(kw)
    return Fused(**base)  # type: ignore[arg-type]


def fly(engine: Handoff, peer: Peer | None, seconds: float, start_lat: float = 26.5, *,
        t0: float = T0, tamper: Callable[[Aidc], Aidc] = lambda m: m,
        **kw: object) -> list[Any]:
    """Due north from Monterrey at 450 kt from ``t0``, one update every 4 s; the peer
    answers, its answers passed through ``tamper`` on their way."""
    out: list[Any] = []
    for k in range(int(seconds / 4)):
        t = t0 + 4 * k
        made = engine.update([track(t, start_lat + 450 * KT_DEG * 4 * k, **kw)], t)
        made += engine.tick(t)
        while made:
            out += made
            answers = [tamper(r) for m in made if isinstance(m, Aidc) and peer is not None
                       for r in peer.receive(m, t)]
            out += answers
            made = [x for a in answers for x in engine.receive(a, t)]
    return out


def test_a_flight_north_over_the_rio_grande() -> None:
    engine = Handoff(AIRSPACE, PARAMS)
    out = fly(engine, Peer("KZHU"), 900)
    sent = [m.msg for m in out if isinstance(m, Aidc) and m.from_ == "MMTY" and m.msg != "LAM"]
    assert sent == ["ABI", "EST", "TOC"]
    texts = [m.text for m in out if isinstance(m, Aidc) and m.msg == "EST"]
    assert texts[0].startswith("(ESTMMTY/KZHU002-AMX412/A2311-ZZZZ-EGLPS/") and texts[0].endswith(
        "F350-ZZZZ)")
    assert not [m for m in out if isinstance(m, Alert)]


def test_no_answer_means_retries_then_an_alert() -> None:
    engine = Handoff(AIRSPACE, PARAMS)
    out = fly(engine, None, 100, start_lat=27.5)  # nobody answers the ABI
    abis = [m for m in out if isinstance(m, Aidc) and m.msg == "ABI"]
    assert len(abis) == 2 and abis[0].serial == abis[1].serial  # sent again, same serial
    assert 9.9 < abis[1].t - abis[0].t < 14.1
    alerts = [m for m in out if isinstance(m, Alert)]
    assert [a.type for a in alerts] == ["lam-timeout"] and alerts[0].track_id == "gw-T000001"


def test_hostile_inbound_text_gets_lrm_and_changes_nothing() -> None:
    engine = Handoff(AIRSPACE, PARAMS)
    fly(engine, Peer("KZHU"), 120, start_lat=27.5)
    state = {k: f.dialogue.state for k, f in engine.flights.items()}
    # (an offer from the peer is answered, tests/test_handoff_accept.py; a hostile one not)
    for text in ("(ACPKZHU/MMTY001-GARBAGE", "(AOCKZHU/MMTY009MMTY/KZHU999-AMX412-ZZZZ-ZZZZ)",
                 "(ESTKZHU/MMTY010-AMX412/A2311-ZZZZ-NOWHERE/1200F350-ZZZZ)",
                 "(ESTKZHU/MMTY011-AMX412/A2311-ZZZZ-EGLPS/1200F990-ZZZZ)",
                 "(TOCKZHU/MMTY012-VIV100/A2312-ZZZZ-ZZZZ)"):
        m = Aidc(t=T0, msg="ACP", from_="KZHU", to="MMTY", serial=1, ref=None, track_id=None,
                 callsign=None, text=text)
        out = engine.receive(m, T0 + 130)
        assert [x.msg for x in out] == ["LRM"], text
        assert out[0].text.startswith("(LRMMMTY/KZHU")
    assert {k: f.dialogue.state for k, f in engine.flights.items()} == state
    other = msgspec.structs.replace(m, from_="XXXX")
    assert engine.receive(other, T0) == [] and engine.counters["aidc-not-ours"] == 1


def test_a_flight_without_transponder_crossing_raises_one_alert() -> None:
    engine = Handoff(AIRSPACE, PARAMS)
    out = fly(engine, Peer("KZHU"), 900, mode3a=None, icao24=None, callsign=None)
    alerts = [m for m in out if isinstance(m, Alert)]
    assert [a.type for a in alerts] == ["uncoordinated-crossing"]
    assert "MMTY into KZHU" in alerts[0].text and not [m for m in out if isinstance(m, Aidc)]


def test_the_store_brings_a_dialogue_back(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    engine, store, peer = Handoff(AIRSPACE, PARAMS), SqliteStore(db), Peer("KZHU")
    fly(engine, peer, 160, start_lat=27.5)
    store.save(engine)
    store.close()
    again = Handoff(AIRSPACE, PARAMS)
    assert SqliteStore(db).restore(again) == len(engine.flights) == 1
    [(key, f)] = engine.flights.items()
    g = again.flights[key]
    assert (g.dialogue.state, g.sent, g.eto) == (f.dialogue.state, f.sent, f.eto)
    assert again.links["MMTY/KZHU"].next_serial == engine.links["MMTY/KZHU"].next_serial
    assert again.by_serial == engine.by_serial and again.resume_after == engine.clock


def test_after_a_restart_the_flight_keeps_its_dialogue_under_a_new_track_id(
        tmp_path: Path) -> None:
    """Live, a restarted gateway's tracker numbers its tracks from 1 again: the stored
    dialogue goes on with the flight (same identification), no new ABI or EST."""
    db = tmp_path / "h.sqlite"
    engine, store, peer = Handoff(AIRSPACE, PARAMS), SqliteStore(db), Peer("KZHU")
    before = fly(engine, peer, 160, start_lat=27.5)
    store.save(engine)
    again = Handoff(AIRSPACE, PARAMS)
    SqliteStore(db).restore(again)
    again.resume_after = -1e18  # live data comes after the restart anyway
    # another aircraft now has the old id, and our flight has a new one
    t = T0 + 164
    lat = 27.5 + 450 * KT_DEG * 164
    other = track(t, 26.0, callsign="VIV100", icao24="0D0002")
    ours = track(t, lat, id="gw-T000042")
    out = []
    for k in range(60):
        t = T0 + 164 + 4 * k
        lat = 27.5 + 450 * KT_DEG * (164 + 4 * k)
        made = again.update([msgspec.structs.replace(other, t=t),
                             msgspec.structs.replace(ours, t=t, lat=lat)], t)
        while made:
            out += made
            answers = [r for m in made if isinstance(m, Aidc) for r in peer.receive(m, t)]
            made = [x for a in answers for x in again.receive(a, t)]
    sent_before = [m.msg for m in before if isinstance(m, Aidc) and m.from_ == "MMTY"
                   and m.msg != "LAM"]
    sent_after = [m.msg for m in out if isinstance(m, Aidc) and m.msg != "LAM"]
    assert sent_before == ["ABI", "EST"] and sent_after == ["TOC"]
    assert again.counters["dialogue-adopted"] == 1


# -- the flight plan in the messages ------------------------------------------------------------

PLAN = FlightPlan(callsign="AMX412", dep="MMMX", dst="KDFW", cfl=350.0, type="B738", wtc="M")


def ours(out: list[Any], msg: str) -> list[AidcText]:
    return [parse(m.text) for m in out if isinstance(m, Aidc) and m.from_ == "MMTY"
            and m.msg == msg]


def test_abi_and_est_carry_the_flight_plan() -> None:
    engine = Handoff(AIRSPACE, PARAMS)
    out = fly(engine, Peer("KZHU"), 900, fpl=PLAN)
    [abi], [est] = ours(out, "ABI"), ours(out, "EST")
    for m in (abi, est):
        assert (m.callsign, m.ssr, m.dep, m.dst) == ("AMX412", "2311", "MMMX", "KDFW")
        assert m.estimate is not None and m.estimate.point == "EGLPS"
        assert (m.estimate.level, m.estimate.cross_level) == ("F350", None)
    assert abi.amendments == ((9, "B738/M"),)  # field 9, as the PAN AIDC ICD's ABI has it
    assert not [m for m in out if isinstance(m, Aidc) and m.from_ == "MMTY"
                and "ZZZZ" in m.text]


def test_field_14_is_the_cleared_level_with_the_climb_or_descent_condition() -> None:
    """Cleared F370, at F300 climbing 600 ft/min: it crosses the COP at or above the level
    it will have reached, rounded down; descending to F200, at or below, rounded up."""
    climb = ours(fly(Handoff(AIRSPACE, PARAMS), Peer("KZHU"), 900, fl=300.0, roc_fpm=600.0,
                     fpl=msgspec.structs.replace(PLAN, cfl=370.0)), "EST")[0].estimate
    assert climb is not None and (climb.level, climb.cross_condition) == ("F370", "A")
    assert climb.cross_level is not None and "F310" <= climb.cross_level <= "F330"
    descent = ours(fly(Handoff(AIRSPACE, PARAMS), Peer("KZHU"), 900, fl=300.0,
                       roc_fpm=-1000.0, fpl=msgspec.structs.replace(PLAN, cfl=200.0)),
                   "EST")[0].estimate
    assert descent is not None and (descent.level, descent.cross_condition) == ("F200", "B")
    assert descent.cross_level is not None and "F250" <= descent.cross_level <= "F280"
    # descending away from the cruise level its plan still gives (to land short of it):
    # at or below the level it will have reached
    away = ours(fly(Handoff(AIRSPACE, PARAMS), Peer("KZHU"), 900, fl=300.0, roc_fpm=-1000.0,
                    fpl=PLAN), "EST")[0].estimate
    assert away is not None and (away.level, away.cross_condition) == ("F350", "B")
    assert away.cross_level is not None and "F250" <= away.cross_level <= "F280"
    level = ours(fly(Handoff(AIRSPACE, PARAMS), Peer("KZHU"), 900, fl=330.0, roc_fpm=0.0,
                     fpl=PLAN), "EST")[0].estimate  # level below its cleared level
    assert level is not None and (level.level, level.cross_level, level.cross_condition) == (
        "F350", "F330", "A")


def test_a_new_cleared_level_after_coordination_gives_cdn_and_the_current_level_does_not(
        ) -> None:
    engine, peer = Handoff(AIRSPACE, PARAMS), Peer("KZHU")
    # climbing through the levels while coordinated: its cleared level is what was agreed
    out = fly(engine, peer, 700, fpl=PLAN, fl=300.0, roc_fpm=1500.0)
    assert [f.dialogue.state for f in engine.flights.values()] == [State.COORDINATED]
    out += fly(engine, peer, 200, start_lat=26.5 + 450 * KT_DEG * 700, t0=T0 + 700,
               fpl=msgspec.structs.replace(PLAN, cfl=370.0), fl=350.0, roc_fpm=0.0)
    assert [m.msg for m in out if isinstance(m, Aidc) and m.from_ == "MMTY"
            and m.msg != "LAM"] == ["ABI", "EST", "CDN", "TOC"]
    [cdn] = ours(out, "CDN")
    assert cdn.dep == "MMMX" and cdn.dst == "KDFW"
    [(field, amended)] = cdn.amendments
    assert field == 14 and amended.startswith("EGLPS/") and amended[10:14] == "F370"
    coordination = engine.coordination("gw-T000001")
    assert coordination is not None and coordination.level == 370.0
    assert (coordination.state, coordination.from_, coordination.to) == (
        "transferred", "MMTY", "KZHU")
    assert engine.coordination("gw-T000999") is None
    # the same climb to the same cleared level: the level it reaches changes nothing agreed
    engine, peer = Handoff(AIRSPACE, PARAMS), Peer("KZHU")
    out = fly(engine, peer, 700, fpl=PLAN, fl=300.0, roc_fpm=1500.0)
    out += fly(engine, peer, 200, start_lat=26.5 + 450 * KT_DEG * 700, t0=T0 + 700,
               fpl=PLAN, fl=350.0, roc_fpm=0.0)
    assert [m.msg for m in out if isinstance(m, Aidc) and m.from_ == "MMTY"
            and m.msg != "LAM"] == ["ABI", "EST", "TOC"]


def test_cpl_carries_the_whole_plan() -> None:
    filed = msgspec.structs.replace(
        PLAN, rules="IS", equipment="SDE2E3FGHIJ2J3J4J5M1RWXY/LB1D1", eobt="1230",
        route="N0450F350 DCT MTY UJ5 ELP", eet="0210", alternates="KAUS", other="PBN/A1B1")
    params = dataclasses.replace(PARAMS, cpl_to=("KZHU",))
    out = fly(Handoff(AIRSPACE, params), Peer("KZHU"), 900, fpl=filed)
    [cpl] = ours(out, "CPL")
    assert (cpl.rules, cpl.actype, cpl.wtc, cpl.equipment, cpl.dep, cpl.dep_time) == (
        "IS", "B738", "M", filed.equipment, "MMMX", "1230")
    assert (cpl.route, cpl.dst, cpl.eet, cpl.alternates, cpl.other) == (
        filed.route, "KDFW", "0210", "KAUS", "PBN/A1B1")
    assert cpl.estimate is not None and cpl.estimate.level == "F350"
    # an I390 plan knows none of fields 8, 10, 15 and 18: ZZZZ there (18: 0), only there
    [text] = [m.text for m in fly(Handoff(AIRSPACE, params), Peer("KZHU"), 900, fpl=PLAN)
              if isinstance(m, Aidc) and m.msg == "CPL"]
    assert text.startswith("(CPLMMTY/KZHU002-AMX412/A2311-ZZZZ-B738/M-ZZZZ-MMMX-EGLPS/")
    assert text.endswith("F350-ZZZZ-KDFW-0)")


def test_without_a_plan_the_unknown_fields_are_zzzz() -> None:
    out = fly(Handoff(AIRSPACE, PARAMS), Peer("KZHU"), 900)
    [abi], [est] = ours(out, "ABI"), ours(out, "EST")
    for m in (abi, est):
        assert (m.dep, m.dst, m.amendments) == ("ZZZZ", "ZZZZ", ())
        assert m.estimate is not None and m.estimate.level == "F350"  # the level it is at


def test_our_acp_to_the_peers_cdn_carries_the_plans_aerodromes() -> None:
    """The peer proposes other conditions (CDN) in a coordinated dialogue: our ACP carries
    fields 13 and 16 from the plan, as every message of ours does."""
    engine = Handoff(AIRSPACE, PARAMS)
    out = fly(engine, Peer("KZHU"), 640, fpl=PLAN)
    [f] = engine.flights.values()
    assert f.dialogue.state is State.COORDINATED
    [est] = ours(out, "EST")
    cdn = AidcText("CDN", "KZHU", "MMTY", 90, ref=("MMTY", "KZHU", est.serial),
                   callsign="AMX412", ssr="2311", dep="MMMX", dst="KDFW",
                   amendments=((14, "EGLPS/0810F370"),))
    made = engine.receive(Aidc(t=T0 + 640, msg="CDN", from_="KZHU", to="MMTY", serial=90,
                               ref=est.serial, track_id=None, callsign="AMX412",
                               text=cdn.text(), session="0000000000bb"), T0 + 640)
    [acp] = ours(made, "ACP")
    assert (acp.dep, acp.dst) == ("MMMX", "KDFW")


def coordinated(engine: Handoff) -> tuple[float, float, Any]:
    """AMX412 flown north until its dialogue is coordinated (EST answered ACP), well before
    its TOC: (time and latitude of its last update, the dialogue)."""
    peer, k = Peer("KZHU"), 0
    while not engine.flights or next(iter(engine.flights.values())).dialogue.state \
            is not State.COORDINATED:
        assert k < 225  # 900 s
        fly(engine, peer, 4, 26.5 + 450 * KT_DEG * 4 * k, t0=T0 + 4 * k)
        k += 1
    k -= 1
    [f] = engine.flights.values()
    assert f.eto - (T0 + 4 * k) > 30  # its TOC is at least half a minute away
    return T0 + 4 * k, 26.5 + 450 * KT_DEG * 4 * k, f


def silence(engine: Handoff, t0: float, until: float, lat: float, **coasting: object
            ) -> list[Any]:
    """The track's coasting message 25 s after ``t0`` (``coasting``: its fields), then the
    clock going on to ``until`` with other traffic's cycles (no message of this track)."""
    out = engine.update([track(t0 + 25, lat + 450 * KT_DEG * 25, state="coasting",
                               **coasting)], t0 + 25)
    t = t0 + 25
    while t < until:
        t += 4
        out += engine.update([], t) + engine.tick(t)
    return out


def test_a_track_hidden_in_a_coverage_gap_gets_its_toc_on_time() -> None:
    engine = Handoff(AIRSPACE, PARAMS)
    t0, lat, f = coordinated(engine)
    out = silence(engine, t0, f.eto + 20, lat, hidden=True)
    tocs = [m for m in out if isinstance(m, Aidc) and m.msg == "TOC"]
    assert len({m.serial for m in tocs}) == 1  # one TOC (sent again: no peer to answer)
    assert f.eto - 4 <= tocs[0].t <= f.eto + 4  # on the estimate made while it was seen
    assert f.dialogue.state is State.TRANSFERRING


def test_a_track_lost_where_radars_see_or_ended_is_not_transferred() -> None:
    engine = Handoff(AIRSPACE, PARAMS)
    t0, lat, f = coordinated(engine)
    out = silence(engine, t0, f.eto + 20, lat)  # coasting, not hidden: lost, not in a gap
    assert not [m for m in out if isinstance(m, Aidc) and m.msg == "TOC"]
    assert f.dialogue.state is State.COORDINATED  # waiting for the track to come back
    ended = engine.update([track(f.eto + 24, lat, state="ended")], f.eto + 24)
    assert [m.msg for m in ended if isinstance(m, Aidc)] == ["MAC"]
    # a hidden track that then ends before its TOC is due: MAC, and no TOC after it
    engine = Handoff(AIRSPACE, PARAMS)
    t0, lat, f = coordinated(engine)
    out = silence(engine, t0, t0 + 29, lat, hidden=True)
    out += engine.update([track(t0 + 30, lat, state="ended")], t0 + 30)
    out += silence(engine, t0 + 30, f.eto + 20, lat, id="gw-T000002", callsign="AMX999")
    # (the MAC sent again: no peer here to acknowledge it)
    assert {(m.msg, m.serial) for m in out if isinstance(m, Aidc)
            and m.callsign == "AMX412"} == {("MAC", f.serials[-1][0])}


@pytest.mark.parametrize("callsign", ["AMX412", None])
def test_update_inlines_candidates_common_case_to_the_field(callsign: str | None) -> None:
    """``update`` writes out ``_candidate``'s common case (a prediction with no crossing
    into a peer, for a track with no dialogue: its heading is forgotten) rather than call
    it, for every track every prediction: the twin is held to ``_candidate`` here, on a
    track heading away from the peer after predictions towards it."""
    m = track(T0, 26.5, trk_deg=180.0, callsign=callsign)  # south, away from KZHU
    assert AIRSPACE.crossings(np.array([m.lat]), np.array([m.lon]), np.array([m.trk_deg]),
                              np.array([m.gs_kt]), PARAMS.abi_lead_s + 120.0,
                              into=PARAMS.peers) == [None]
    before = Track(T0 - 8.0, unit="MMTY", heading_for="KZHU", hits=2)
    inline = Handoff(AIRSPACE, PARAMS)
    inline.tracks[m.id] = dataclasses.replace(before)

    def not_called(*args: object) -> None:
        raise AssertionError("update called _candidate: the inline case was not tested")

    inline._candidate = not_called  # type: ignore[method-assign]
    assert inline.update([m], T0) == []
    called = Handoff(AIRSPACE, PARAMS)
    record = called.tracks[m.id] = dataclasses.replace(before)
    out: list[Any] = []
    called._candidate(m, record, None, T0, out)
    record.seen_at, record.predicted_at = T0, T0  # what update does around it
    assert out == []
    assert inline.tracks[m.id] == record
    assert inline.flights == called.flights == {}
    assert inline._changed == called._changed == set()
