"""Coverage gaps (gateway.associate.coverage), re-acquisition and periodic output.

The geometry first, sans-IO: a point above a radar is in its cone of silence, a point beyond
its range or below its horizon is not seen.  Then the tracker on a hand-made stream: a Mode A/C
flight at FL350 overflies the only radar that could see it; inside the cone (elevation above
40 degrees, worked out here on a flat earth, independently of the module) no plot comes for
about 110 s, longer than ``end_after_s``.  The track must coast through the gap and go on with
its id; without the coverage model it ends, and the code and identification bring its id
back; without either it comes back with a new id (the failure issue 15 reports).  Last, the
periodic output: predictions at fixed output times, flagged ``extrapolated``.
"""

from __future__ import annotations

import dataclasses

import msgspec
import numpy as np
import pytest

from gateway.associate import ConformalFrame, RadarNoise, Tracker, TrackerParameters
from gateway.associate.coverage import Coverage, RadarCoverage
from gateway.messages import Fused, Plot, Source, decode, encode

T0 = 1_779_868_800.0
NM = 1852.0
FT = 0.3048
KT = NM / 3600.0
FRAME = ConformalFrame()
SITE = (30.0, -104.0, 300.0)  # lat, lon, antenna height (m)
CONE = np.radians(40.0)


def coverage(*sites: RadarCoverage) -> Coverage:
    return Coverage(FRAME, sites or (RadarCoverage(*SITE),))


def offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    x, y = FRAME.to_xy(np.array([lat]), np.array([lon]))
    la, lo = FRAME.to_latlon(x + east_m, y + north_m)
    return float(la[0]), float(lo[0])


# -- geometry ------------------------------------------------------------------------------------

def test_a_point_above_the_radar_is_in_its_cone() -> None:
    c = coverage()
    lat, lon, _ = SITE
    h = np.array([350 * 100 * FT])
    assert not c.seen_latlon(np.array([lat]), np.array([lon]), h)[0]
    # at FL350 the 40 degree cone reaches h / tan(40) = 12.7 km from the antenna
    inside = offset(lat, lon, 11_000.0, 0.0)
    outside = offset(lat, lon, 14_500.0, 0.0)
    assert not c.seen_latlon(np.array([inside[0]]), np.array([inside[1]]), h)[0]
    assert c.seen_latlon(np.array([outside[0]]), np.array([outside[1]]), h)[0]
    # a low aircraft at the same distance is below the cone: seen
    assert c.seen_latlon(np.array([inside[0]]), np.array([inside[1]]), np.array([1500.0]))[0]


def test_beyond_range_or_below_the_horizon_is_not_seen() -> None:
    c = coverage(RadarCoverage(SITE[0], SITE[1], SITE[2], range_nm=200.0))
    lat, lon, _ = SITE
    fl350 = np.array([350 * 100 * FT])
    near = offset(lat, lon, 0.0, 180 * NM)
    far = offset(lat, lon, 0.0, 215 * NM)
    assert c.seen_latlon(np.array([near[0]]), np.array([near[1]]), fl350)[0]
    assert not c.seen_latlon(np.array([far[0]]), np.array([far[1]]), fl350)[0]
    # 4/3 earth horizon: 71 km for a 300 m antenna, + 138 km for a target at 1,000 m
    mid = offset(lat, lon, 0.0, 150_000.0)
    beyond = offset(lat, lon, 0.0, 230_000.0)
    low = np.array([1000.0])
    assert c.seen_latlon(np.array([mid[0]]), np.array([mid[1]]), low)[0]
    assert not c.seen_latlon(np.array([beyond[0]]), np.array([beyond[1]]), low)[0]
    assert c.seen_latlon(np.array([beyond[0]]), np.array([beyond[1]]), fl350)[0]


def test_seen_by_tells_the_radars_apart_and_one_radar_fills_anothers_cone() -> None:
    other = offset(SITE[0], SITE[1], 80_000.0, 0.0)
    c = coverage(RadarCoverage(*SITE), RadarCoverage(other[0], other[1], 300.0))
    x, y = FRAME.to_xy(np.array([SITE[0]]), np.array([SITE[1]]))
    seen = c.seen_by(x, y, np.array([10_000.0]))
    assert seen.tolist() == [[False, True]]
    assert c.seen(x, y, np.array([10_000.0]))[0]


