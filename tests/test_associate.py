"""The multi-source tracker (gateway.associate): each part on its own, then behaviour on
small synthetic streams built here, then the border simulation end to end.

No wall clock anywhere: time is what the messages say.  Synthetic aircraft fly straight
lines in the tracker's own plane; radars measure range and azimuth from their site with
Gaussian noise; an SDPS reports positions with 40 m noise.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

import msgspec
import numpy as np
import pytest

from gateway.associate import (
    ConformalFrame,
    RadarNoise,
    Tracker,
    TrackerParameters,
)
from gateway.associate.assignment import GlobalNearestNeighbour
from gateway.associate.filter import ConstantVelocity, LevelFilter, max_eigen2
from gateway.associate.gating import IdentityGater
from gateway.associate.measurements import MeasurementModel, height_correction
from gateway.associate.tracks import ADDRESS, CODE, TrackTable
from gateway.messages import TOPIC_LEVEL_PATTERN, Fused, Plot, Source, Track, decode, encode

T0 = 1_779_868_800.0
NM = 1852.0
KT = NM / 3600.0
FRAME = ConformalFrame()
SITE_A = (30.0, -104.0)  # two radars 150 km apart, aircraft between them
SITE_B = (31.2, -103.0)


# -- a small synthetic sky ---------------------------------------------------------------------

@dataclass
class Aircraft:
    """Straight flight in the plane from (lat, lon) at t=T0 with velocity (east, north)."""

    lat: float
    lon: float
    ve: float  # m/s east (plane)
    vn: float  # m/s north (plane)
    icao24: str | None = None
    mode3a: str | None = None
    callsign: str | None = None
    fl: float | None = 350.0
    psr_only: bool = False
    squawk_at: tuple[float, str] | None = None  # (time since T0, new code)

    def xy(self, t: float) -> tuple[float, float]:
        x0, y0 = FRAME.to_xy(np.array([self.lat]), np.array([self.lon]))
        return float(x0[0] + self.ve * (t - T0)), float(y0[0] + self.vn * (t - T0))

    def code(self, t: float) -> str | None:
        if self.squawk_at and t - T0 >= self.squawk_at[0]:
            return self.squawk_at[1]
        return self.mode3a


@dataclass
class Radar:
    lat: float
    lon: float
    sic: int
    sigma_r: float = 40.0
    sigma_az: float = 0.05
    sac: int = 1
    numbers: dict[int, int] = field(default_factory=dict)  # aircraft index -> track number

    @property
    def xy(self) -> tuple[float, float]:
        x, y = FRAME.to_xy(np.array([self.lat]), np.array([self.lon]))
        return float(x[0]), float(y[0])

    def noise(self) -> RadarNoise:
        return RadarNoise(self.sigma_r, self.sigma_az, 20.0, 0.02, self.lat, self.lon, 0.0)

    def plot(self, a: Aircraft, i: int, t: float, rng: np.random.Generator,
             position: tuple[float, float] | None = None, **override) -> Plot:
        """The plot of aircraft a (index i) at time t (at ``position`` if given)."""
        x, y = position or a.xy(t)
        xr, yr = self.xy
        bearing = np.arctan2(x - xr, y - yr) + rng.normal(0, np.radians(self.sigma_az))
        rho = np.hypot(x - xr, y - yr) + rng.normal(0, self.sigma_r)
        px, py = xr + rho * np.sin(bearing), yr + rho * np.cos(bearing)
        lat, lon = FRAME.to_latlon(np.array([px]), np.array([py]))
        theta = float(np.degrees(bearing - FRAME.north(lon[0]))) % 360.0
        speed = float(np.hypot(a.ve, a.vn)) / KT
        heading = float(np.degrees(np.arctan2(a.ve, a.vn) - FRAME.north(lon[0]))) % 360.0
        fields = dict(
            t=t, src=Source(sac=self.sac, sic=self.sic, cat=48), lat=float(lat[0]),
            lon=float(lon[0]), rho_nm=float(rho / NM), theta_deg=theta,
            fl=None if a.psr_only else a.fl, mode3a=None if a.psr_only else a.code(t),
            icao24=None if a.psr_only else a.icao24,
            callsign=None if a.psr_only else a.callsign,
            track_number=self.numbers.setdefault(i, 100 + i), gs_kt=speed,
            hdg_deg=heading,
            detection="psr" if a.psr_only else ("modes" if a.icao24 else "ssr"), flags=[])
        fields.update(override)
        return Plot(**fields)

    def scan(self, sky: list[Aircraft], t: float, rng: np.random.Generator) -> list[Plot]:
        return [self.plot(a, i, t + 0.01 * i, rng) for i, a in enumerate(sky)]


def sdps_track(a: Aircraft, number: int, t: float, rng: np.random.Generator,
               position: tuple[float, float] | None = None, sic: int = 200, **override,
               ) -> Track:
    x, y = position or a.xy(t)
    lat, lon = FRAME.to_latlon(np.array([x + rng.normal(0, 40)]),
                               np.array([y + rng.normal(0, 40)]))
    fields = dict(
        t=t, src=Source(sac=0, sic=sic, cat=62), track_number=number, lat=float(lat[0]),
        lon=float(lon[0]), fl=a.fl, gs_kt=float(np.hypot(a.ve, a.vn)) / KT,
        trk_deg=float(np.degrees(np.arctan2(a.ve, a.vn) - FRAME.north(lon[0]))) % 360.0,
        roc_fpm=0.0, mode3a=a.code(t), icao24=a.icao24, callsign=a.callsign, fpl=None,
        flags=[])
    fields.update(override)
    return Track(**fields)


def tracker(radars: list[Radar], **parameters) -> Tracker:
    return Tracker(TrackerParameters(**parameters),
                   radars={(r.sac, r.sic): r.noise() for r in radars}, sdps_sigma_m=100.0)


def fly(trk: Tracker, radars: list[Radar], sky: list[Aircraft], seconds: float,
        rng: np.random.Generator, start: float = 0.0, period: float = 4.0,
        ) -> tuple[list[Fused], list[tuple[int, int, str | None]]]:
    """Every radar scans every ``period`` (staggered); returns all Fused and, per plot,
    (aircraft index, track uid, published id)."""
    out: list[Fused] = []
    where: list[tuple[int, int, str | None]] = []
    t = start
    while t < seconds:
        for k, radar in enumerate(radars):
            plots = radar.scan(sky, T0 + t + k * period / len(radars), rng)
            out += trk.update(plots)
            a = trk.last_association
            where += [(int(i), int(u), lbl) for i, u, lbl in zip(
                a.index.tolist(), a.uid.tolist(), a.label, strict=True)]
        t += period
    return out, where


def ids_of(where: list[tuple[int, int, str | None]], aircraft: int) -> list[str]:
    """The published ids an aircraft's plots went to, in order, repeats collapsed."""
    seq: list[str] = []
    for i, _uid, label in where:
        if i == aircraft and label is not None and (not seq or seq[-1] != label):
            seq.append(label)
    return seq


