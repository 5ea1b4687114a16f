"""Radar registration (gateway/associate/registration.py): the sans-IO estimator on
synthetic plots of known biases, forgetting, hostile input, and the tracker's hooks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pytest

from gateway.associate import ConformalFrame, RadarNoise, Tracker, TrackerParameters
from gateway.associate.measurements import MeasurementModel
from gateway.associate.registration import _RECORD, Registration
from gateway.messages import Plot, Source

NM = 1852.0
START = 1.8e9


@dataclass(frozen=True)
class Site:
    sac: int
    sic: int
    lat: float
    lon: float
    period_s: float
    bias_range_m: float = 0.0
    range_gain: float = 1.0
    bias_azimuth_deg: float = 0.0
    time_offset_s: float = 0.0
    sigma_range_m: float = 40.0
    sigma_azimuth_deg: float = 0.05


# Three radars around one area, each with every kind of bias.  The time offsets add up to
# zero: pairs see only differences of offsets, the prior pins their mean at zero.
SITES = (
    Site(0, 1, 30.0, -107.0, 5.0, 25.0, 1.0 + 60e-6, 0.03, 0.25),
    Site(0, 2, 31.5, -105.0, 6.0, -20.0, 1.0 - 40e-6, -0.02, -0.15),
    Site(0, 3, 29.8, -104.2, 8.0, 10.0, 1.0, 0.015, -0.10),
)


class Sky:
    """Aircraft flying straight at FL300 over the sites (plane coordinates, m, m/s)."""

    def __init__(self, frame: ConformalFrame, n: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.frame = frame
        cx, cy = frame.to_xy(np.array([30.4]), np.array([-105.4]))
        self.x0 = cx[0] + rng.uniform(-150e3, 150e3, n)
        self.y0 = cy[0] + rng.uniform(-150e3, 150e3, n)
        speed = rng.uniform(110.0, 230.0, n)
        heading = rng.uniform(0, 2 * np.pi, n)
        self.vx, self.vy = speed * np.sin(heading), speed * np.cos(heading)
        self.offset = rng.uniform(0, 1200.0, n)
        self.address = [f"{a:06X}" for a in rng.choice(0xFFFFFF, n, replace=False)]

    def at(self, t: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # each crosses the area in 20 minutes, then starts again (another flight, same
        # address: a jump the pairs across it must survive)
        s = (t + self.offset[a]) % 1200.0 - 600.0
        return self.x0[a] + self.vx[a] * s, self.y0[a] + self.vy[a] * s

    def velocity(self, t: np.ndarray, a: np.ndarray) -> np.ndarray:
        return np.stack([self.vx[a], self.vy[a]], axis=1)


def scans(sky: Sky, sites: tuple[Site, ...], t0: float, t1: float, seed: int,
          detection: Literal["modes", "ssr"] = "modes") -> list[tuple[list[Plot], np.ndarray]]:
    """Each radar's scans between t0 and t1 (data seconds), in time order: the plots
    (biased, noisy, stamped late by the site's offset) and the aircraft behind each."""
    rng = np.random.default_rng(seed)
    frame = sky.frame
    out: list[tuple[float, list[Plot], np.ndarray]] = []
    n = len(sky.x0)
    for site in sites:
        xr, yr = (v[0] for v in frame.to_xy(np.array([site.lat]), np.array([site.lon])))
        src = Source(sac=site.sac, sic=site.sic, cat=48)
        for scan in np.arange(t0 + rng.uniform(0, site.period_s), t1, site.period_s):
            a = np.arange(n)
            px, py = sky.at(np.full(n, scan), a)
            az = np.arctan2(px - xr, py - yr)
            t = scan + (np.degrees(az) % 360.0) / 360.0 * site.period_s
            px, py = sky.at(t, a)
            lat, lon = frame.to_latlon(px, py)
            k = frame.scale(lat)
            ground = np.hypot(px - xr, py - yr) / k  # metres on the ground
            keep = (ground > 20e3) & (ground < 250e3)
            a, t, k, ground, px, py = a[keep], t[keep], k[keep], ground[keep], px[keep], py[keep]
            rho = (site.range_gain * ground + site.bias_range_m
                   + rng.normal(0, site.sigma_range_m, len(a)))
            bearing = np.arctan2(px - xr, py - yr) + np.radians(
                site.bias_azimuth_deg + rng.normal(0, site.sigma_azimuth_deg, len(a)))
            mx, my = xr + k * rho * np.sin(bearing), yr + k * rho * np.cos(bearing)
            lat, lon = frame.to_latlon(mx, my)
            plots = [Plot(
                t=START + float(t[i] + site.time_offset_s), src=src, lat=float(lat[i]),
                lon=float(lon[i]), rho_nm=float(rho[i] / NM),
                theta_deg=float(np.degrees(bearing[i] - frame.north(lon[i])) % 360.0),
                fl=300.0, mode3a=None,
                icao24=sky.address[a[i]] if detection == "modes" else None,
                callsign=None, track_number=int(a[i]) + 1, gs_kt=None, hdg_deg=None,
                detection=detection, flags=[]) for i in range(len(a))]
            if plots:
                out.append((scan + site.period_s, plots, a))
    out.sort(key=lambda s: s[0])
    return [(p, a) for _t, p, a in out]


def radars(sites: tuple[Site, ...]) -> dict[tuple[int, int], RadarNoise]:
    return {(s.sac, s.sic): RadarNoise(s.sigma_range_m, s.sigma_azimuth_deg, 30.0, 0.03,
                                       s.lat, s.lon, 0.0) for s in sites}


class Bench:
    """The estimator alone, fed with each plot's true velocity (what a good track has)."""

    def __init__(self, sites: tuple[Site, ...], **parameters: float) -> None:
        self.frame = ConformalFrame()
        # each batch here is a whole scan (60 plots): every one is learnt from
        parameters.setdefault("registration_plots_per_cycle", 1e4)
        self.p = TrackerParameters(**parameters)  # type: ignore[arg-type]
        self.model = MeasurementModel(self.frame, radars(sites), 100.0)
        self.reg = Registration(self.p, self.model)
        self.sky = Sky(self.frame, 60, seed=3)

    def feed(self, batches: list[tuple[list[Plot], np.ndarray]]) -> None:
        for plots, truth in batches:
            for m in self.model.convert(plots):
                rows = m.index
                v = self.sky.velocity(m.t - START, truth[rows])
                self.reg.observe(m, m.xy, m.t, np.arange(len(m)), v, np.full(len(m), 1.0))

    def estimates(self) -> dict[int, object]:
        self.reg.solve()
        return {e.sic: e for e in self.reg.estimates()}


def assert_close(est: dict[int, object], sites: tuple[Site, ...], time_s: float = 0.03,
                 gain: float = 4e-5) -> None:
    for s in sites:
        e = est[s.sic]
        assert abs(e.range_bias_m - s.bias_range_m) < 10.0, (s, e)  # type: ignore[attr-defined]
        assert abs(e.azimuth_bias_deg - s.bias_azimuth_deg) < 0.01, (s, e)  # type: ignore[attr-defined]
        assert abs(e.range_gain - s.range_gain) < gain, (s, e)  # type: ignore[attr-defined]
        assert abs(e.time_offset_s - s.time_offset_s) < time_s, (s, e)  # type: ignore[attr-defined]
        assert e.established  # type: ignore[attr-defined]


def test_converges_to_known_biases() -> None:
    """Range bias, gain, azimuth bias and time offset of three radars, from 20 minutes of
    60 Mode S aircraft: within 10 m, 0.01 deg, 40 ppm and 30 ms."""
    b = Bench(SITES)
    b.feed(scans(b.sky, SITES, 0.0, 1200.0, seed=1))
    est = b.estimates()
    assert_close(est, SITES)
    assert b.reg.rejected < 0.01 * b.reg.accepted
    # its uncertainty is stated and is small once converged
    for e in est.values():
        assert 0 < e.range_bias_sigma_m < 10.0  # type: ignore[attr-defined]


def test_forgetting_follows_a_changed_bias() -> None:
    """A radar whose range bias jumps by 40 m and azimuth by 0.03 deg: the estimate moves to
    the new values within a few forgetting time constants."""
    b = Bench(SITES, registration_forget_s=200.0)
    b.feed(scans(b.sky, SITES, 0.0, 600.0, seed=1))
    assert_close(b.estimates(), SITES, time_s=0.05, gain=6e-5)
    moved = (SITES[0], replace(SITES[1], bias_range_m=20.0, bias_azimuth_deg=0.01), SITES[2])
    b.feed(scans(b.sky, moved, 600.0, 1800.0, seed=2))
    assert_close(b.estimates(), moved, time_s=0.05, gain=6e-5)  # fewer pairs remembered


def test_without_forgetting_the_old_bias_lingers() -> None:
    """The same jump with (almost) no forgetting: the estimate is an average of the two, so
    the test above measures the forgetting, not chance."""
    b = Bench(SITES, registration_forget_s=1e7)
    b.feed(scans(b.sky, SITES, 0.0, 600.0, seed=1))
    moved = (SITES[0], replace(SITES[1], bias_range_m=20.0, bias_azimuth_deg=0.01), SITES[2])
    b.feed(scans(b.sky, moved, 600.0, 1800.0, seed=2))
    e = b.estimates()[2]
    assert abs(e.range_bias_m - 20.0) > 5.0 or abs(e.azimuth_bias_deg - 0.01) > 0.005  # type: ignore[attr-defined]


def test_single_radar_learns_nothing() -> None:
    b = Bench(SITES[:1])
    b.feed(scans(b.sky, SITES[:1], 0.0, 300.0, seed=1))
    assert b.reg.accepted == 0
    assert b.estimates() == {}
    assert b.reg.allowance(0) is None


def test_without_mode_s_learns_nothing() -> None:
    b = Bench(SITES)
    b.feed(scans(b.sky, SITES, 0.0, 300.0, seed=1, detection="ssr"))
    assert b.reg.accepted == 0
    assert b.estimates() == {}


def test_nans_and_a_wrong_address_far_away_do_not_corrupt() -> None:
    """Plots with NaN range, NaN velocities, and a second target 40 km away that one radar
    reports with a real aircraft's address: rejected, the estimate still converges."""
    b = Bench(SITES)
    batches = scans(b.sky, SITES, 0.0, 1200.0, seed=1)
    hostile = []
    for plots, truth in batches:
        plots = list(plots)
        if plots[0].src.sic == 1:
            impostor = plots[0]
            lat = impostor.lat + 0.36 if impostor.lat is not None else None
            plots.append(replace_plot(impostor, lat=lat, icao24=b.sky.address[
                (int(truth[0]) + 1) % len(b.sky.address)]))
            truth = np.r_[truth, (int(truth[0]) + 1) % len(b.sky.address)]
            plots.append(replace_plot(plots[1], rho_nm=None))
            truth = np.r_[truth, truth[1]]
        hostile.append((plots, truth))
    b.feed(hostile)
    # NaN velocity and NaN times straight into observe
    m = b.model.convert(batches[5][0])[0]
    nan = np.full((len(m), 2), np.nan)
    b.reg.observe(m, m.xy, m.t, np.arange(len(m)), nan, np.full(len(m), np.nan))
    b.reg.observe(m, np.full_like(m.xy, np.nan), np.full(len(m), np.nan),
                  np.arange(len(m)), nan, np.ones(len(m)))
    assert b.reg.rejected > 100
    assert_close(b.estimates(), SITES)
    assert np.isfinite(b.reg.theta).all()


def replace_plot(plot: Plot, **changes: object) -> Plot:
    import msgspec

    return msgspec.structs.replace(plot, **changes)


def test_memory_is_bounded() -> None:
    b = Bench(SITES, registration_max_addresses=10)
    b.feed(scans(b.sky, SITES, 0.0, 60.0, seed=1))
    assert len(b.reg._last) <= 10


def test_last_plots_hold_only_their_own_record() -> None:
    """Each remembered plot owns its record: a view into the batch it came in would keep
    that whole batch alive (the replay's slow climb in memory).  A record is its own bytes
    (a slice of bytes is a copy), one plot's worth."""
    b = Bench(SITES)
    b.feed(scans(b.sky, SITES, 0.0, 30.0, seed=1))
    records = [q for seen in b.reg._last.values() for _t, q in seen.values()]
    assert records
    assert all(type(q) is bytes and len(q) == _RECORD * 8 for q in records)


# The same radars with three times the range and azimuth biases: the systematic error
# then dominates the noise, as it does for en-route radars seen at long range.
BIG = tuple(replace(s, bias_range_m=3 * s.bias_range_m, bias_azimuth_deg=3 * s.bias_azimuth_deg)
            for s in SITES)


@pytest.fixture(scope="module")
def tracked() -> tuple[Tracker, Tracker, dict[str, list[float]], Sky]:
    """Trackers with registration on and off through 15 minutes of BIG's plots; the
    horizontal error of every fused update after the first 10 minutes."""
    frame = ConformalFrame()
    sky = Sky(frame, 60, seed=3)
    batches = scans(sky, BIG, 0.0, 900.0, seed=1)
    on = Tracker(TrackerParameters(), radars=radars(BIG), frame=frame)
    off = Tracker(TrackerParameters(registration=False), radars=radars(BIG), frame=frame)
    errors: dict[str, list[float]] = {"on": [], "off": []}
    index = {a: i for i, a in enumerate(sky.address)}
    for plots, _truth in batches:
        for name, tracker in (("on", on), ("off", off)):
            for f in tracker.update(plots):
                if f.icao24 is None or f.t - START < 600.0:
                    continue
                x, y = frame.to_xy(np.array([f.lat]), np.array([f.lon]))
                tx, ty = sky.at(np.array([f.t - START]), np.array([index[f.icao24]]))
                errors[name].append(float(np.hypot(x[0] - tx[0], y[0] - ty[0])))
    return on, off, errors, sky


def test_tracker_corrects_plots_and_tightens_the_allowance(tracked) -> None:  # type: ignore[no-untyped-def]
    """Through the tracker: the estimate converges from the tracks' own velocities, its
    radars are established, and their plots' covariance carries the estimate's uncertainty
    instead of the 30 m / 0.03 deg default."""
    on, off, _errors, _sky = tracked
    assert off.registration is None
    reg = on.registration
    assert reg is not None
    est = {e.sic: e for e in reg.estimates()}
    for s in BIG:
        e = est[s.sic]
        assert e.established
        assert abs(e.range_bias_m - s.bias_range_m) < 10.0, (s, e)
        assert abs(e.azimuth_bias_deg - s.bias_azimuth_deg) < 0.01, (s, e)
        r, az = reg.allowance(on.sources.index[(s.sac, s.sic, 48)]) or (99.0, 99.0)
        assert r < 30.0 and az < 0.03


def test_tracker_fused_error_falls_with_registration(tracked) -> None:  # type: ignore[no-untyped-def]
    """The fused tracks' horizontal error once registration is established, on vs off."""
    _on, _off, errors, _sky = tracked
    rms = {k: float(np.sqrt(np.mean(np.square(v)))) for k, v in errors.items()}
    assert len(errors["on"]) > 1000
    assert rms["on"] < 0.8 * rms["off"], rms


def test_evaluate_reports_estimates_against_the_truth(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``evaluate`` takes the last ``registration`` of each radar from the tracks file and
    the truth's ``radar`` lines (shared-formats item 1), and prints estimate, truth and
    error; a radar the truth does not describe shows n/a."""
    import json

    from gateway.evaluate import evaluate
    from gateway.messages import RadarRef, encode
    from gateway.messages import Registration as Message

    truth = tmp_path / "truth.jsonl"
    truth.write_text("\n".join(json.dumps(x) for x in (
        {"kind": "truth", "t": 100.0, "flight": "F1", "lat": 30.0, "lon": -105.0},
        {"kind": "truth", "t": 200.0, "flight": "F1", "lat": 30.1, "lon": -105.0},
        {"kind": "radar", "sac": 0, "sic": 101, "name": "Monterrey", "bias_range_m": 18.0,
         "range_gain": 1.0, "bias_azimuth_deg": 0.02, "time_offset_s": 0.0})) + "\n")

    def reg(t: float, sic: int, rb: float) -> bytes:
        return encode(Message(
            t=t, src=RadarRef(sac=0, sic=sic), range_bias_m=rb, range_gain=1.00001,
            azimuth_bias_deg=0.021, time_offset_s=0.01, range_bias_sigma_m=3.0,
            range_gain_sigma=1e-5, azimuth_bias_sigma_deg=0.001, time_offset_sigma_s=0.1,
            pairs=500, established=True))

    tracks = tmp_path / "tracks.jsonl"
    tracks.write_bytes(b"\n".join([reg(120.0, 101, 30.0), reg(180.0, 101, 16.5),
                                   reg(180.0, 102, -5.0)]) + b"\n")
    report = evaluate(truth, tracks)
    rows = {r.radar: r for r in report.registration}
    assert rows["0-101"].range_bias_m == 16.5  # the last one
    assert rows["0-101"].true_range_bias_m == 18.0 and rows["0-101"].name == "Monterrey"
    assert rows["0-102"].true_range_bias_m is None
    text = report.table()
    assert "radar registration" in text
    line = next(x for x in text.splitlines() if x.strip().startswith("0-101"))
    assert "-1.5" in line and "+0.0010" in line  # the errors
    assert "n/a" in next(x for x in text.splitlines() if x.strip().startswith("0-102"))
    assert report.tracks_input.get("registration") == 3
    assert json.loads(report.to_json())["registration"][0]["radar"] == "0-101"


def test_published_every_period_of_data_time() -> None:
    """``due``: every radar's message once per ``registration_output_period_s`` of data
    time, on multiples of it, the first after the earliest data; not after the first look
    at the clock, which a live run and a replay take after chunks of different sizes (the
    first look here is past a multiple: the old schedule started there, a period late)."""
    late, early = (Bench(SITES, registration_output_period_s=60.0) for _ in range(2))
    for b in (late, early):
        batches = scans(b.sky, SITES, 0.0, 300.0, seed=1)
        b.reg.before(b.model.convert(batches[0][0]))  # the tracker's hook: the data start
        b.feed(batches)
    made = late.reg.due(START + 61.0)
    assert {(m.src.sac, m.src.sic) for m in made} == {(s.sac, s.sic) for s in SITES}
    assert all(m.t == START + 61.0 and m.pairs > 0 for m in made)
    reg = early.reg
    assert reg.due(START + 10.0) == []
    assert reg.due(START + 50.0) == []
    assert len(reg.due(START + 61.0)) == 3
    assert reg.due(START + 100.0) == []
    assert len(reg.due(START + 125.0)) == 3


def test_dense_traffic_learns_from_a_share_of_the_addresses() -> None:
    """Cycles of many Mode S plots: only about ``registration_plots_per_cycle`` of them a
    cycle are learnt from, the same addresses for every radar, so pairs still form and the
    estimate still converges."""
    full = Bench(SITES)
    share = Bench(SITES, registration_plots_per_cycle=10.0)
    batches = scans(full.sky, SITES, 0.0, 1200.0, seed=1)
    full.feed(batches)
    share.feed(batches)
    assert 0 < share.reg.accepted < 0.5 * full.reg.accepted
    assert_close(share.estimates(), SITES, time_s=0.05, gain=8e-5)


def test_service_status_metrics_and_health_show_the_estimates() -> None:
    """The service's ``status`` counters, /metrics gauges and /health carry each radar's
    estimate and its uncertainty."""
    import io

    from gateway.config import loads
    from gateway.service.shell import Service

    radars_toml = "".join(
        f"[[radar]]\nsac = {s.sac}\nsic = {s.sic}\nname = \"R{s.sic}\"\nlat = {s.lat}\n"
        f"lon = {s.lon}\nalt_m = 0.0\nsigma_range_m = {s.sigma_range_m}\n"
        f"sigma_azimuth_deg = {s.sigma_azimuth_deg}\n\n" for s in SITES)
    config = loads("[gateway]\nid = \"gw\"\n\n" + radars_toml)
    service = Service(config, out=io.BytesIO())
    frame = service.pipeline.tracker.frame
    for plots, _truth in scans(Sky(frame, 60, seed=3), SITES, 0.0, 600.0, seed=1):
        service.pipeline.tracker.update(plots)
    counters = service.status_counters()
    est = {e.sic: e for e in service.pipeline.registration()}
    assert counters["registration-0-1-range-bias-m"] == round(est[1].range_bias_m, 2)
    assert abs(counters["registration-0-1-range-bias-m"] - 25.0) < 20.0
    assert 0 < counters["registration-0-1-range-bias-sigma-m"] < 10.0
    assert counters["registration-0-2-established"] == 1
    snap = service.snapshot()
    doc, label, values = snap.gauges["gateway_registration_azimuth_bias_deg"]
    assert label == "radar" and abs(values["0-2"] + 0.02) < 0.01
    assert "0-3" in snap.gauges["gateway_registration_time_offset_sigma_s"][2]
    health = snap.health["registration"]
    assert isinstance(health, dict) and set(health) == {"0-1", "0-2", "0-3"}


def test_pipeline_publishes_registration_every_minute_of_data() -> None:
    """The pipeline hands out a ``registration`` batch (one message per radar with pairs)
    once per ``registration_output_period_s`` of data time, on the topic table's
    ``registration/{sac}-{sic}``, retained; with registration off, none."""
    from gateway.config import loads
    from gateway.pipeline import Pipeline
    from gateway.publish.batch import Kind, Published
    from gateway.publish.topics import Topics

    radars_toml = "".join(
        f"[[radar]]\nsac = {s.sac}\nsic = {s.sic}\nname = \"R{s.sic}\"\nlat = {s.lat}\n"
        f"lon = {s.lon}\nalt_m = 0.0\n\n" for s in SITES)
    made: dict[bool, list[Published]] = {}
    for on in (True, False):
        config = loads("[gateway]\nid = \"gw\"\n\n" + radars_toml
                       + f"[associate]\nregistration = {'true' if on else 'false'}\n")
        pipeline = Pipeline(config)
        sky = Sky(pipeline.tracker.frame, 60, seed=3)
        made[on] = []
        for plots, _truth in scans(sky, SITES, 0.0, 300.0, seed=1):
            pipeline.tracker.update(plots)
            made[on] += pipeline._registration()
    assert made[False] == []
    batches = made[True]
    assert all(b.kind is Kind.REGISTRATION for b in batches)
    assert 4 <= len(batches) <= 5  # 300 s of data: every 60 s, none at the first look
    last = batches[-1].messages
    assert sorted(m.src.sic for m in last) == [1, 2, 3]
    out = list(Topics("surv/v1", "gw").outbound(batches[-1]))
    assert [o.topic for o in out] == [f"surv/v1/registration/0-{m.src.sic}" for m in last]
    assert all(o.retain and o.qos == 1 for o in out)
