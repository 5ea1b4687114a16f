"""Normalisation on the border scenario and on hand-made records: accuracy against truth,
sector batches, I100 fallback, midnight, unknown sources, and the command."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pymap3d
import pytest
from pyproj import Geod
from shipped import shipped_simulation

import gateway
from gateway.asterix import CATEGORIES
from gateway.asterix.codec import RecordCodec, datablock
from gateway.config import load, loads
from gateway.decoder import Decoder
from gateway.ingest import read_datagrams
from gateway.messages import Plot, Track, encode_lines
from gateway.normalize.normalizer import Normalizer, SourceBatch
from gateway.sim.run import Simulation
from gateway.sim.scenario import BORDER

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "captures" / "border.toml"
CAPTURE = ROOT / "captures" / "border-10min.pcap.gz"
WGS84 = Geod(ellps="WGS84")
MIDNIGHT = 1779926400.0  # 2026-05-28 00:00:00 UTC


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return shipped_simulation()  # the run of the shipped capture


@pytest.fixture(scope="module")
def published() -> list[SourceBatch]:
    normalizer = Normalizer(load(CONFIG))
    decoded = gateway.decode(CAPTURE)
    out = normalizer.feed(decoded.batches)
    return out + normalizer.flush()


def messages_of(published: list[SourceBatch], kind: type) -> list:
    return [m for p in published for m in p.messages if isinstance(m, kind)]


@pytest.mark.parametrize("site", BORDER.radars, ids=lambda s: s.name)
def test_plot_positions_against_truth(sim: Simulation, published: list[SourceBatch],
                                      site) -> None:
    """Median horizontal error of Mode S plots is what the radar's own noise and bias make
    of it, and the conversion itself adds nothing systematic."""
    plots = [m for m in messages_of(published, Plot)
             if (m.src.sac, m.src.sic) == (site.sac, site.sic) and m.icao24 and m.fl is not None]
    by_address = {f"{int(a):06X}": f for f, a in enumerate(sim.flights.icao24) if a >= 0}
    flights = np.array([by_address[p.icao24] for p in plots])
    t = np.array([p.t for p in plots]) - BORDER.start_utc
    truth = sim.traj.at(flights, t)
    lat, lon = np.array([p.lat for p in plots]), np.array([p.lon for p in plots])
    error = WGS84.inv(lon, lat, truth["lon"], truth["lat"])[2]
    # What the measurement noise alone does, per plot: range and cross-range errors.
    az, el, slant = pymap3d.geodetic2aer(truth["lat"], truth["lon"], truth["alt_m"],
                                         site.lat, site.lon, site.alt_m)
    sigma_r = np.hypot(site.sigma_range_m, site.bias_range_m)
    sigma_x = slant * np.radians(np.hypot(site.sigma_azimuth_deg, site.bias_azimuth_deg))
    expected = np.median(np.hypot(sigma_r, sigma_x) * np.cos(np.radians(el)))
    assert len(plots) > 500
    assert np.median(error) < 1.2 * expected
    # Conversion alone: the true slant range and azimuth, placed at the Mode C height.
    g = gateway.normalize.geometry.RadarGeometry(site.lat, site.lon, site.alt_m)
    fl = np.array([p.fl for p in plots])
    exact_lat, exact_lon, _ = g.place(slant, az, fl * 30.48)
    conversion = WGS84.inv(exact_lon, exact_lat, truth["lon"], truth["lat"])[2]
    assert np.median(conversion) < 3.0  # pressure vs geometric height: tens of metres up


def test_plot_batches_are_sectors(published: list[SourceBatch]) -> None:
    for batch in published:
        if batch.kind != "plots":
            continue
        sac, sic = batch.source
        site = next(r for r in BORDER.radars if (r.sac, r.sic) == (sac, sic))
        width = 360 / site.sectors
        theta = np.array([m.theta_deg for m in batch.messages])
        sectors = set((theta // width).astype(int).tolist())
        # measured azimuth noise can push a plot a hair over its sector's edge
        assert len(sectors) <= 2, (batch.source, sectors)
        assert all(m.src.sac == sac and m.src.sic == sic for m in batch.messages)


@pytest.mark.parametrize("n", [2, 3])
def test_sectors_per_batch_merges_a_radars_sectors(published: list[SourceBatch], n: int) -> None:
    """With ``sectors_per_batch = n`` a radar's batch is n consecutive sectors, its plots
    the same and in the same order as those sectors' batches made one by one; SDPS cycles
    are left as they are."""
    config = load(CONFIG)
    config = dataclasses.replace(
        config, normalize=dataclasses.replace(config.normalize, sectors_per_batch=n))
    normalizer = Normalizer(config)
    merged = normalizer.feed(gateway.decode(CAPTURE).batches) + normalizer.flush()

    def by_source(batches: list[SourceBatch], kind: str) -> dict:
        out: dict = {}
        for b in batches:
            if b.kind == kind:
                out.setdefault(b.source, []).append(b.messages)
        return out

    assert by_source(merged, "tracks") == by_source(published, "tracks")
    one, many = by_source(published, "plots"), by_source(merged, "plots")
    assert one.keys() == many.keys()
    for source, sectors in one.items():
        batches = many[source]
        assert [m for b in batches for m in b] == [m for b in sectors for m in b]
        assert len(batches) < len(sectors)
        # each merged batch is a run of consecutive sector batches, at most n of them
        at = 0
        for b in batches[:-1]:
            taken, size = 0, 0
            while size < len(b):
                size += len(sectors[at + taken])
                taken += 1
            assert size == len(b) and 1 <= taken <= n, source
            at += taken
        width = 360 / next(r for r in BORDER.radars if (r.sac, r.sic) == source).sectors
        spans = [len(set((np.array([m.theta_deg for m in b]) // width).astype(int).tolist()))
                 for b in batches]
        assert max(spans) <= n + 1 and np.median(spans) >= n - 1


def test_sectors_per_batch_is_checked() -> None:
    for bad in (0, 9):
        with pytest.raises(ValueError, match="sectors_per_batch"):
            loads(f"[gateway]\nid = \"g\"\n[normalize]\nsectors_per_batch = {bad}\n")
    eight = loads("[gateway]\nid = \"g\"\n[normalize]\nsectors_per_batch = 8\n")
    assert eight.normalize.sectors_per_batch == 8


@pytest.mark.slow
def test_rotation_period_measured_from_north_markers() -> None:
    normalizer = Normalizer(load(CONFIG))
    normalizer.feed(gateway.decode(CAPTURE).batches)
    measured = normalizer.rotation_periods()
    for site in BORDER.radars:
        assert measured[site.sac, site.sic] == pytest.approx(site.period_s, abs=1 / 128)


def test_tracks_carry_flight_plans(published: list[SourceBatch], sim: Simulation) -> None:
    tracks = messages_of(published, Track)
    assert len(tracks) > 1000
    with_plan = [t for t in tracks if t.fpl is not None]
    assert with_plan and all(t.fpl.dep and t.fpl.dst and t.fpl.type for t in with_plan)
    by_callsign = {c: f for f, c in enumerate(sim.flights.callsign) if c}
    for t in with_plan[:200]:
        f = by_callsign[t.fpl.callsign]
        assert (t.fpl.dep, t.fpl.dst) == (sim.flights.dep[f], sim.flights.dst[f])


SMALL = """
[gateway]
id = "t"
[[radar]]
sac = 0
sic = 101
name = "Monterrey"
lat = 25.7785
lon = -100.1069
alt_m = 520.0
[[sdps]]
sac = 0
sic = 200
name = "SENEAM"
srp_lat = 27.0
srp_lon = -106.0
"""


def _track_record(with_105: bool, lat: float, lon: float) -> bytes:
    from gateway.sim.scenario import SdpsSite
    from gateway.sim.sdps import stereographic

    x, y = stereographic(SdpsSite("s", 0, 200, "", 0, 4.0, "MX", 27.0, -106.0)).transform(
        lon, lat)
    items = {"010": {"SAC": 0, "SIC": 200}, "070": 100.0, "040": 7,
             "100": {"X": float(x), "Y": float(y)}, "185": {"VX": 100.0, "VY": 0.0}}
    if with_105:
        items["105"] = {"LAT": lat, "LON": lon}
    return RecordCodec(CATEGORIES[62]).encode_record(items)


def test_i100_through_the_system_reference_point() -> None:
    """Without I105, I100 taken back through the SRP lands where I105 would have."""
    normalizer = Normalizer(loads(SMALL))
    lat, lon = 29.123456, -103.654321
    block = datablock(62, [_track_record(True, lat, lon), _track_record(False, lat, lon)])
    batches, _ = Decoder().decode([block], [86400.0 * 20000 + 100.5])
    tracks = [m for p in normalizer.feed(batches) + normalizer.flush() for m in p.messages]
    assert len(tracks) == 2
    distance = WGS84.inv(tracks[0].lon, tracks[0].lat, tracks[1].lon, tracks[1].lat)[2]
    assert distance < 1.0  # I100 has an LSB of 0.5 m
    assert tracks[0].gs_kt == pytest.approx(100.0 * 3600 / 1852)
    assert tracks[0].trk_deg == pytest.approx(90.0)


def _plot(tod: float) -> bytes:
    return RecordCodec(CATEGORIES[48]).encode_record({
        "010": {"SAC": 0, "SIC": 101}, "140": tod, "020": {"TYP": 5},
        "040": {"RHO": 50.0, "THETA": 45.0}, "090": {"FL": 350.0}})


def _times(tods: list[float], captured: list[float] | None, now: float | None) -> list[float]:
    normalizer = Normalizer(loads(SMALL))
    batches, _ = Decoder().decode([datablock(48, [_plot(x)]) for x in tods], captured)
    out = normalizer.feed(batches, now=now) + normalizer.flush()
    return [m.t for p in out for m in p.messages]


def test_midnight_in_a_capture() -> None:
    tods = [86399.0, 86399.9, 0.3, 1.2]
    captured = [MIDNIGHT - 0.9, MIDNIGHT - 0.05, MIDNIGHT + 0.4, MIDNIGHT + 1.3]
    assert _times(tods, captured, None) == pytest.approx([MIDNIGHT - 1.0, MIDNIGHT - 0.1,
                                                          MIDNIGHT + 0.3, MIDNIGHT + 1.2],
                                                         abs=1 / 128)


def test_midnight_live() -> None:
    """Live: the receive clock is the reference (no capture time); the clock has just
    passed midnight while the data was stamped before it, and the other way round."""
    assert _times([86399.5], None, MIDNIGHT + 0.2) == pytest.approx([MIDNIGHT - 0.5],
                                                                    abs=1 / 128)
    assert _times([0.5], None, MIDNIGHT - 0.2) == pytest.approx([MIDNIGHT + 0.5], abs=1 / 128)


def test_late_and_early_data_counted_and_left_out() -> None:
    normalizer = Normalizer(loads(SMALL))
    tods = [100.0, 50.0, 108.0]  # on time, 50 s late, 8 s early (window: 30 late, 5 early)
    batches, _ = Decoder().decode([datablock(48, [_plot(x)]) for x in tods],
                                  [MIDNIGHT + 100.0] * 3)
    out = normalizer.feed(batches) + normalizer.flush()
    assert [m.t for p in out for m in p.messages] == [MIDNIGHT + 100.0]
    assert normalizer.counters["plot-out-of-time-window"] == 2


def test_unknown_radar_is_counted_not_guessed() -> None:
    normalizer = Normalizer(loads(SMALL))
    record = RecordCodec(CATEGORIES[48]).encode_record({
        "010": {"SAC": 9, "SIC": 9}, "140": 100.0, "040": {"RHO": 5.0, "THETA": 1.0}})
    batches, _ = Decoder().decode([datablock(48, [record])], [MIDNIGHT + 100])
    assert normalizer.feed(batches) + normalizer.flush() == []
    assert normalizer.counters["unknown-source-cat048"] == 1


def test_primary_plot_without_height_uses_the_fallback() -> None:
    normalizer = Normalizer(loads(SMALL))
    record = RecordCodec(CATEGORIES[48]).encode_record({
        "010": {"SAC": 0, "SIC": 101}, "140": 100.0, "020": {"TYP": 1},
        "040": {"RHO": 100.0, "THETA": 0.0}})
    batches, _ = Decoder().decode([datablock(48, [record])], [MIDNIGHT + 100])
    (plot,) = [m for p in normalizer.feed(batches) + normalizer.flush() for m in p.messages]
    assert plot.fl is None and plot.detection == "psr" and plot.mode3a is None
    g = gateway.normalize.geometry.RadarGeometry(25.7785, -100.1069, 520.0)
    lat, lon, _ = g.place(np.array([100 * 1852.0]), np.array([0.0]), np.array([1500.0]))
    assert (plot.lat, plot.lon) == pytest.approx((lat[0], lon[0]))


@pytest.mark.slow
def test_normalize_command_output_validates_against_the_schema(tmp_path: Path) -> None:
    out = tmp_path / "n.jsonl"
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "normalize", str(CAPTURE),
                           "--config", str(CONFIG), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("\n") == 1 and "normalize:" in done.stderr
    schema = json.loads((ROOT / "docs" / "messages.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    lines = out.read_text().splitlines()
    assert len(lines) > 100_000
    kinds = set()
    for line in lines[::50]:  # every 50th: the full file takes minutes to validate
        message = json.loads(line)
        validator.validate(message)
        kinds.add(message["kind"])
    assert kinds == {"plot", "track"}


def test_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.replace("lat = 25.7785", "lat = 125.7785"))
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "normalize", str(CAPTURE),
                           "--config", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "lat" in done.stderr and ":" in done.stderr


def test_track_without_number_is_counted_and_left_out() -> None:
    normalizer = Normalizer(loads(SMALL))
    record = RecordCodec(CATEGORIES[62]).encode_record({
        "010": {"SAC": 0, "SIC": 200}, "070": 100.0, "105": {"LAT": 28.0, "LON": -104.0}})
    batches, _ = Decoder().decode([datablock(62, [record])], [MIDNIGHT + 100])
    assert normalizer.feed(batches) + normalizer.flush() == []
    assert normalizer.counters["track-without-number-time-or-position"] == 1


def test_batches_leave_in_stream_order_across_categories(published: list[SourceBatch]) -> None:
    """Radar sectors and SDPS cycles interleave as they arrived: no source's batch waits
    behind minutes of another category's (the tracker would see its data as late)."""
    first_time = [min(m.t for m in p.messages) for p in published]
    assert {"plots", "tracks"} <= {p.kind for p in published}
    # once past the start, a batch never begins more than a sector period + latency before
    # the previous batch's start
    lag = np.maximum.accumulate(first_time) - np.array(first_time)
    assert np.percentile(lag, 99.9) < 13.0