def last(out: list[Fused], label: str) -> Fused:
    return [f for f in out if f.id == label][-1]


def distance_m(f: Fused, a: Aircraft) -> float:
    x, y = FRAME.to_xy(np.array([f.lat]), np.array([f.lon]))
    ax, ay = a.xy(f.t)
    return float(np.hypot(x[0] - ax, y[0] - ay))


# -- frame ----------------------------------------------------------------------------------

def test_frame_round_trip_and_scale() -> None:
    lat = np.array([25.0, 27.0, 29.5, 31.7, 34.0])
    lon = np.array([-118.0, -110.0, -106.5, -100.0, -95.0])
    x, y = FRAME.to_xy(lat, lon)
    lat2, lon2 = FRAME.to_latlon(x, y)
    assert np.allclose(lat2, lat, atol=1e-9) and np.allclose(lon2, lon, atol=1e-9)
    assert abs(x[2]) < 1e-6 and abs(y[2]) < 1e-6  # the origin
    k = FRAME.scale(np.linspace(25.0, 34.0, 50))
    assert np.all(np.abs(k - 1) < 0.003)  # ~0.3 % over the border region
    assert FRAME.scale(np.array([27.0, 33.0])) == pytest.approx(1.0, abs=1e-6)


def test_frame_grid_north() -> None:
    """North of a western point, in the plane, leans east (meridians meet at the apex)."""
    for lon in (-118.0, -106.5, -96.0):
        x0, y0 = FRAME.to_xy(np.array([30.0]), np.array([lon]))
        x1, y1 = FRAME.to_xy(np.array([30.01]), np.array([lon]))
        grid_bearing = np.arctan2(x1 - x0, y1 - y0)[0]
        assert grid_bearing == pytest.approx(float(FRAME.north(lon)), abs=1e-4)
    assert float(FRAME.north(-118.0)) > 0


# -- filter (predictor, updaters) -------------------------------------------------------------

def test_filter_predicts_a_straight_line() -> None:
    f = ConstantVelocity(q=1.0)
    x = np.array([[0.0, 0.0, 200.0, -50.0]])
    P = np.diag([100.0, 100.0, 25.0, 25.0])[None]
    x1, P1 = f.predict(x, P, np.array([10.0]))
    assert np.allclose(x1[0], [2000.0, -500.0, 200.0, -50.0])
    # position variance grows by dt^2 var(v) + q dt^3 / 3
    assert P1[0, 0, 0] == pytest.approx(100 + 100 * 25 + 1000 / 3)
    back, _ = f.predict(x1, P1, np.array([-10.0]))  # CV runs backwards too
    assert np.allclose(back[0], x[0])


def test_filter_converges_on_a_straight_line() -> None:
    rng = np.random.default_rng(1)
    f = ConstantVelocity(q=0.5)
    truth_v = np.array([230.0, 40.0])
    R = np.diag([80.0 ** 2, 80.0 ** 2])[None]
    x, P = f.initiate(np.zeros((1, 2)), R, np.zeros((1, 2)), np.array([np.nan]))
    t = 0.0
    for _ in range(1, 60):
        dt = 4.0
        t += dt
        x, P = f.predict(x, P, np.array([dt]))
        z = truth_v * t + rng.normal(0, 80, 2)
        x, P = f.update(x, P, z[None], R)
    assert np.allclose(x[0, 2:], truth_v, atol=5.0)
    assert np.hypot(*(x[0, :2] - truth_v * t)) < 100.0
    assert np.sqrt(P[0, 0, 0]) < 80.0  # better than one plot


def test_covariance_intersection_never_worse_than_the_larger_input() -> None:
    rng = np.random.default_rng(2)
    f = ConstantVelocity()
    for _ in range(200):
        A = rng.normal(size=(4, 4)) * rng.uniform(10, 300)
        P = A @ A.T + np.eye(4)
        B = rng.normal(size=(2, 2)) * rng.uniform(10, 300)
        R = B @ B.T + np.eye(2)
        w = f.ci_weight(P[None], R[None])[0]
        assert 0.0 <= w <= 1.0
        x = rng.normal(size=(1, 4)) * 100
        _, Pf, skipped = f.intersect(x, P[None], rng.normal(size=(1, 2)) * 100, R[None])
        assert skipped == 0
        fused = np.trace(Pf[0, :2, :2])
        assert fused <= max(np.trace(P[:2, :2]), np.trace(R)) * (1 + 1e-9)
        assert fused <= min(np.trace(P[:2, :2]), np.trace(R)) * (1 + 1e-9)  # CI's optimum
        assert np.all(np.linalg.eigvalsh(Pf[0]) > -1e-6)


def test_covariance_intersection_keeps_the_velocity() -> None:
    """An SDPS position much better than the track's must not throw the velocity away."""
    f = ConstantVelocity()
    x = np.array([[0.0, 0.0, 200.0, 0.0]])
    P = np.diag([300.0 ** 2, 300.0 ** 2, 4.0, 4.0])[None]
    x1, P1, _ = f.intersect(x, P, np.array([[100.0, 0.0]]), np.diag([10.0, 10.0])[None] ** 2)
    assert x1[0, 0] == pytest.approx(100.0, abs=5.0)
    assert P1[0, 2, 2] <= 4.0 + 1e-9 and x1[0, 2] == pytest.approx(200.0)