def test_hidden_is_a_gap_the_aircraft_comes_out_of() -> None:
    c = coverage()
    x, y = FRAME.to_xy(np.array([SITE[0]]), np.array([SITE[1]]))
    h = np.array([10_000.0])
    v = 230.0
    # in the cone, flying on: hidden (seen again within two minutes)
    assert c.hidden(x, y, np.array([v]), np.array([0.0]), h, np.array([120.0]))[0]
    # ... but not if the look-ahead ends before it comes out
    assert not c.hidden(x, y, np.array([v]), np.array([0.0]), h, np.array([20.0]))[0]
    # seen now: not hidden
    assert not c.hidden(x + 50_000, y, np.array([v]), np.array([0.0]), h, np.array([120.0]))[0]
    # beyond the range, flying away: it has left the coverage, not hidden
    far = 260 * NM
    assert not c.hidden(x, y + far, np.array([0.0]), np.array([v]), h, np.array([300.0]))[0]
    # ... flying back in: hidden until it re-enters
    assert c.hidden(x, y + far, np.array([0.0]), np.array([-v]), h, np.array([300.0]))[0]
    # no radar at all: nothing is hidden
    assert not Coverage(FRAME, []).hidden(x, y, np.array([v]), np.array([0.0]), h,
                                          np.array([120.0]))[0]


# -- the tracker on a cone overflight -----------------------------------------------------------

FL = 350.0
SPEED = 450 * KT  # m/s east


def overflight(mode3a: str = "2345", callsign: str | None = None, *,
               callsign_after: str | None = None, seconds: float = 520.0, period: float = 5.0,
               start_east_m: float = -60_000.0, rng_seed: int = 1,
               ) -> tuple[list[list[Plot]], tuple[float, float]]:
    """Scans (one plot each) of a Mode A/C aircraft flying east straight over the radar at
    FL350; none while it is inside the radar's 40 degree cone.  Returns the scans and the
    gap (first and last time without a plot)."""
    rng = np.random.default_rng(rng_seed)
    lat0, lon0, alt = SITE
    h = FL * 100 * FT
    scans, gap = [], [np.inf, -np.inf]
    for k in range(int(seconds / period)):
        t = T0 + k * period
        east = start_east_m + SPEED * (t - T0)
        elevation = np.arctan2(h - alt, abs(east))  # flat earth: fine within 15 km
        if elevation >= CONE:
            gap = [min(gap[0], t), max(gap[1], t)]
            scans.append([])
            continue
        # the radar's noise: 60 m in range (east, along the line of sight), 0.06 deg in
        # azimuth (north, across it: a few metres near the antenna, 60 m at 60 km)
        across = np.hypot(east, h - alt) * np.radians(0.06)
        lat, lon = offset(lat0, lon0, east + rng.normal(0, 60), rng.normal(0, across))
        cs = callsign_after if callsign_after is not None and gap[1] > -np.inf else callsign
        scans.append([Plot(
            t=t, src=Source(sac=1, sic=7, cat=48), lat=lat, lon=lon,
            rho_nm=float(np.hypot(east, h - alt) / NM), theta_deg=90.0 if east > 0 else 270.0,
            fl=FL, mode3a=mode3a, icao24=None, callsign=cs, track_number=None, gs_kt=450.0,
            hdg_deg=90.0, detection="ssr", flags=[])])
    return scans, (gap[0], gap[1])


def feed(trk: Tracker, scans: list[list[Plot]], period: float = 5.0) -> list[Fused]:
    """Plots as they come, and a tick at every scan time without one (the clock goes on)."""
    out: list[Fused] = []
    for k, plots in enumerate(scans):
        out += trk.update(plots) if plots else trk.tick(T0 + k * period)
    return out


def tracker(**changes: float) -> Tracker:
    p = dataclasses.replace(TrackerParameters(), **changes)
    return Tracker(p, {(1, 7): RadarNoise(50.0, 0.06, 20.0, 0.02, SITE[0], SITE[1], SITE[2])})


def test_the_scenario_has_a_gap_longer_than_the_end_timeout() -> None:
    scans, (a, b) = overflight()
    silence = b - a + 10.0  # from the last plot before to the first plot after
    assert silence > TrackerParameters().end_after_s + 30.0
    assert sum(1 for s in scans if s) > 70


