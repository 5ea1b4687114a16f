"""Fused tracks carry the flight plan of the SDPS tracks they are associated with (CAT062
I390), kept while the flight is tracked; ``Tracker.set_plan`` gives one from elsewhere.
Checked on small synthetic streams and on the shipped border capture."""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
import numpy as np
import pytest
from shipped import shipped_simulation
from test_associate import SITE_A, T0, Aircraft, Radar, sdps_track, tracker
from test_handoff_engine import AIRSPACE, PARAMS, fly, track
from test_handoff_engine import T0 as HANDOFF_T0

from gateway.config import load
from gateway.decoder import iter_chunks
from gateway.handoff.engine import Handoff
from gateway.handoff.peer import Peer
from gateway.ingest import read_datagrams
from gateway.messages import FlightPlan, Fused, decode, encode
from gateway.pipeline import Pipeline, _coordinated

ROOT = Path(__file__).resolve().parent.parent
PLAN = FlightPlan(callsign="AMX412", dep="MMMX", dst="KDFW", cfl=350.0, type="B738", wtc="M")


def _sky() -> tuple[Radar, Aircraft]:
    return (Radar(*SITE_A, sic=1),
            Aircraft(30.6, -103.5, 200.0, 0.0, icao24="ABC000", mode3a="6001",
                     callsign="AMX412", fl=310.0))


def test_the_plan_of_the_sdps_track_stays_with_plot_updates_and_a_newer_one_replaces_it(
        ) -> None:
    rng = np.random.default_rng(5)
    radar, a = _sky()
    trk = tracker([radar])
    out: list[Fused] = []
    for k in range(10):  # radar and SDPS, the SDPS with the plan
        t = T0 + 4.0 * k
        out += trk.update(radar.scan([a], t, rng))
        out += trk.update([sdps_track(a, 5, t + 1.0, rng, fpl=PLAN)])
    assert {f.id for f in out} == {out[-1].id}
    assert out[-1].fpl == PLAN
    plots: list[Fused] = []
    for k in range(10, 20):  # the SDPS goes quiet: plot updates only
        plots += trk.update(radar.scan([a], T0 + 4.0 * k, rng))
    assert plots and all(f.fpl == PLAN for f in plots)
    amended = msgspec.structs.replace(PLAN, cfl=370.0)  # a new cleared level
    later = trk.update([sdps_track(a, 5, T0 + 81.0, rng, fpl=amended)])
    assert [f.fpl for f in later] == [amended]
    assert trk.update(radar.scan([a], T0 + 84.0, rng))[-1].fpl == amended
    # and it is valid shared format on the wire
    assert decode(encode(later[0])) == later[0]


def test_an_sdps_track_without_a_plan_keeps_the_one_known() -> None:
    rng = np.random.default_rng(6)
    radar, a = _sky()
    trk = tracker([radar])
    out: list[Fused] = []
    for k in range(8):
        t = T0 + 4.0 * k
        out += trk.update(radar.scan([a], t, rng))
        out += trk.update([sdps_track(a, 5, t + 1.0, rng, fpl=PLAN if k < 3 else None)])
    assert out[-1].fpl == PLAN


def test_radar_only_track_has_no_plan_until_one_is_set() -> None:
    rng = np.random.default_rng(7)
    radar, a = _sky()
    trk = tracker([radar])
    out: list[Fused] = []
    for k in range(5):
        out += trk.update(radar.scan([a], T0 + 4.0 * k, rng))
    assert out and all(f.fpl is None for f in out)
    track_id = out[-1].id
    assert trk.set_plan(track_id, PLAN)
    assert not trk.set_plan("T999999", PLAN)  # no such track: nothing changes
    after = trk.update(radar.scan([a], T0 + 20.0, rng))
    assert [f.fpl for f in after] == [PLAN]
    assert trk.set_plan(track_id, None) and trk.update(
        radar.scan([a], T0 + 24.0, rng))[-1].fpl is None
    ended = trk.tick(T0 + 3600.0)
    assert [f.state for f in ended] == ["ended"]
    assert not trk.set_plan(track_id, PLAN)  # gone: the id names no live track


@pytest.mark.slow
def test_fused_tracks_of_the_shipped_border_capture_carry_their_flight_plans() -> None:
    """Every fused track of a flight the SDPS sends I390 for carries that flight's plan,
    exactly as simulated."""
    flights = shipped_simulation().flights
    plans = {}
    for i, callsign in enumerate(flights.callsign):
        if callsign and flights.has_fpl[i]:
            plans[callsign] = (flights.dep[i], flights.dst[i], flights.actype[i],
                               flights.wtc[i], float(flights.cfl[i]))
    pipeline = Pipeline(load(ROOT / "captures" / "border.toml"))
    fused: list[Fused] = []
    datagrams = read_datagrams(ROOT / "captures" / "border-10min.pcap.gz")
    for payloads, times in iter_chunks(((d.payload, d.t_capture) for d in datagrams), 64):
        for published in pipeline.feed(payloads, times):
            fused += [m for m in published.messages if isinstance(m, Fused)]
    for published in pipeline.flush():
        fused += [m for m in published.messages if isinstance(m, Fused)]
    with_plan = [f for f in fused if f.callsign in plans]
    assert len({f.id for f in with_plan}) >= 20
    seen_plan: dict[str, bool] = {}
    for f in with_plan:
        seen_plan[f.id] = seen_plan.get(f.id, False) or f.fpl is not None
        if f.fpl is None:
            continue
        dep, dst, actype, wtc, cfl = plans[f.fpl.callsign or ""]
        assert f.fpl.callsign == f.callsign
        assert (f.fpl.dep, f.fpl.dst, f.fpl.type, f.fpl.wtc) == (dep, dst, actype, wtc)
        assert f.fpl.cfl is not None and math.isclose(f.fpl.cfl, cfl, abs_tol=0.5)
    # every such track got its plan, and, once it had it, never lost it
    assert all(seen_plan.values())
    for track_id in seen_plan:
        updates = [f.fpl is not None for f in with_plan if f.id == track_id]
        first = updates.index(True)
        assert all(updates[first:]), track_id


def test_the_picture_carries_the_coordination_state_of_each_flight() -> None:
    """What the pipeline publishes: each fused track with a border dialogue has it in
    ``fpl.coordination``, as the handoff sees it after the cycle."""
    engine, t = Handoff(AIRSPACE, PARAMS), HANDOFF_T0 + 700
    fly(engine, Peer("KZHU"), 700, fpl=PLAN)  # ABI, EST, ACP: coordinated
    ours, other = track(t, 27.0, fpl=PLAN), track(t, 26.0, id="gw-T000002")
    [with_plan, without] = _coordinated(engine, [ours, other])
    assert without == other
    assert with_plan.fpl is not None and with_plan.fpl.coordination is not None
    assert msgspec.structs.replace(with_plan.fpl, coordination=None) == PLAN
    c = with_plan.fpl.coordination
    assert (c.state, c.from_, c.to, c.cop, c.level) == (
        "coordinated", "MMTY", "KZHU", "EGLPS", 350.0)
    assert c.eto is not None and c.eto > t
    [bare] = _coordinated(engine, [track(t, 27.0)])  # a dialogue but no plan
    assert bare.fpl is not None and bare.fpl.callsign == "AMX412" and bare.fpl.dep is None
    assert bare.fpl.coordination == c
    assert decode(encode(bare)) == bare