def test_level_filter_rate_of_climb() -> None:
    lf = LevelFilter(q=0.002, sigma_fl=0.3)
    s = np.full((1, 2), np.nan)
    P = np.zeros((1, 2, 2))
    rate = 1500 / 6000  # FL/s
    for k in range(40):
        z = np.array([300.0 + rate * 4 * k])
        lf.step(s, P, np.array([4.0 if k else 0.0]), np.round(z * 4) / 4)
    assert s[0, 1] * 6000 == pytest.approx(1500, abs=150)


# -- gating (hypothesiser) ---------------------------------------------------------------------

def _gate_setup(plots: list[Plot], tracks_xy: list[tuple[float, float]],
                identities: list[tuple[int, int]] | None = None):
    p = TrackerParameters()
    radar = Radar(*SITE_A, sic=1)
    table = TrackTable()
    rows = table.new(len(tracks_xy))
    f = ConstantVelocity(p.q)
    for r, (x, y) in zip(rows, tracks_xy, strict=True):
        table.x[r] = [x, y, 200.0, 0.0]
        table.P[r] = np.diag([50.0 ** 2, 50.0 ** 2, 5.0 ** 2, 5.0 ** 2])
        table.t[r] = T0
        table.state[r] = 1  # confirmed
        table.tracked[r] = True
    for r, (adr, code) in zip(rows, identities or [], strict=False):
        table.ident[r, 0], table.ident[r, 1] = adr, code
    model = MeasurementModel(FRAME, {(1, 1): radar.noise()}, 100.0)
    (m,) = model.convert(plots)
    table.ensure_sources(len(model.sources.keys))
    return IdentityGater(p).hypothesise(table, rows, m, f), rows


def test_gate_accepts_the_right_pair_and_rejects_a_far_one() -> None:
    rng = np.random.default_rng(3)
    a = Aircraft(30.6, -103.6, 200.0, 0.0)
    radar = Radar(*SITE_A, sic=1)
    x, y = a.xy(T0)
    plot = radar.plot(a, 0, T0, rng)
    hyp, rows = _gate_setup([plot], [(x, y), (x + 3000.0, y)])
    assert hyp.track.tolist() == [rows[0]]  # 3 km off: outside the gate
    assert hyp.d2[0] < TrackerParameters().gate_chi2


def test_gate_refuses_a_contradicting_identity() -> None:
    rng = np.random.default_rng(4)
    a = Aircraft(30.6, -103.6, 200.0, 0.0, icao24="ABC123", mode3a="4521")
    x, y = a.xy(T0)
    plot = Radar(*SITE_A, sic=1).plot(a, 0, T0, rng)
    # same place: one track with another address, one with another discrete code
    hyp, _rows = _gate_setup([plot], [(x, y), (x, y)], [(0xABC999, -1), (-1, 0o1234)])
    assert len(hyp.track) == 0
    # a non-discrete code (7700) is not an identity: no contradiction
    plot = Radar(*SITE_A, sic=1).plot(Aircraft(30.6, -103.6, 200.0, 0.0, mode3a="7700"), 0,
                                      T0, rng)
    hyp, rows = _gate_setup([plot], [(x, y)], [(-1, 0o1234)])
    assert hyp.track.tolist() == [rows[0]]


def test_height_correction_places_a_primary_plot_at_the_track_level() -> None:
    """A primary plot of an airliner at FL350, placed by the normaliser at a fallback
    height of 1500 m, is short by hundreds of metres; at the track's level it lands on
    the aircraft."""
    earth = 6371000.0
    a = Aircraft(30.3, -103.7, 0.0, 0.0, psr_only=True)
    radar = Radar(*SITE_A, sic=1, sigma_r=0.0, sigma_az=0.0)
    x, y = a.xy(T0)
    xr, yr = radar.xy
    k = float(FRAME.scale(np.array([30.15]))[0])
    ground = np.hypot(x - xr, y - yr) / k
    h = 350 * 100 * 0.3048

    def slant(g: float, height: float) -> float:  # law of cosines, antenna at sea level
        rt = earth + height
        return float(np.sqrt(earth ** 2 + rt ** 2 - 2 * earth * rt * np.cos(g / earth)))

    rho = slant(ground, h)
    g_low = ground
    for _ in range(50):  # where the normaliser put it: same slant range at 1500 m
        g_low -= (slant(g_low, 1500.0) - rho) * 0.9
    shrink = g_low / ground
    placed = (xr + (x - xr) * shrink, yr + (y - yr) * shrink)
    plot = radar.plot(a, 0, T0, np.random.default_rng(0), position=placed,
                      rho_nm=rho / NM)
    model = MeasurementModel(FRAME, {(1, 1): radar.noise()}, 100.0)
    (m,) = model.convert([plot])
    before = np.hypot(m.x[0] - x, m.y[0] - y)
    dx, dy = height_correction(m, np.array([0]), np.array([350.0]))
    after = np.hypot(m.x[0] + dx[0] - x, m.y[0] + dy[0] - y)
    assert before > 300.0 and after < 5.0


# -- assignment (associator) ------------------------------------------------------------------

def test_assignment_is_global_not_greedy() -> None:
    """Greedy takes (m0, t0) at cost 1 first and leaves m1 with nothing; the global answer
    pairs m0-t1 and m1-t0 (total 4 instead of 1 + a miss)."""
    track = np.array([10, 11, 10])
    meas = np.array([0, 0, 1])
    cost = np.array([1.0, 2.0, 2.0])
    chosen = GlobalNearestNeighbour(miss_cost=20.0).associate(track, meas, cost)
    pairs = sorted(zip(track[chosen].tolist(), meas[chosen].tolist(), strict=True))
    assert pairs == [(10, 1), (11, 0)]