def _sdps_track(number: int, tod: float) -> bytes:
    return RecordCodec(CATEGORIES[62]).encode_record({
        "010": {"SAC": 0, "SIC": 200}, "070": tod, "040": number,
        "105": {"LAT": 28.0, "LON": -104.0 + number / 100}})


def _end_of_batch(tod: float) -> bytes:
    return datablock(65, [RecordCodec(CATEGORIES[65]).encode_record(
        {"010": {"SAC": 0, "SIC": 200}, "000": 2, "015": 1, "030": tod})])


def _fed_one_by_one(normalizer: Normalizer, payloads: list[bytes], tods: list[float]
                    ) -> list[list[SourceBatch]]:
    """Each datagram its own decode call, as live: what each call released."""
    out = []
    for payload, tod in zip(payloads, tods, strict=True):
        batches, _ = Decoder().decode([payload], [MIDNIGHT + tod])
        out.append(normalizer.feed(batches))
    return out


def test_sdps_first_cycle_is_held_for_its_end_of_batch() -> None:
    """Before its first CAT065 an SDPS's tracks wait for it (within FIRST_CYCLE_HOLD_S of
    data time): the first cycle is one batch, released by the end of batch, not a batch
    per datagram."""
    tods = [100.0, 100.1, 100.2, 100.3]
    payloads = [datablock(62, [_sdps_track(3 * i + k, tod) for k in range(3)])
                for i, tod in enumerate(tods)] + [_end_of_batch(100.35)]
    released = _fed_one_by_one(Normalizer(loads(SMALL)), payloads, [*tods, 100.35])
    assert released[:4] == [[], [], [], []]
    (cycle,) = released[4]
    assert cycle.kind == "tracks" and len(cycle.messages) == 12 and cycle.datagram == 0