def test_a_track_in_a_cone_of_silence_coasts_and_keeps_its_id() -> None:
    scans, (a, b) = overflight()
    trk = tracker()
    out = feed(trk, scans)
    ids = {m.id for m in out}
    assert len(ids) == 1
    assert [m for m in out if m.state == "ended"] == []
    in_gap = [m for m in out if a <= m.t <= b]
    assert [m.state for m in in_gap] == ["coasting"]  # coasting, then nothing until plots
    assert in_gap[0].hidden  # in a gap, not lost: the handoff still transfers it
    after = [m for m in out if m.t > b]
    assert after and all(m.state == "confirmed" and m.sources for m in after)
    assert not any(m.hidden for m in out if m is not in_gap[0])
    assert trk.counters["track-hidden"] == 1
    assert trk.counters["track-reacquired-code"] == 0  # re-associated, never ended


def test_a_track_that_leaves_the_gap_ends_on_the_usual_timeout() -> None:
    """The plots stop for good right after the cone: once the prediction is visible again
    the silence counts from the last time it was hidden, and the radar that sees it (5 s
    scans) missing six of them in a row (0.1^6 <= end_probability) ends it, sooner than
    end_after_s."""
    scans, (a, b) = overflight()
    scans = [s if s and s[0].t < a else [] for s in scans]
    trk = tracker()
    out = feed(trk, scans)
    ended = [m for m in out if m.state == "ended"]
    assert len(ended) == 1
    p = TrackerParameters()
    # hidden until about the cone's far edge (b), then six missed scans and a half,
    # give or take a review; never sooner than end_min_s
    assert b - 10 + max(p.end_min_s, 6.5 * 5.0) <= ended[0].t
    assert ended[0].t <= b + 6.5 * 5.0 + 2 * p.hidden_review_s < b + p.end_after_s


def test_hidden_is_bounded_by_hidden_max_s() -> None:
    scans, (a, _b) = overflight()
    trk = tracker(hidden_max_s=70.0, reacquire_window_s=0.0)
    out = feed(trk, scans)
    ended = [m for m in out if m.state == "ended"]
    assert len(ended) == 1 and not ended[0].hidden
    last_plot = a - 5.0
    assert ended[0].t <= last_plot + 70.0 + 60.0 + 5.0
    assert len({m.id for m in out}) == 2


def test_without_coverage_or_reacquisition_the_overflight_gets_a_new_id() -> None:
    """The failure issue 15 reports, reproduced: the track ends in the cone."""
    scans, _gap = overflight()
    out = feed(tracker(hidden_max_s=0.0, reacquire_window_s=0.0), scans)
    assert len([m for m in out if m.state == "ended"]) == 1
    assert len({m.id for m in out}) == 2
    # it coasted, lost as far as the tracker knows: not flagged hidden
    assert [m for m in out if m.state == "coasting"] and not any(m.hidden for m in out)


def test_without_coverage_the_code_brings_the_id_back() -> None:
    scans, (a, b) = overflight(callsign="AMX402")
    trk = tracker(hidden_max_s=0.0)
    out = feed(trk, scans)
    ended = [m for m in out if m.state == "ended"]
    assert len(ended) == 1 and a <= ended[0].t <= b
    assert len({m.id for m in out}) == 1
    assert trk.counters["track-reacquired-code"] == 1


def test_code_reacquisition_needs_the_same_identification() -> None:
    scans, _gap = overflight(callsign="AMX402", callsign_after="VIV1180")
    trk = tracker(hidden_max_s=0.0)
    out = feed(trk, scans)
    assert len({m.id for m in out}) == 2
    assert trk.counters["track-reacquired-code"] == 0


def test_code_reacquisition_needs_the_predicted_position() -> None:
    """The same code far from where the ended track was heading is another aircraft."""
    scans, _gap = shifted_after_gap(60_000.0)
    trk = tracker(hidden_max_s=0.0)
    out = feed(trk, scans)
    assert len({m.id for m in out}) == 2
    assert trk.counters["track-reacquired-code"] == 0


def shifted_after_gap(north_m: float) -> tuple[list[list[Plot]], tuple[float, float]]:
    """The overflight, its plots after the cone ``north_m`` off the line (a turn inside)."""
    scans, (a, b) = overflight()
    out = []
    for s in scans:
        if s and s[0].t > b:
            p = s[0]
            lat, lon = offset(p.lat or 0.0, p.lon or 0.0, 0.0, north_m)
            s = [msgspec.structs.replace(p, lat=lat, lon=lon)]
        out.append(s)
    return out, (a, b)


