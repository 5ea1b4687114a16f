"""The simulated air traffic: deterministic, steady, physically consistent, unique identities.

Simulations are cached per (scenario, duration, seed): most checks share one 20-minute run of
the border scenario.  Geometry is checked with formulas independent of the simulator's own
(spherical haversine and bearing, not the ellipsoid integration).
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache

import numpy as np
import pytest

from gateway.sim.scenario import BORDER, Scenario
from gateway.sim.traffic import (
    BORDER_LINE,
    Flights,
    Trajectories,
    altitude_offset_m,
    simulate_traffic,
)

DURATION = 1200.0
KT = 1852.0 / 3600.0
R = 6371008.8
SCENARIOS: dict[str, Scenario] = {
    "border": BORDER,
    "primaries": replace(BORDER, flights_per_hour=0.0, primary_only_per_hour=60.0),
}


@cache
def run(scenario: str = "border", duration: float = DURATION,
        seed: int = 1) -> tuple[Flights, Trajectories]:
    return simulate_traffic(SCENARIOS[scenario], duration, seed)


def side(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """+1 north of the border polyline, -1 south."""
    b_lat = np.array([p[0] for p in BORDER_LINE])
    b_lon = np.array([p[1] for p in BORDER_LINE])
    return np.sign(lat - np.interp(lon, b_lon, b_lat))


def pairs(traj: Trajectories) -> tuple[np.ndarray, np.ndarray]:
    """(flight, sample) of every pair of consecutive active samples k, k+1."""
    a = traj.active()
    return np.nonzero(a[:, :-1] & a[:, 1:])


def haversine_bearing(lat1, lon1, lat2, lon2):  # degrees in, metres and degrees out
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(lon2 - lon1)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    dist = 2 * R * np.arcsin(np.sqrt(a))
    brg = np.degrees(np.arctan2(np.sin(dl) * np.cos(p2),
                                np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)))
    return dist, brg % 360


def angle_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a - b + 180.0) % 360.0 - 180.0


ARRAYS = ("lat", "lon", "alt_m", "fl", "gs_kt", "track_deg", "roc_fpm")


# --- determinism ------------------------------------------------------------------------------


@pytest.mark.slow
def test_same_seed_same_arrays_bit_for_bit():
    f1, t1 = run()
    f2, t2 = simulate_traffic(BORDER, DURATION, 1)
    for name in ("t", *ARRAYS):
        a, b = getattr(t1, name), getattr(t2, name)
        assert a.shape == b.shape and a.tobytes() == b.tobytes(), name
    for name in f1.__dataclass_fields__:
        a, b = getattr(f1, name), getattr(f2, name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
        else:
            assert a == b, name


@pytest.mark.slow
def test_different_seed_different_traffic():
    f1, t1 = run()
    f2, t2 = run(seed=2)
    assert f1.callsign != f2.callsign
    assert t1.lat.shape != t2.lat.shape or not np.array_equal(t1.lat, t2.lat, equal_nan=True)


# --- the traffic as a whole -------------------------------------------------------------------


def test_shapes_and_nan_where_inactive():
    flights, traj = run()
    n_f, n_t = len(flights.id), int(DURATION) + 1
    assert np.array_equal(traj.t, np.arange(n_t, dtype=float))
    active = traj.active()
    assert active.shape == (n_f, n_t) and active.any(axis=1).all()
    for name in ARRAYS:
        a = getattr(traj, name)
        assert a.shape == (n_f, n_t) and a.dtype == np.float64
        assert np.array_equal(np.isnan(a), ~active), name
    s, n, w, e = BORDER.region
    assert np.all((traj.lat[active] >= s) & (traj.lat[active] <= n))
    assert np.all((traj.lon[active] >= w) & (traj.lon[active] <= e))
    for name in ("id", "callsign", "kind", "dep", "dst", "actype", "wtc", "behaviour"):
        assert len(getattr(flights, name)) == n_f
    assert flights.mode3a.shape == (n_f, 2) and flights.icao24.shape == (n_f,)
    assert len(set(flights.id)) == n_f


def test_steady_state_from_the_start():
    flights, traj = run()
    active = traj.active()
    at_start, at_end = active[:, 0].sum(), active[:, -1].sum()
    assert at_start > 200
    assert 0.8 < at_start / at_end < 1.25
    assert (flights.t_off < 0).sum() > 100  # departed before the start and still flying


def test_flights_per_hour():
    """In steady state, flights enter the picture at the rate they take off."""
    flights, traj = run()
    active = traj.active()
    airline = np.isin(flights.behaviour, ("route", "turnback"))
    new = (airline & ~active[:, 0]).sum() * 3600.0 / DURATION
    assert 0.75 * BORDER.flights_per_hour < new < 1.25 * BORDER.flights_per_hour


def test_shares_of_behaviour_and_transponder():
    flights, _ = run()
    kind = np.array(flights.kind)
    behaviour = np.array(flights.behaviour)
    airline = behaviour != "primary-crossing"
    assert set(kind) == {"modes", "modeac", "psr"}
    assert np.all((kind == "psr") == ~airline)
    assert 0.03 < (kind[airline] == "modeac").mean() < 0.15
    assert 1 <= (behaviour == "turnback").sum() < 0.1 * airline.sum()
    changed = np.isfinite(flights.squawk_change_t)
    assert 0.04 < changed[airline].mean() < 0.16 and not changed[~airline].any()


# --- identities -------------------------------------------------------------------------------


def test_metadata_per_kind():
    flights, _ = run()
    airports = {a.icao: a for a in BORDER.airports}
    types = {t[0]: t[1] for t in BORDER.aircraft_types}
    designators = {a for a, _ in BORDER.airlines}
    for f in range(len(flights.id)):
        if flights.kind[f] == "psr":
            assert flights.callsign[f] is None and flights.icao24[f] == -1
            assert np.all(flights.mode3a[f] == -1) and not flights.has_fpl[f]
            assert flights.behaviour[f] == "primary-crossing" and np.isnan(flights.cfl[f])
            assert flights.dep[f] is None and flights.actype[f] is None
            continue
        cs = flights.callsign[f]
        assert re.fullmatch(r"[A-Z]{3}[1-9]\d{0,3}", cs) and cs[:3] in designators
        assert flights.has_fpl[f]
        assert flights.dep[f] in airports and flights.dst[f] in airports
        assert flights.dep[f] != flights.dst[f]
        assert types[flights.actype[f]] == flights.wtc[f]
        assert 160 <= flights.cfl[f] <= 410 and flights.cfl[f] % 10 == 0
        if flights.kind[f] == "modeac":
            assert flights.icao24[f] == -1
    cs = [c for c in flights.callsign if c is not None]
    assert len(set(cs)) == len(cs)


def test_mode_s_addresses_unique_and_in_country_blocks():
    flights, _ = run()
    modes = np.array(flights.kind) == "modes"
    addr = flights.icao24[modes]
    assert np.all(flights.icao24[~modes] == -1)
    assert len(np.unique(addr)) == len(addr)
    mx = (addr >= 0x0D0000) & (addr <= 0x0D7FFF)
    us = (addr >= 0xA00000) & (addr <= 0xADF7C7)
    assert np.all(mx | us) and mx.any() and us.any()


def test_mode3a_codes_valid_and_unique_at_every_time():
    flights, traj = run()
    transponder = np.array(flights.kind) != "psr"
    codes = flights.mode3a[transponder]
    assert np.all((codes >= 0) & (codes < 0o10000))
    assert not np.isin(codes, [0o7500, 0o7600, 0o7700, 0o1200, 0o2000, 0o7000]).any()
    same = np.isnan(flights.squawk_change_t)
    assert np.all(flights.mode3a[same & transponder, 0] == flights.mode3a[same & transponder, 1])
    assert np.all(flights.mode3a[~same, 0] != flights.mode3a[~same, 1])
    change = np.nan_to_num(flights.squawk_change_t, nan=np.inf)[:, None]
    code = np.where(traj.t[None, :] < change, flights.mode3a[:, :1], flights.mode3a[:, 1:])
    code = np.where(traj.active(), code, -1)
    on_air = np.sort(code, axis=0)
    assert not np.any((on_air[1:] == on_air[:-1]) & (on_air[1:] >= 0))


def test_squawk_change_while_active():
    flights, traj = run()
    active = traj.active()
    for f in np.flatnonzero(np.isfinite(flights.squawk_change_t)):
        k = int(flights.squawk_change_t[f])
        assert active[f, k] or active[f, k + 1]


# --- physics ----------------------------------------------------------------------------------


def test_positions_advance_by_ground_speed_along_track():
    _, traj = run()
    f, k = pairs(traj)
    dist, brg = haversine_bearing(traj.lat[f, k], traj.lon[f, k],
                                  traj.lat[f, k + 1], traj.lon[f, k + 1])
    expected = (traj.gs_kt[f, k] + traj.gs_kt[f, k + 1]) / 2 * KT
    assert np.max(np.abs(dist / expected - 1)) < 0.01
    mean_track = (traj.track_deg[f, k]
                  + angle_diff(traj.track_deg[f, k + 1], traj.track_deg[f, k]) / 2)
    assert np.max(np.abs(angle_diff(brg, mean_track))) < 0.5


def test_turn_rates_standard_or_less():
    _, traj = run()
    f, k = pairs(traj)
    rate = np.abs(angle_diff(traj.track_deg[f, k + 1], traj.track_deg[f, k]))
    assert rate.max() <= 3.5
    assert (rate > 0.5).sum() > 100  # flights do turn


def test_vertical_profile():
    flights, traj = run()
    f, k = pairs(traj)
    roc = traj.roc_fpm[traj.active()]
    assert roc.min() > -3600 and roc.max() < 2600
    assert (roc > 1400).any() and (roc < -1400).any()
    # roc is the pressure-altitude rate: trapezoidal over each second
    dh = (traj.fl[f, k + 1] - traj.fl[f, k]) * 100 * 60
    assert np.max(np.abs(dh - (traj.roc_fpm[f, k] + traj.roc_fpm[f, k + 1]) / 2)) < 1.0
    # cruise levels reached, not overshot by more than a little
    top = np.nanmax(traj.fl, axis=1)
    airline = np.array(flights.kind) != "psr"
    assert np.all(top[airline] <= flights.cfl[airline] + 1.0)
    assert np.mean(np.abs(top[airline] - flights.cfl[airline]) < 1.0) > 0.5
    # geometric altitude is the pressure altitude plus a small documented offset
    offset = traj.alt_m - traj.fl * 100 * 0.3048
    assert np.allclose(offset[traj.active()], altitude_offset_m(traj.lat[traj.active()]))
    assert 10 < np.nanmin(offset) and np.nanmax(offset) < 50


def test_never_below_the_airports():
    flights, traj = run()
    elev = {a.icao: a.elev_m / 0.3048 for a in BORDER.airports}
    low = np.nanmin(traj.fl, axis=1) * 100
    for f in range(len(flights.id)):
        if flights.kind[f] == "psr":
            assert 400 < low[f] < 9000
        else:
            assert low[f] >= min(elev[flights.dep[f]], elev[flights.dst[f]]) - 50


def test_speeds():
    flights, traj = run()
    psr = np.array(flights.kind) == "psr"
    gs = traj.gs_kt
    assert np.nanmin(gs[psr]) >= 90 and np.nanmax(gs[psr]) <= 140
    assert np.nanmin(gs[~psr]) >= 139 and np.nanmax(gs[~psr]) < 600
    low = traj.active() & (traj.fl < 95)
    assert np.all(gs[low & ~psr[:, None]] <= 250.001)
    cruise = traj.active() & (np.abs(traj.fl - flights.cfl[:, None]) < 1)
    assert np.nanmedian(gs[cruise]) > 420


@pytest.mark.slow
def test_primary_only_targets_cross_the_border():
    flights, traj = run("primaries", 5400.0, 3)
    active = traj.active()
    assert set(flights.kind) == {"psr"}
    whole = active.any(axis=1) & ~active[:, 0] & ~active[:, -1]
    assert whole.sum() >= 5
    for f in np.flatnonzero(whole):
        s = side(traj.lat[f, active[f]], traj.lon[f, active[f]])
        assert (s > 0).any() and (s < 0).any(), flights.id[f]
    fl = traj.fl[active]
    assert fl.min() > 4 and fl.max() < 80  # low
    assert np.all(np.abs(traj.roc_fpm[active]) <= 1000)


def test_turnback_flights_never_cross_the_border():
    flights, traj = run()
    active = traj.active()
    turnback = np.flatnonzero(np.array(flights.behaviour) == "turnback")
    assert len(turnback) >= 1
    airports = {a.icao: a for a in BORDER.airports}
    for f in turnback:
        s = side(traj.lat[f, active[f]], traj.lon[f, active[f]])
        assert len(np.unique(s)) == 1, flights.id[f]
        dep, dst = airports[flights.dep[f]], airports[flights.dst[f]]
        assert dep.country != dst.country


def test_route_flights_do_cross_when_bound_abroad():
    """Cross-border flights that are not turning back do cross (most within 20 minutes)."""
    flights, traj = run()
    active = traj.active()
    airports = {a.icao: a for a in BORDER.airports}
    crossed = []
    for f in np.flatnonzero(np.array(flights.behaviour) == "route"):
        if airports[flights.dep[f]].country != airports[flights.dst[f]].country:
            s = side(traj.lat[f, active[f]], traj.lon[f, active[f]])
            crossed.append((s > 0).any() and (s < 0).any())
    assert 0.1 < np.mean(crossed) < 0.9


# --- at() -------------------------------------------------------------------------------------


def test_at_on_samples_halfway_and_outside():
    _, traj = run()
    f, k = pairs(traj)
    pick = np.arange(0, len(f), max(len(f) // 5000, 1))
    f, k = f[pick], k[pick]
    on = traj.at(f, k.astype(float))
    for name in ARRAYS:
        assert np.array_equal(on[name], getattr(traj, name)[f, k]), name
    half = traj.at(f, k + 0.5)
    for name in ARRAYS:
        a, b = getattr(traj, name)[f, k], getattr(traj, name)[f, k + 1]
        if name == "track_deg":
            mid = (a + angle_diff(b, a) / 2) % 360
            assert np.all(np.abs(angle_diff(half[name], mid)) < 1e-9)
        else:
            assert np.allclose(half[name], (a + b) / 2, rtol=1e-12, atol=1e-9), name
    # inactive neighbour, before 0, after the end: nan
    active = traj.active()
    fi, ki = np.nonzero(active[:, :-1] & ~active[:, 1:])
    assert np.all(np.isnan(traj.at(fi, ki + 0.5)["lat"]))
    assert np.array_equal(traj.at(fi, ki.astype(float))["lat"], traj.lat[fi, ki])
    out = traj.at(np.array([0, 0]), np.array([-0.5, DURATION + 0.5]))
    assert np.all(np.isnan(out["fl"]))


def test_at_track_the_short_way_round():
    nan = np.nan
    row = np.array([[359.0, 1.0, nan]])
    traj = Trajectories(t=np.arange(3.0), lat=np.array([[30.0, 30.001, nan]]),
                        lon=np.array([[-100.0, -100.0, nan]]), alt_m=row * 0 + 1000,
                        fl=row * 0 + 30, gs_kt=row * 0 + 100, track_deg=row,
                        roc_fpm=row * 0)
    got = traj.at(np.array([0, 0, 0, 0]), np.array([0.25, 0.5, 1.0, 1.5]))
    assert np.allclose(got["track_deg"][:2], [359.5, 0.0])
    assert got["track_deg"][2] == 1.0 and np.isnan(got["track_deg"][3])
    assert np.isclose(got["lat"][0], 30.00025)


@pytest.mark.parametrize("duration", [0.0, 10.5])
def test_short_and_fractional_durations(duration):
    flights, traj = simulate_traffic(BORDER, duration, 5)
    assert len(traj.t) == int(duration) + 1
    assert traj.lat.shape == (len(flights.id), len(traj.t))
    assert traj.active().any(axis=1).all() and len(flights.id) > 200