def test_sdps_first_cycle_hold_runs_out() -> None:
    """No end of batch within the hold: what was held goes out with the first track past
    it, and the SDPS is batched per datagram from then on (counted)."""
    tods = [100.0, 100.2, 100.4, 100.6, 100.8]
    payloads = [datablock(62, [_sdps_track(2 * i + k, tod) for k in range(2)])
                for i, tod in enumerate(tods)]
    normalizer = Normalizer(loads(SMALL))
    released = _fed_one_by_one(normalizer, payloads, tods)
    assert released[:3] == [[], [], []]
    assert [len(b.messages) for b in released[3]] == [6, 2]  # the held ones, then its own
    assert [len(b.messages) for b in released[4]] == [2]
    assert normalizer.counters["first-cycle-hold-expired"] == 1
    assert normalizer.flush() == []


def test_first_cycle_hold_is_per_sdps_and_not_for_radars() -> None:
    """A radar's plots are not held (its sectors have their own framing), and a held SDPS
    cycle does not hold back another source's batches."""
    normalizer = Normalizer(loads(SMALL))
    payloads = [datablock(48, [_plot(100.0)]), datablock(62, [_sdps_track(1, 100.0)]),
                datablock(48, [_plot(100.1)])]
    released = _fed_one_by_one(normalizer, payloads, [100.0, 100.0, 100.1])
    assert [[b.kind for b in r] for r in released] == [["plots"], [], ["plots"]]
    assert [b.kind for b in normalizer.flush()] == ["tracks"]