def test_assignment_leaves_a_measurement_rather_than_pay_more_than_a_miss() -> None:
    chosen = GlobalNearestNeighbour(miss_cost=5.0).associate(
        np.array([1, 1]), np.array([0, 1]), np.array([1.0, 2.0]))
    assert chosen.tolist() == [0]
    assert GlobalNearestNeighbour(miss_cost=5.0).associate(
        np.array([1]), np.array([0]), np.array([7.0])).tolist() == []


# -- lifecycle (initiator, deleter) ------------------------------------------------------------

def test_modes_track_confirms_on_its_first_update_by_default() -> None:
    """The address is a hard key: a flight entering coverage is published at once."""
    rng = np.random.default_rng(5)
    radar = Radar(*SITE_A, sic=1)
    sky = [Aircraft(30.5, -103.5, 200.0, 50.0, icao24="A1B2C3", mode3a="2341")]
    trk = tracker([radar])
    assert [f.state for f in trk.update(radar.scan(sky, T0, rng))] == ["confirmed"]
    code_only = [Aircraft(30.5, -103.5, 200.0, 50.0, mode3a="2342")]
    trk = tracker([radar])
    assert trk.update(radar.scan(code_only, T0, rng)) == []  # a code alone: two replies
    assert [f.state for f in trk.update(radar.scan(code_only, T0 + 4.0, rng))] == ["confirmed"]


def test_modes_track_confirms_on_the_second_update_and_is_never_published_before() -> None:
    rng = np.random.default_rng(5)
    radar = Radar(*SITE_A, sic=1)
    sky = [Aircraft(30.5, -103.5, 200.0, 50.0, icao24="A1B2C3", mode3a="2341",
                    callsign="AMX401")]
    trk = tracker([radar], confirm_updates_modes=2)
    assert trk.update(radar.scan(sky, T0, rng)) == []  # tentative: not published
    out = trk.update(radar.scan(sky, T0 + 4.0, rng))
    assert [f.state for f in out] == ["confirmed"]
    f = out[0]
    assert f.icao24 == "A1B2C3" and f.mode3a == "2341" and f.callsign == "AMX401"
    assert f.sources[0].sac == 1 and f.sources[0].sic == 1 and f.sources[0].cat == 48
    assert f.sources[0].track_number == 100
    assert trk.counters["track-confirmed"] == 1


def test_position_only_track_needs_three_updates_within_the_window() -> None:
    rng = np.random.default_rng(6)
    radar = Radar(*SITE_A, sic=1)
    sky = [Aircraft(30.5, -103.5, 60.0, 0.0, fl=None, psr_only=True)]
    trk = tracker([radar])
    states = [[f.state for f in trk.update([radar.plot(sky[0], 0, T0 + 6.0 * k, rng,
                                                       track_number=None)])]
              for k in range(4)]
    assert states == [[], [], ["confirmed"], ["confirmed"]]
    # plots the radar's own tracker numbered: two (confirm_updates_tracked)
    trk = tracker([radar])
    states = [[f.state for f in trk.update(radar.scan(sky, T0 + 6.0 * k, rng))]
              for k in range(3)]
    assert states == [[], ["confirmed"], ["confirmed"]]


def test_clutter_that_does_not_line_up_is_never_published() -> None:
    rng = np.random.default_rng(7)
    radar = Radar(*SITE_A, sic=1)
    trk = tracker([radar])
    out = []
    for k in range(40):  # 40 scans of 6 false plots spread over 150 km
        plots = [radar.plot(Aircraft(30.0 + rng.uniform(-0.7, 0.7),
                                     -104.0 + rng.uniform(-0.8, 0.8), 0, 0, fl=None,
                                     psr_only=True), 50, T0 + 5.0 * k + 0.01 * i, rng,
                            track_number=None, gs_kt=None, hdg_deg=None)
                 for i in range(6)]
        out += trk.update(plots)
    assert out == []
    assert trk.counters["tentative-dropped"] > 150


def test_coasting_and_ended_at_the_right_times() -> None:
    rng = np.random.default_rng(8)
    radar = Radar(*SITE_A, sic=1)
    sky = [Aircraft(30.5, -103.5, 200.0, 0.0, icao24="A00001")]
    # coast after 25 s, end after 60 s: the timeout rule alone (a 4 s radar's nine missed
    # scans end it sooner by end_probability: tests/test_lifecycle_deletion.py)
    trk = tracker([radar], end_probability=0.0)
    out, _ = fly(trk, [radar], sky, 20.0, rng)
    label = out[-1].id
    t_last = T0 + 16.0  # last scan
    assert trk.tick(t_last + 25.0) == []
    coasting = trk.tick(t_last + 25.5)
    assert [(f.id, f.state) for f in coasting] == [(label, "coasting")]
    assert trk.tick(t_last + 59.0) == []
    ended = trk.tick(t_last + 60.5)
    assert [(f.id, f.state) for f in ended] == [(label, "ended")]
    assert trk.tick(t_last + 120.0) == []  # one final message only
    assert len(trk.tracks) == 0


def test_coasting_track_resumes() -> None:
    rng = np.random.default_rng(9)
    radar = Radar(*SITE_A, sic=1)
    sky = [Aircraft(30.5, -103.5, 200.0, 0.0, icao24="A00002")]
    trk = tracker([radar], end_probability=0.0)  # 36 s silent: 8 missed 4 s scans
    out, _ = fly(trk, [radar], sky, 12.0, rng)
    label = out[-1].id
    assert [f.state for f in trk.tick(T0 + 8.0 + 30.0)] == ["coasting"]
    out, _ = fly(trk, [radar], sky, 60.0, rng, start=44.0)
    assert {(f.id, f.state) for f in out} == {(label, "confirmed")}


def test_tentative_track_dies_quietly() -> None:
    rng = np.random.default_rng(10)
    radar = Radar(*SITE_A, sic=1)
    trk = tracker([radar])
    sky = [Aircraft(30.5, -103.5, 60.0, 0.0, fl=None, psr_only=True)]
    assert trk.update(radar.scan(sky, T0, rng)) == []
    assert trk.tick(T0 + 29.0) == [] and len(trk.tracks) == 1
    assert trk.tick(T0 + 31.0) == [] and len(trk.tracks) == 0
    assert trk.counters["tentative-dropped"] == 1