def test_a_hidden_track_hands_its_id_on_when_the_aircraft_comes_out_beyond_its_gate() -> None:
    """12 km off the prediction after a 115 s silence: no gate takes the plots, a new
    track starts; it is the hidden one's continuation by code and position."""
    scans, (_a, b) = shifted_after_gap(12_000.0)
    trk = tracker()
    out = feed(trk, scans)
    assert len({m.id for m in out}) == 1
    assert trk.counters["track-handover"] == 1
    assert [m for m in out if m.state == "ended"] == []


def test_a_hidden_track_keeps_its_id_from_the_same_code_far_away() -> None:
    """The same code 60 km off is another aircraft: it gets its own id, and the hidden
    track ends on time."""
    scans, _gap = shifted_after_gap(60_000.0)
    trk = tracker()
    out = feed(trk, scans)
    assert len({m.id for m in out}) == 2
    assert trk.counters["track-handover"] == 0
    assert len([m for m in out if m.state == "ended"]) == 1


# -- periodic output ----------------------------------------------------------------------------

def test_periodic_output_extrapolates_between_updates() -> None:
    scans, (a, b) = overflight(period=10.0, seconds=200.0, start_east_m=-100_000.0)
    trk = tracker(output_period_s=4.0)
    out = feed(trk, scans, period=10.0)
    extra = [m for m in out if m.extrapolated]
    fresh = [m for m in out if not m.extrapolated]
    assert extra and fresh
    assert all(m.t % 4.0 == 0.0 and m.sources == [] and m.state != "ended" for m in extra)
    assert all(m.sources for m in fresh if m.state == "confirmed")
    # each is the prediction: near the straight line's truth at its time
    lat0, lon0, _ = SITE
    for m in extra:
        x, y = FRAME.to_xy(np.array([m.lat]), np.array([m.lon]))
        x0, y0 = FRAME.to_xy(np.array([lat0]), np.array([lon0]))
        east = -100_000.0 + SPEED * (m.t - T0)
        assert abs(float(x[0] - x0[0]) - east) < 400.0 and abs(float(y[0] - y0[0])) < 400.0
    # a consumer hears of the track at least every two periods once it is confirmed
    times = sorted(m.t for m in out if m.state != "ended")
    assert max(np.diff(times)) <= 8.0 + 1e-6
    # the format carries the flag
    assert decode(encode(extra[0])) == extra[0] and b'"extrapolated":true' in encode(extra[0])


def test_periodic_output_goes_on_through_a_gap_with_ticks_and_stops_at_the_end() -> None:
    scans, (a, b) = overflight()
    trk = tracker(output_period_s=5.0)
    out = feed(trk, scans)
    in_gap = [m for m in out if a <= m.t <= b]
    assert in_gap and all(m.extrapolated or m.state == "coasting" for m in in_gap)
    assert len({m.id for m in out}) == 1
    # after the last plot, the clock going on: predictions until the track ends, then none
    t_end = scans[-1][0].t if scans[-1] else T0
    tail: list[Fused] = []
    for k in range(1, 80):
        tail += trk.tick(t_end + 5.0 * k)
    ended = [m for m in tail if m.state == "ended"]
    assert len(ended) == 1
    assert any(m.extrapolated for m in tail)
    assert all(m.t <= ended[0].t for m in tail)


def test_no_periodic_output_by_default() -> None:
    scans, _gap = overflight(period=10.0, seconds=200.0)
    out = feed(tracker(), scans, period=10.0)
    assert not any(m.extrapolated for m in out)


@pytest.mark.parametrize("cone, hidden", [(40.0, True), (89.9, False)])
def test_config_cone_reaches_the_tracker(cone: float, hidden: bool) -> None:
    """[[radar]] cone_deg is the tracker's: with an 89.9 degree cone the radar sees the
    aircraft overhead, so the silence there is not a gap and the track ends."""
    from gateway.associate.build import tracker_from_config
    from gateway.config import loads

    text = f"""
[gateway]
id = "gw"

[[radar]]
sac = 1
sic = 7
name = "R"
lat = {SITE[0]}
lon = {SITE[1]}
alt_m = {SITE[2]}
cone_deg = {cone}
range_nm = 250

[[input]]
url = "udp://232.1.1.101:21101?iface=127.0.0.1"

[mqtt]
url = "mqtt://127.0.0.1:1883"
"""
    trk = tracker_from_config(loads(text), dataclasses.replace(TrackerParameters(),
                                                               reacquire_window_s=0.0))
    scans, _gap = overflight()
    out = feed(trk, scans)
    assert (len({m.id for m in out}) == 1) is hidden