@pytest.mark.parametrize("size", [1, 7, 256])
@pytest.mark.parametrize("sectors", [1, 2])
def test_steady_path_makes_the_per_message_paths_batches(monkeypatch: pytest.MonkeyPatch,
                                                         size: int, sectors: int) -> None:
    """The capture's first 3,000 datagrams in decode calls of ``size``: the steady path
    (``Normalizer._steady_frames``, taken by calls whose sources are all framed) makes the
    same batches, messages and counters as the per-message path it stands in for."""
    config = load(CONFIG)
    config = dataclasses.replace(config, normalize=dataclasses.replace(
        config.normalize, sectors_per_batch=sectors))
    datagrams = list(read_datagrams(CAPTURE))[:3000]

    def run() -> tuple[list[tuple[object, ...]], dict[str, int], dict[object, object]]:
        decoder, normalizer = Decoder([34, 48, 62, 65]), Normalizer(config)
        out: list[SourceBatch] = []
        for i in range(0, len(datagrams), size):
            part = datagrams[i:i + size]
            batches, _ = decoder.decode([d.payload for d in part], [d.t_capture for d in part])
            out += normalizer.feed(batches, part[-1].t_capture)
        out += normalizer.flush()
        return ([(b.kind, b.source, b.at, b.datagram, encode_lines(b.messages)) for b in out],
                dict(normalizer.counters), normalizer.rotation_periods())

    calls = []
    steady_frames = Normalizer._steady_frames
    monkeypatch.setattr(Normalizer, "_steady_frames",
                        lambda *a: calls.append(1) or steady_frames(*a))
    steady = run()
    assert len(calls) > len(datagrams) // size // 2  # most calls took it
    monkeypatch.setattr(Normalizer, "_steady", staticmethod(lambda *a: False))
    assert run() == steady
    assert len(steady[0]) > 100