# -- scenarios ---------------------------------------------------------------------------------

def test_two_radars_one_aircraft_one_fused_track() -> None:
    rng = np.random.default_rng(11)
    radars = [Radar(*SITE_A, sic=1), Radar(*SITE_B, sic=2, sigma_r=60.0, sigma_az=0.08)]
    sky = [Aircraft(30.6, -103.5, 210.0, 60.0, icao24="0D0ABC", mode3a="5512",
                    callsign="VIV1030")]
    trk = tracker(radars)
    out, where = fly(trk, radars, sky, 240.0, rng)
    assert len({f.id for f in out}) == 1
    assert len({u for _i, u, _l in where}) == 1
    srcs = Counter((s.sac, s.sic) for f in out for s in f.sources)
    assert set(srcs) == {(1, 1), (1, 2)}
    final = out[-1]
    assert distance_m(final, sky[0]) < 100.0
    assert final.gs_kt == pytest.approx(float(np.hypot(210, 60)) / KT, rel=0.03)
    assert final.fl == 350.0 and final.roc_fpm == pytest.approx(0.0, abs=200)
    assert 0 < final.pos_sigma_m < 150.0


def test_fused_messages_are_valid_shared_format() -> None:
    rng = np.random.default_rng(12)
    radar = Radar(*SITE_A, sic=1)
    sky = [Aircraft(30.5, -103.5, 200.0, 0.0, icao24="A00003", mode3a="1234"),
           Aircraft(30.55, -103.4, -150.0, 20.0, mode3a="4321", callsign=None),
           Aircraft(30.45, -103.6, 50.0, 50.0, fl=None, psr_only=True)]
    trk = tracker([radar], publish_tentative=True)
    out, _ = fly(trk, [radar], sky, 40.0, rng)
    out += trk.tick(T0 + 70.0)
    out += trk.tick(T0 + 200.0)
    assert {f.state for f in out} >= {"tentative", "confirmed", "coasting", "ended"}
    for f in out:
        assert decode(encode(f)) == f  # validates against the schema
        assert msgspec.json.decode(encode(f))["callsign"] != ""
        assert f.id.startswith("T") and len(f.id) == 7
    import re

    assert all(re.match(TOPIC_LEVEL_PATTERN, f.id) for f in out)


def test_squawk_change_keeps_the_id() -> None:
    """A Mode A/C aircraft (no address) changes code: the track goes on with the new one."""
    rng = np.random.default_rng(13)
    radars = [Radar(*SITE_A, sic=1), Radar(*SITE_B, sic=2)]
    sky = [Aircraft(30.6, -103.5, 200.0, 0.0, mode3a="4521", squawk_at=(60.0, "6612")),
           Aircraft(30.4, -103.2, -180.0, 30.0, icao24="A12345", mode3a="3000",
                    squawk_at=(70.0, "7700"))]
    trk = tracker(radars)
    out, where = fly(trk, radars, sky, 150.0, rng)
    for i in range(2):
        assert len(ids_of(where, i)) == 1
    codes = [f.mode3a for f in out if f.id == ids_of(where, 0)[0]]
    assert codes[0] == "4521" and codes[-1] == "6612"
    assert last(out, ids_of(where, 1)[0]).mode3a == "7700"


def test_reused_radar_track_number_does_not_swap_tracks() -> None:
    """Radar A drops aircraft 0's number and gives it to aircraft 1, 20 km away (and
    aircraft 0 a new one): both fused tracks keep their aircraft."""
    rng = np.random.default_rng(14)
    radars = [Radar(*SITE_A, sic=1), Radar(*SITE_B, sic=2)]
    sky = [Aircraft(30.6, -103.5, 200.0, 0.0, mode3a="2201"),
           Aircraft(30.8, -103.5, 200.0, 0.0, mode3a="2202"),
           Aircraft(30.5, -103.3, 200.0, 0.0)]  # no code at all: position only + continuity
    trk = tracker(radars)
    out, where = fly(trk, radars, sky, 60.0, rng)
    radars[0].numbers.update({0: 777, 1: 100, 2: 778})  # 100 was aircraft 0's number
    more, where2 = fly(trk, radars, sky, 150.0, rng, start=60.0)
    where += where2
    for i in range(3):
        assert len(ids_of(where, i)) == 1, (i, ids_of(where, i))
    uids = {i: {u for j, u, _ in where if j == i} for i in range(3)}
    assert all(len(u) == 1 for u in uids.values())
    assert trk.counters["pairing-moved"] >= 1


def test_modes_address_on_two_distant_targets() -> None:
    """A second target 40 km away squawks the same Mode S address for a minute: the true
    track keeps its id and its position; the impostor gets a track of its own."""
    rng = np.random.default_rng(15)
    radars = [Radar(*SITE_A, sic=1), Radar(*SITE_B, sic=2)]
    true = Aircraft(30.6, -103.5, 200.0, 0.0, icao24="ABCDEF", mode3a="1111")
    ghost = Aircraft(30.6, -103.1, -200.0, 0.0, icao24="ABCDEF", mode3a="1111")
    trk = tracker(radars)
    out, where = fly(trk, radars, [true], 40.0, rng)
    label = out[-1].id
    more, where2 = fly(trk, radars, [true, ghost], 100.0, rng, start=40.0)
    assert ids_of(where2, 0) == [label]
    assert label not in ids_of(where2, 1)
    assert trk.counters["modes-address-conflict"] >= 1
    for f in more:
        if f.id == label and f.state == "confirmed":
            assert distance_m(f, true) < 300.0


