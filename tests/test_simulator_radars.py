"""The border-radars scenario: what a radar-only multi-radar tracker must cope with is really
in the simulation (issue 15, "the simulator learns the same").

20 clutter plots per radar per scan; drones (40-150 kt, below 2,000 ft above the ground,
primary plots only, some crossing the border); 3 deg/s turns, holds and 3,000 ft/min climbs;
flights straight over a radar, unseen by it while in its cone of silence (and by anyone, for
the low ones over Hermosillo); the truth's radar lines; and range gains and clock offsets that
show in the plots against the truth.  One 10-minute run (about 3 s) serves every test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pymap3d
import pytest

import gateway
from gateway.sim.feeds import time_of_day
from gateway.sim.radar import TYP_PSR
from gateway.sim.run import Simulation, simulate
from gateway.sim.scenario import BORDER, BORDER_RADARS, RadarSite
from gateway.sim.traffic import border_side, ground_ft
from gateway.sim.truth import truth_lines
from gateway.units import NM

DURATION, SEED = 600.0, 1


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(BORDER_RADARS, DURATION, SEED)


def flights_of(sim: Simulation, behaviour: str) -> np.ndarray:
    return np.flatnonzero(np.asarray(sim.flights.behaviour) == behaviour)


def site(name: str) -> RadarSite:
    return next(r for r in BORDER_RADARS.radars if r.name == name)


def test_same_sites_and_traffic_as_border_with_the_new_features_on() -> None:
    assert [(r.name, r.sac, r.sic, r.lat, r.lon, r.bias_range_m, r.bias_azimuth_deg)
            for r in BORDER_RADARS.radars] == [
        (r.name, r.sac, r.sic, r.lat, r.lon, r.bias_range_m, r.bias_azimuth_deg)
        for r in BORDER.radars]
    assert BORDER_RADARS.flights_per_hour == BORDER.flights_per_hour
    # border keeps every new feature off (its shipped capture is regenerated bit-exactly)
    assert (BORDER.drones_per_hour, BORDER.manoeuvring_flights, BORDER.overflights) == (0, 0, ())
    assert all(r.range_gain == 1.0 and r.time_offset_s == 0.0 for r in BORDER.radars)
    gains = [r.range_gain for r in BORDER_RADARS.radars if r.range_gain != 1.0]
    offsets = [r.time_offset_s for r in BORDER_RADARS.radars if r.time_offset_s != 0.0]
    assert len(gains) >= 3 and all(1e-4 <= abs(g - 1.0) <= 1e-3 for g in gains)
    assert len(offsets) >= 3 and all(0.01 <= o <= 0.25 for o in offsets)


def test_twenty_clutter_plots_per_radar_per_scan(sim: Simulation) -> None:
    for r in BORDER_RADARS.radars:
        p = sim.plots[r.name]
        false = p.flight < 0
        per_scan = np.count_nonzero(false) / (DURATION / r.period_s)
        assert 18.0 <= per_scan <= 22.0, (r.name, per_scan)
        assert np.all(p.typ[false] == TYP_PSR) and np.all(p.track_number[false] == -1)


def test_drones_are_slow_low_primary_only_and_some_cross(sim: Simulation) -> None:
    drones = flights_of(sim, "drone")
    traj, flights = sim.traj, sim.flights
    active = drones[traj.active()[drones].any(axis=1)]
    assert len(active) >= 5
    crossing = 0
    for f in active:
        a = traj.active()[f]
        assert flights.kind[f] == "drone" and flights.icao24[f] == -1
        assert np.all(flights.mode3a[f] == -1) and not flights.has_fpl[f]
        gs = traj.gs_kt[f, a]
        assert np.all((gs >= 40.0) & (gs <= 150.0)), flights.id[f]
        agl = traj.fl[f, a] * 100.0 - ground_ft(traj.lon[f, a])
        assert np.all((agl > 0.0) & (agl < 2000.0)), (flights.id[f], agl.min(), agl.max())
        side = border_side(traj.lat[f, a], traj.lon[f, a])
        crossing += bool(np.any(side[1:] * side[:-1] < 0))
        for plots in sim.plots.values():  # a radar sees a drone by its primary only
            assert np.all(plots.typ[plots.flight == f] == TYP_PSR)
    assert 0 < crossing < len(active)  # some cross the border, some turn short of it
    seen = {int(f) for p in sim.plots.values() for f in np.unique(p.flight) if f in active}
    assert len(seen) >= 0.7 * len(active)  # most are seen: the radars' horizon is far
    lines = [json.loads(x) for x in truth_lines(flights, traj, BORDER_RADARS.start_utc, {})
             if x.startswith('{"kind":"truth"') and '"drone"' in x]
    assert {x["flight"] for x in lines} == {flights.id[f] for f in active}
    assert all(x["transponder"] == "drone" and x["mode3a"] is None and x["icao24"] is None
               for x in lines)


def _turn_rate(track_deg: np.ndarray) -> np.ndarray:
    return (np.diff(track_deg) + 180.0) % 360.0 - 180.0  # deg/s, 1 s samples


def test_manoeuvres_turn_at_three_degrees_a_second_hold_and_climb_fast(sim: Simulation) -> None:
    man = flights_of(sim, "manoeuvre")
    assert len(man) == BORDER_RADARS.manoeuvring_flights
    traj = sim.traj
    holds = climbs = 0
    for f in man:
        a = traj.active()[f]
        rate = _turn_rate(traj.track_deg[f, a])
        sharp = np.abs(rate) >= 2.95
        assert np.count_nonzero(sharp) >= 25, sim.flights.id[f]  # at least a quarter turn
        assert np.all(np.abs(rate) <= 3.0 + 1e-6)
        holds += abs(float(np.sum(rate))) >= 360.0  # a whole lap of the hold within the run
        climbs += float(np.max(traj.roc_fpm[f, a])) >= 2990.0
        assert sim.flights.kind[f] in ("modes", "modeac")
    assert holds >= 2 and climbs >= 3
    # the airliners' 25 degree bank: at their speeds they turn at most about 1.5 deg/s
    route = flights_of(sim, "route")
    fast = route[np.nanmin(np.where(traj.active()[route], traj.gs_kt[route], np.inf),
                           axis=1) > 300.0]
    rates = np.abs((np.diff(traj.track_deg[fast], axis=1) + 180.0) % 360.0 - 180.0)
    assert len(fast) > 100 and np.nanmax(rates) < 2.0


def _elevation(sim: Simulation, f: int, r: RadarSite) -> tuple[np.ndarray, np.ndarray]:
    a = sim.traj.active()[f]
    _az, el, _sr = pymap3d.geodetic2aer(sim.traj.lat[f, a], sim.traj.lon[f, a],
                                        sim.traj.alt_m[f, a], r.lat, r.lon, r.alt_m)
    return sim.traj.t[a], el


def test_overflights_pass_through_a_cone_of_silence_unseen(sim: Simulation) -> None:
    over = flights_of(sim, "overflight")
    assert len(over) == len(BORDER_RADARS.overflights)
    overflown = []
    for f in over:
        r = max(BORDER_RADARS.radars, key=lambda r: float(np.max(_elevation(sim, f, r)[1])))
        t, el = _elevation(sim, f, r)
        inside = t[el >= r.cone_deg]
        assert len(inside) >= 30 and np.all(np.diff(inside) == 1.0), sim.flights.id[f]
        t0, t1 = inside[0], inside[-1]
        own = sim.plots[r.name]
        mine = own.t[own.flight == f]
        assert not np.any((mine >= t0) & (mine <= t1))  # the radar is blind there
        assert np.any(mine < t0) and np.any(mine > t1)  # and sees it either side
        others = [p.t[(p.flight == f) & (p.t >= t0) & (p.t <= t1)]
                  for name, p in sim.plots.items() if name != r.name]
        overflown.append((r.name, sum(len(x) for x in others), t1 - t0))
    assert sorted(name for name, _, _ in overflown) == sorted(
        o.radar for o in BORDER_RADARS.overflights)
    # over Hermosillo nobody sees them, for the best part of a minute or more; the high
    # ones are seen by a neighbour radar meanwhile
    for name, seen_by_others, length in overflown:
        if name == "Hermosillo":
            assert seen_by_others == 0 and length >= 45.0
        else:
            assert seen_by_others > 0


def test_truth_radar_lines_are_the_sites(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "simulate", "--scenario", "border-radars",
         "--duration", "20", "--out", str(tmp_path / "r.pcap"), "--truth", str(truth)],
        capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in truth.read_text().splitlines()]
    radars = [x for x in lines if x["kind"] == "radar"]
    assert lines[-len(radars):] == radars  # they come last
    assert radars == [
        {"kind": "radar", "sac": r.sac, "sic": r.sic, "name": r.name,
         "bias_range_m": r.bias_range_m, "range_gain": r.range_gain,
         "bias_azimuth_deg": r.bias_azimuth_deg, "time_offset_s": r.time_offset_s}
        for r in BORDER_RADARS.radars]


@pytest.fixture(scope="module")
def decoded(sim: Simulation, tmp_path_factory: pytest.TempPathFactory) -> gateway.Decoded:
    from test_simulator import pcap_bytes

    path = tmp_path_factory.mktemp("radars") / "border-radars.pcap"
    path.write_bytes(pcap_bytes(sim))
    return gateway.decode(path)


def test_range_gain_and_bias_show_in_the_plots_against_truth(sim: Simulation) -> None:
    """Measured minus true slant range, fitted against true slant range over the real plots:
    the slope is the range gain less one, the intercept the range bias."""
    for name in ("Hermosillo", "Tucson", "Chihuahua"):
        r = site(name)
        p = sim.plots[name]
        real = p.flight >= 0
        state = sim.traj.at(p.flight[real], p.t[real])
        _az, _el, slant = pymap3d.geodetic2aer(state["lat"], state["lon"], state["alt_m"],
                                               r.lat, r.lon, r.alt_m)
        slope, intercept = np.polyfit(slant, p.rho_nm[real] * NM - slant, 1)
        assert abs(slope - (r.range_gain - 1.0)) < 5e-5, (name, slope)
        assert abs(intercept - r.bias_range_m) < 6.0, (name, intercept)


def test_time_stamps_are_late_by_the_radar_clock_offset(sim: Simulation,
                                                         decoded: gateway.Decoded) -> None:
    """I140 on the wire against each plot's true detection time, plots matched by their
    encoded range and azimuth."""
    b = decoded.batches[48]
    for name in ("Laredo", "Tucson", "San Diego"):
        r = site(name)
        rows = np.flatnonzero((b["010/SAC"] == r.sac) & (b["010/SIC"] == r.sic))
        wire = dict(zip(zip(np.round(b["040/RHO"][rows] * 256).astype(np.int64).tolist(),
                            np.round(b["040/THETA"][rows] * 65536 / 360).astype(np.int64)
                            .tolist(), strict=True),
                        b["140"][rows].tolist(), strict=True))
        p = sim.plots[name]
        keys = zip(np.round(p.rho_nm * 256).astype(np.int64).tolist(),
                   (np.round(p.theta_deg * 65536 / 360).astype(np.int64) % 65536).tolist(),
                   strict=True)
        true_tod = time_of_day(BORDER_RADARS.start_utc, p.t)
        late = np.array([wire[k] - t for k, t in zip(keys, true_tod, strict=True) if k in wire])
        assert len(late) > 0.95 * len(p.t)
        assert abs(float(np.median(late)) - r.time_offset_s) < 1.0 / 128, name
        assert np.all(np.abs(late - r.time_offset_s) <= 1.0 / 128 + 1e-9), name