def test_evaluate_scores_extrapolated_output_for_completeness_and_accuracy() -> None:
    """The overflight scored against its truth: the predictions through the cone keep the
    flight complete, and they are scored for accuracy like any update (on their own line
    too)."""
    from gateway.evaluate import Span, build_truth, evaluate_parsed, parse_tracks

    scans, (a, b) = overflight()
    scans = [[msgspec.structs.replace(p, track_number=42) for p in s] for s in scans]
    t_end = max(p.t for s in scans for p in s)
    ts = np.arange(T0, t_end + 1.0)
    pos = [offset(SITE[0], SITE[1], -60_000.0 + SPEED * (t - T0), 0.0) for t in ts]
    truth = build_truth(["F1"] * len(ts), ts, [p[0] for p in pos], [p[1] for p in pos],
                        {"F1": "modeac"}, [Span((1, 7, 48), 42, "F1", T0, t_end)])
    figures = {}
    for period in (0.0, 4.0):
        out = feed(tracker(output_period_s=period), scans)
        lines = [encode(m) for m in out]
        figures[period] = evaluate_parsed(truth, parse_tracks(lines)).fused
    off, on = figures[0.0], figures[4.0]
    assert off.id_changes == on.id_changes == 0
    assert off.error_extrapolated.samples == 0
    assert on.error_extrapolated.samples > 20  # the gap alone is 110 s: 27 output times
    # (the IMM mixture with its turns unbounded: 1.5 km; bounded to 12 s: 99 m)
    assert on.error_extrapolated.rms_m is not None and on.error_extrapolated.rms_m < 150.0
    assert on.error.samples == off.error.samples + on.error_extrapolated.samples
    # off: the ~100 s in the cone beyond the 12 s a last update counts for are missed
    assert off.completeness.share is not None and off.completeness.share < 0.85
    assert on.completeness.share is not None and on.completeness.share > 0.98


def test_coverage_agrees_with_the_simulators_radars() -> None:
    """The tracker's geometry is the simulator's rule (gateway.sim.radar: pymap3d elevation
    on the ellipsoid under the cone, slant range, 4/3 earth horizon), seen from the other
    side: over random points around a border radar they agree but within a whisker of an
    edge (sphere against ellipsoid)."""
    import pymap3d

    from gateway.sim.radar import _horizon_ok
    from gateway.sim.scenario import BORDER

    site = BORDER.radars[0]
    rng = np.random.default_rng(7)
    n = 4000
    east = rng.uniform(-520_000, 520_000, n)
    north = rng.uniform(-520_000, 520_000, n)
    near = rng.random(n) < 0.3  # a good share near the cone
    east[near] /= 30.0
    north[near] /= 30.0
    alt = rng.uniform(50.0, 13_000.0, n)
    x0, y0 = FRAME.to_xy(np.array([site.lat]), np.array([site.lon]))
    lat, lon = FRAME.to_latlon(x0 + east, y0 + north)
    _az, el, slant = pymap3d.geodetic2aer(lat, lon, alt, site.lat, site.lon, site.alt_m)
    ground = slant * np.cos(np.radians(el))
    sim = ((el < site.cone_deg) & (slant <= site.range_nm * NM)
           & _horizon_ok(ground, site.alt_m, alt))
    mine = Coverage(FRAME, [RadarCoverage(site.lat, site.lon, site.alt_m, site.cone_deg,
                                          site.range_nm)]).seen(x0 + east, y0 + north, alt)
    assert 0.2 < sim.mean() < 0.8  # both sides of every edge are sampled
    assert (sim == mine).mean() > 0.995
    # where they differ, the point is on an edge: elevation, range or horizon within 1 %
    reach = (np.sqrt(2 * 4 / 3 * 6_371_000 * site.alt_m)
             + np.sqrt(2 * 4 / 3 * 6_371_000 * alt))
    edge = ((np.abs(el - site.cone_deg) < 0.5) | (np.abs(slant / (site.range_nm * NM) - 1) < 0.01)
            | (np.abs(ground / reach - 1) < 0.01))
    assert edge[sim != mine].all()