def test_sdps_merge_and_split_does_not_swap_radar_fed_tracks() -> None:
    """Two Mode A/C aircraft 1.5 km apart; the SDPS reports both under one number for a
    while (at one aircraft's position, with the other's code), then splits them again."""
    rng = np.random.default_rng(16)
    radars = [Radar(*SITE_A, sic=1), Radar(*SITE_B, sic=2)]
    sky = [Aircraft(30.6, -103.5, 200.0, 0.0, mode3a="3301"),
           Aircraft(30.6135, -103.5, 200.0, 0.0, mode3a="3302")]
    trk = tracker(radars)
    where: list = []
    for k in range(60):
        t = T0 + 4.0 * k
        for j, radar in enumerate(radars):
            trk.update(radar.scan(sky, t + 2.0 * j, rng))
            a = trk.last_association
            where += list(zip(a.index.tolist(), a.uid.tolist(), a.label, strict=True))
        if k < 20 or k >= 40:  # one SDPS number per aircraft
            batch = [sdps_track(sky[0], 11, t + 1.0, rng), sdps_track(sky[1], 12, t + 1.0, rng)]
        else:  # merged: number 11 for both, placed on aircraft 1 with 0's code, then on 0
            host = sky[1] if k < 30 else sky[0]
            batch = [sdps_track(host, 11, t + 1.0, rng, mode3a="3301")]
        trk.update(batch)
    for i in range(2):
        assert len(ids_of(where, i)) == 1, ids_of(where, i)
        assert len({u for j, u, _ in where if j == i}) == 1
    assert ids_of(where, 0) != ids_of(where, 1)
    # the merged reports fit neither track: dropped, not made into a third track
    assert len(trk.tracks) == 2 and trk.counters["diverged-report"] >= 5


def test_out_of_order_plots_within_the_window_are_used_older_ones_dropped() -> None:
    rng = np.random.default_rng(17)
    radars = [Radar(*SITE_A, sic=1), Radar(*SITE_B, sic=2)]
    sky = [Aircraft(30.6, -103.5, 200.0, 0.0, icao24="A0A0A0")]
    trk = tracker(radars)
    fly(trk, radars, sky, 40.0, rng)  # last scans at T0 + 36 and T0 + 38
    label = trk.tracks.label[trk.tracks.active()[0]]
    late = radars[0].plot(sky[0], 0, T0 + 38.0 - 1.5, rng)  # 1.5 s older than the track
    out = trk.update([late])
    assert [f.id for f in out] == [label]
    assert trk.counters["late-measurement-used"] >= 1
    assert trk.last_association.uid.tolist() == [trk.tracks.uid[trk.tracks.active()[0]]]
    stale = radars[0].plot(sky[0], 0, T0 + 38.0 - 5.0, rng)  # beyond the 2 s window
    assert trk.update([stale]) == []
    assert trk.counters["late-measurement-dropped"] == 1
    assert len(trk.tracks) == 1  # and it started nothing
    # the state moved on, not back: the track's time is still the latest one
    assert trk.tracks.t[trk.tracks.active()[0]] == pytest.approx(T0 + 38.0, abs=0.05)


def test_crossing_aircraft_keep_their_ids() -> None:
    rng = np.random.default_rng(18)
    radars = [Radar(*SITE_A, sic=1, sigma_az=0.08), Radar(*SITE_B, sic=2, sigma_az=0.08)]
    # X crossing: same point at t = 100 s, one flying east, the other north-west
    cx, cy = FRAME.to_xy(np.array([30.6]), np.array([-103.5]))
    def through(ve: float, vn: float, **kw) -> Aircraft:
        x0, y0 = cx[0] - 100 * ve, cy[0] - 100 * vn
        lat, lon = FRAME.to_latlon(np.array([x0]), np.array([y0]))
        return Aircraft(float(lat[0]), float(lon[0]), ve, vn, **kw)
    sky = [through(220.0, 0.0, icao24="AAAAA1", mode3a="1001"),
           through(-150.0, 150.0, icao24="AAAAA2", mode3a="1002"),
           through(0.0, -200.0, mode3a="1003"),  # Mode A/C only
           through(160.0, 160.0, mode3a="1004")]
    sky[3].fl = 360.0
    trk = tracker(radars)
    out, where = fly(trk, radars, sky, 200.0, rng)
    for i in range(4):
        assert len(ids_of(where, i)) == 1
        assert len({u for j, u, _ in where if j == i}) == 1
    assert len({ids_of(where, i)[0] for i in range(4)}) == 4


def test_primary_target_next_to_a_transponder_aircraft_stays_separate() -> None:
    rng = np.random.default_rng(19)
    radars = [Radar(*SITE_A, sic=1), Radar(*SITE_B, sic=2)]
    sky = [Aircraft(30.6, -103.5, 200.0, 0.0, icao24="0D0001", mode3a="2345", fl=120.0),
           Aircraft(30.605, -103.5, 200.0, 0.0, fl=None, psr_only=True)]  # 550 m north
    trk = tracker(radars)
    out, where = fly(trk, radars, sky, 200.0, rng)
    assert len(ids_of(where, 0)) == 1 and len(ids_of(where, 1)) == 1
    assert ids_of(where, 0) != ids_of(where, 1)
    primary = ids_of(where, 1)[0]
    assert all(f.icao24 is None and f.mode3a is None for f in out if f.id == primary)
    uid_of = {i: {u for j, u, _ in where if j == i} for i in range(2)}
    assert uid_of[0].isdisjoint(uid_of[1])


def test_reacquired_after_a_coverage_gap_keeps_the_id() -> None:
    rng = np.random.default_rng(20)
    radars = [Radar(*SITE_A, sic=1)]
    sky = [Aircraft(30.6, -103.5, 200.0, 0.0, icao24="ACE001")]
    trk = tracker(radars)
    out, where = fly(trk, radars, sky, 40.0, rng)
    out += trk.tick(T0 + 300.0)
    assert out[-1].state == "ended"
    more, where2 = fly(trk, radars, sky, 340.0, rng, start=300.0)
    assert ids_of(where2, 0) == ids_of(where, 0)
    assert trk.counters["track-reacquired"] == 1
    assert distance_m(more[-1], sky[0]) < 150.0


@pytest.mark.parametrize(("change", "same_id"), [
    ({}, True),  # same code, level and straight line: one leg, one aircraft
    ({"fl": 330.0}, False),  # another level: the code alone proves nothing
    ({"lat": 30.6 + 0.36}, False),  # 40 km off the straight line
], ids=["straight", "other-level", "off-the-line"])
def test_mode_ac_back_after_35_minutes_on_its_straight_line(change: dict[str, float],
                                                           same_id: bool) -> None:
    """A Mode A/C flight out of every radar's sight for 35 minutes, past
    reacquire_window_s (the border-radars hour's F0425 at FL320): its code, its level and
    the old track's straight line give its id back (reacquire_straight_window_s); a code
    back at another level or elsewhere is a new id."""
    rng = np.random.default_rng(24)
    radars = [Radar(*SITE_A, sic=1)]
    a = Aircraft(30.6, -103.5, 200.0, 0.0, mode3a="1504")
    trk = tracker(radars)
    out, where = fly(trk, radars, [a], 40.0, rng)
    label = out[-1].id
    gap = 2100.0
    assert gap > trk.parameters.reacquire_window_s + trk.parameters.end_after_s
    out += trk.tick(T0 + gap)
    assert [m.state for m in out if m.id == label][-1] == "ended"
    back = dataclasses.replace(a, **change)
    _more, where2 = fly(trk, radars, [back], gap + 40.0, rng, start=gap)
    assert (ids_of(where2, 0) == [label]) is same_id
    assert trk.counters["track-reacquired-straight"] == int(same_id)


@pytest.mark.parametrize("address", ["ABE001", None], ids=["mode-s", "mode-ac"])
def test_track_that_lost_its_aircraft_hands_its_id_on(address: str | None) -> None:
    """The reports of an aircraft jump 3 km sideways (the filter lost the aircraft: a bad
    start, a missed manoeuvre): a new track follows them, the old one hears nothing more,
    and the new track carries the old id on."""
    rng = np.random.default_rng(23)
    radars = [Radar(*SITE_A, sic=1), Radar(*SITE_B, sic=2)]
    a = Aircraft(30.6, -103.5, 200.0, 0.0, icao24=address, mode3a="5123")
    trk = tracker(radars)
    out, where = fly(trk, radars, [a], 40.0, rng)
    label = out[-1].id
    jumped = dataclasses.replace(a, lat=a.lat + 0.027)  # 3 km north, same motion
    more, where2 = fly(trk, radars, [jumped], 120.0, rng, start=40.0)
    assert ids_of(where2, 0) == [label]
    assert trk.counters["modes-address-conflict"] >= (1 if address else 0)
    assert trk.counters["track-handover"] == 1
    assert len(trk.tracks) == 1 and distance_m(more[-1], jumped) < 150.0
    assert "ended" not in {f.state for f in more}


def test_clutter_tentative_does_not_capture_a_new_aircraft() -> None:
    """A clutter plot 10 s before and 2 km from where an aircraft first shows: the
    aircraft's tracked reports start their own track, with their own velocity."""
    rng = np.random.default_rng(24)
    radar = Radar(*SITE_A, sic=1)
    a = Aircraft(30.6, -103.5, 80.0, 0.0, icao24="ABF001")
    trk = tracker([radar])
    x, y = a.xy(T0 + 10.0)
    clutter = radar.plot(a, 9, T0, rng, position=(x + 2000.0, y), fl=None, mode3a=None,
                         icao24=None, track_number=None, gs_kt=None, hdg_deg=None,
                         detection="psr")
    trk.update([clutter])
    clutter_uid = int(trk.last_association.uid[0])
    out, where = fly(trk, [radar], [a], 60.0, rng, start=10.0)
    assert len({f.id for f in out}) == 1
    assert clutter_uid not in {u for _i, u, _l in where}
    assert trk.counters["track-started"] == 2 and trk.counters["tentative-dropped"] == 1
    assert out[-1].gs_kt == pytest.approx(80.0 / KT, rel=0.1)


def test_sdps_alone_and_with_radars() -> None:
    """SDPS tracks start and confirm tracks of their own, and join a radar-fed track of
    the same aircraft instead of duplicating it."""
    rng = np.random.default_rng(21)
    radar = Radar(*SITE_A, sic=1)
    a = Aircraft(30.6, -103.5, 200.0, 0.0, icao24="ABC000", mode3a="6001",
                 callsign=None, fl=310.0)
    b = Aircraft(31.0, -104.2, 0.0, 200.0, icao24="ABC001", mode3a="6002", callsign="AAL12")
    trk = tracker([radar])
    out: list[Fused] = []
    for k in range(30):
        t = T0 + 4.0 * k
        out += trk.update(radar.scan([a], t, rng))
        out += trk.update([sdps_track(a, 5, t + 1.0, rng, callsign="DAL7"),
                           sdps_track(b, 6, t + 1.0, rng)])
    assert len({f.id for f in out}) == 2
    fa = [f for f in out if f.icao24 == "ABC000"][-1]
    assert fa.callsign == "DAL7" and {s.cat for s in fa.sources} <= {48, 62}
    assert distance_m(fa, a) < 100.0
    fb = [f for f in out if f.icao24 == "ABC001"][-1]
    assert fb.callsign == "AAL12" and distance_m(fb, b) < 150.0


def test_parts_are_swappable() -> None:
    """A different associator (here: greedy, to show the seam) replaces one part."""

    class Greedy(GlobalNearestNeighbour):
        calls = 0

        def associate(self, track, meas, cost):
            Greedy.calls += 1
            chosen, used_t, used_m = [], set(), set()
            for k in np.argsort(cost).tolist():
                if track[k] not in used_t and meas[k] not in used_m and cost[k] < 20:
                    chosen.append(k)
                    used_t.add(track[k])
                    used_m.add(meas[k])
            return np.array(chosen, dtype=np.int64)

    rng = np.random.default_rng(22)
    radar = Radar(*SITE_A, sic=1)
    trk = Tracker(radars={(1, 1): radar.noise()}, associator=Greedy(20.0),
                  filter=ConstantVelocity(q=2.0))
    out, _ = fly(trk, [radar], [Aircraft(30.5, -103.5, 200.0, 0.0, icao24="ABCABC")], 20.0,
                 rng)
    assert Greedy.calls > 0 and len({f.id for f in out}) == 1


def test_bad_id_prefix_is_refused() -> None:
    with pytest.raises(ValueError):
        Tracker(id_prefix="a/b")


def test_parameters_are_declared_and_documented() -> None:
    p = TrackerParameters()
    fields = {f.name for f in dataclasses.fields(p)}
    assert {"q", "gate_chi2", "late_window_s", "coast_after_s", "end_after_s",
            "confirm_updates_position", "confirm_window_s", "modes_gate_chi2"} <= fields
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.q = 1.0  # type: ignore[misc]


def test_reports_without_position_are_counted_not_used() -> None:
    radar = Radar(*SITE_A, sic=1)
    plot = radar.plot(Aircraft(30.5, -103.5, 0, 0), 0, T0, np.random.default_rng(0),
                      lat=None, lon=None)
    trk = tracker([radar])
    assert trk.update([plot]) == [] and len(trk.tracks) == 0
    assert trk.counters["measurement-without-position"] == 1


def test_pos_sigma_is_the_larger_axis() -> None:
    assert max_eigen2(np.array([4.0]), np.array([0.0]), np.array([9.0]))[0] == 9.0
    a, b, d = 5.0, 2.0, 3.0
    assert max_eigen2(np.array([a]), np.array([b]), np.array([d]))[0] == pytest.approx(
        max(np.linalg.eigvalsh([[a, b], [b, d]])))


# -- the border simulation end to end --------------------------------------------------------

@pytest.mark.slow
def test_border_simulation_end_to_end() -> None:
    """Five minutes of the border scenario through the wire, the decoder, the normaliser
    and the tracker: every update goes to its aircraft's track, one id per aircraft."""
    from pathlib import Path

    from gateway.config import load
    from gateway.decoder import Decoder
    from gateway.normalize.normalizer import Normalizer
    from gateway.sim.run import simulate
    from gateway.sim.scenario import BORDER

    duration = 300.0
    sim = simulate(BORDER, duration, 31)
    normalizer = Normalizer(load(Path(__file__).resolve().parent.parent / "captures"
                                 / "border.toml"))
    decoder = Decoder()
    published = []
    wires = sim.wires
    times = np.array([w.t for w in wires])
    edges = np.searchsorted(times, np.arange(0.0, duration + 2.0, 1.0))
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if a < b:
            batches, _ = decoder.decode([w.payload for w in wires[a:b]],
                                        [BORDER.start_utc + w.t for w in wires[a:b]])
            published += normalizer.feed(batches)
    published += normalizer.flush()
    published.sort(key=lambda p: max(m.t for m in p.messages))

    # the truth of each Mode S report: its address; of each SDPS report: its track number
    flight_of = {f"{int(a):06X}": f for f, a in enumerate(sim.flights.icao24) if a >= 0}
    radars = {(r.sac, r.sic): RadarNoise(lat=r.lat, lon=r.lon, alt_m=r.alt_m)
              for r in BORDER.radars}
    trk = Tracker(TrackerParameters(), radars=radars, sdps_sigma_m=100.0)
    pairs: Counter = Counter()  # (flight, track uid) -> updates
    labels: dict[int, set[str]] = {}  # flight -> published ids its updates went to
    out: list[Fused] = []
    for batch in published:
        out += trk.update(batch.messages)
        a = trk.last_association
        for i, uid, label in zip(a.index.tolist(), a.uid.tolist(), a.label, strict=True):
            msg = batch.messages[i]
            if msg.icao24 in flight_of:
                f = flight_of[msg.icao24]
                pairs[(f, uid)] += 1
                if label is not None:
                    labels.setdefault(f, set()).add(label)
    # a track is its majority flight's; an update is right if it went to its flight's track
    best: dict[int, tuple[int, int]] = {}
    for (f, uid), c in pairs.items():
        if c > best.get(uid, (-1, 0))[1]:
            best[uid] = (f, c)
    total = sum(pairs.values())
    correct = sum(c for (f, uid), c in pairs.items() if best[uid][0] == f)
    assert total > 20_000
    assert correct / total > 0.995
    changes = sum(len(s) - 1 for s in labels.values())
    assert changes <= 0.01 * len(labels)
    assert trk.counters["modes-address-conflict"] == 0
    for f in out:
        if f.state != "ended":
            assert f.lat is not None and 20 < f.lat < 40


def test_sources_are_bounded() -> None:
    """Per-track arrays hold a column per source: a feed inventing sources is cut off."""
    rng = np.random.default_rng(25)
    a = Aircraft(30.5, -103.5, 200.0, 0.0, icao24="ABCD01")
    trk = tracker([])
    for sic in range(70):
        trk.update([Radar(*SITE_A, sic=sic, sac=9).plot(a, 0, T0 + sic, rng)])
    assert len(trk.sources.keys) == 64
    assert trk.counters["source-limit-exceeded"] == 6


def test_merge_looks_only_at_tracks_that_share_an_address_or_code() -> None:
    """``_sharing`` keeps, in order, the rows whose Mode S address or code another live
    track has too (the only ones a merge can take), and leaves out a row sharing with a
    track that has ended."""
    rng = np.random.default_rng(3)
    sky = [Aircraft(31.0 + 0.2 * i, -108.0, 200.0, 0.0, icao24=f"A0000{i}",
                    mode3a=f"{4321 + i}") for i in range(5)]
    trk = tracker([])
    trk.update([sdps_track(a, i + 1, T0, rng) for i, a in enumerate(sky)])
    tr = trk.tracks
    rows = tr.active()
    assert len(rows) == 5 and len(trk._sharing(rows)) == 0
    tr.ident[rows[3], ADDRESS] = tr.ident[rows[1], ADDRESS]  # 1 and 3: one address
    tr.ident[rows[4], CODE] = tr.ident[rows[0], CODE]  # 0 and 4: one code
    assert trk._sharing(rows).tolist() == rows.tolist()[:2] + rows.tolist()[3:]
    assert trk._sharing(rows[::-1]).tolist() == (rows.tolist()[:2] + rows.tolist()[3:])[::-1]
    tr.free(rows[[0]])
    assert trk._sharing(rows).tolist() == [rows[1], rows[3]]
