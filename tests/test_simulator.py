"""The border simulator: its capture decodes cleanly in independent decoders, says what the
simulator meant, and its radars err, detect and rotate as configured.

One 10-minute run (the seed of the shipped capture) serves every test.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pymap3d
import pytest
from shipped import SHIPPED_DURATION, shipped_simulation

import gateway
from gateway.decoder import Batch
from gateway.files import text_writer
from gateway.flightplan.ats import parse
from gateway.ingest import read_datagrams
from gateway.sim.pcap import FrameWriter
from gateway.sim.plans import has_plan as plan_has
from gateway.sim.plans import plan_text
from gateway.sim.radar import TYP_PSR
from gateway.sim.run import Simulation, simulate
from gateway.sim.scenario import BORDER
from gateway.sim.truth import truth_lines
from gateway.units import NM

CAPTURES = Path(__file__).resolve().parent.parent / "captures"
SHIPPED_PCAP = CAPTURES / "border-10min.pcap.gz"
SHIPPED_TRUTH = CAPTURES / "border-10min.truth.jsonl.gz"
SHIPPED_PLANS = CAPTURES / "border-10min.plans.txt"


def pcap_bytes(sim: Simulation) -> bytes:
    out = io.BytesIO()
    FrameWriter(sim.sources(), sim.scenario.start_utc).write(out, sim.wires)
    return out.getvalue()


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return shipped_simulation()


@pytest.fixture(scope="module")
def capture(sim: Simulation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "border.pcap"
    path.write_bytes(pcap_bytes(sim))
    return path


@pytest.fixture(scope="module")
def decoded(capture: Path) -> gateway.Decoded:
    return gateway.decode(capture)


def radar_plots(decoded: gateway.Decoded, sac: int, sic: int) -> tuple[Batch, np.ndarray]:
    plots = decoded.batches[48]
    rows = np.flatnonzero((plots["010/SAC"] == sac) & (plots["010/SIC"] == sic))
    return plots, rows


@pytest.mark.slow
def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    a, b = simulate(BORDER, 60, 5), simulate(BORDER, 60, 5)
    assert pcap_bytes(a) == pcap_bytes(b)
    assert pcap_bytes(simulate(BORDER, 60, 6)) != pcap_bytes(a)


@pytest.mark.slow
def test_shipped_capture_and_truth_are_regenerated_bit_exactly(sim: Simulation,
                                                                tmp_path: Path) -> None:
    assert gzip.decompress(SHIPPED_PCAP.read_bytes()) == pcap_bytes(sim)
    fresh = tmp_path / "truth.jsonl"
    with text_writer(fresh) as text:
        for line in truth_lines(sim.flights, sim.traj, sim.scenario.start_utc, sim.spans):
            text.write(line + "\n")
    assert gzip.decompress(SHIPPED_TRUTH.read_bytes()) == fresh.read_bytes()
    plans = "".join(line + "\n" for line in plan_text(sim.scenario, sim.flights, sim.traj))
    assert SHIPPED_PLANS.read_text() == plans


def test_flight_plans_say_what_the_truth_says(sim: Simulation) -> None:
    """One FPL per flight with a plan, in the ATS grammar, equal to its truth ``plan`` line
    (identification, code, type, wake, departure, destination, level); a CHG of field 7 for
    each code change in flight, to the code the flight then squawks."""
    truth = {}
    for line in truth_lines(sim.flights, sim.traj, sim.scenario.start_utc, {}):
        if line.startswith('{"kind":"plan"'):
            row = json.loads(line)
            truth[row["callsign"]] = row
    messages = [parse(text) for text in plan_text(sim.scenario, sim.flights, sim.traj)]
    fpls = [m.plan for m in messages if m.plan is not None]
    assert len(fpls) == len(truth) == sum(plan_has(sim.flights, i)
                                          for i in range(len(sim.flights.id)))
    assert len(truth) > 300
    for p in fpls:
        row = truth[p.callsign]
        plan = p.plan()
        assert (plan.ssr, plan.type, plan.wtc, plan.dep, plan.dst, plan.cfl) == (
            row["ssr"], row["type"], row["wtc"], row["dep"], row["dst"], row["cfl"])
    changes = {m.callsign: m.amendments for m in messages if m.msg == "CHG"}
    assert changes == {cs: ((7, f"{cs}/A{row['ssr_changed']}"),)
                       for cs, row in truth.items() if row["ssr_changed"]}
    assert changes  # the scenario changes some codes
    by_flight = {sim.flights.id[i]: i for i in range(len(sim.flights.id))}
    for row in truth.values():  # the code after the change is the one squawked at the end
        i = by_flight[row["flight"]]
        if row["ssr_changed"]:
            assert f"{int(sim.flights.mode3a[i, 1]):04o}" == row["ssr_changed"]


def test_every_record_decodes_with_no_problem(decoded: gateway.Decoded, sim: Simulation) -> None:
    assert decoded.problems.total == 0
    assert decoded.ingest["datagrams"] == len(sim.wires)
    sent = sum(len(p.t) for p in sim.plots.values())
    assert len(decoded.batches[48]) == sent
    assert len(decoded.batches[62]) == sum(len(t.t) for t in sim.tracks.values())


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark (Wireshark) not installed")
def test_tshark_decodes_every_datagram_and_agrees(capture: Path,
                                                 decoded: gateway.Decoded) -> None:
    ports = sorted({s.port for s in (*BORDER.radars, *BORDER.sdps)})
    decode_as = [a for p in ports for a in ("-d", f"udp.port=={p},asterix")]
    base = ["tshark", "-n", "-r", str(capture), *decode_as]
    bad = subprocess.run([*base, "-Y", "_ws.malformed || _ws.expert.severity >= error"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 0 and bad.stdout == "", bad.stdout[:500]
    fields = subprocess.run(
        [*base, "-Y", "asterix.048_040", "-T", "fields", "-E", "occurrence=a",
         "-e", "asterix.048_040_RHO", "-e", "asterix.048_040_THETA",
         "-e", "asterix.048_161_TRN"], capture_output=True, text=True, timeout=300)
    rho, theta, trn = ([float(v) for line in fields.stdout.splitlines()
                        for v in line.split("\t")[i].split(",") if v] for i in range(3))
    plots = decoded.batches[48]
    assert rho == plots["040/RHO"].tolist()
    assert theta == pytest.approx(plots["040/THETA"].tolist(), abs=1e-9)
    assert trn == plots["161/TRN"].compressed().tolist()
    tracks = subprocess.run([*base, "-Y", "asterix.062_105", "-T", "fields", "-E",
                             "occurrence=a", "-e", "asterix.062_105_LAT",
                             "-e", "asterix.062_105_LON"],
                            capture_output=True, text=True, timeout=300)
    lat, lon = ([float(v) for line in tracks.stdout.splitlines()
                 for v in line.split("\t")[i].split(",") if v] for i in range(2))
    assert lat == pytest.approx(decoded.batches[62]["105/LAT"].tolist(), abs=1e-9)
    assert lon == pytest.approx(decoded.batches[62]["105/LON"].tolist(), abs=1e-9)


@pytest.mark.slow
def test_asterix_decoder_decodes_every_datagram(capture: Path,
                                                decoded: gateway.Decoded) -> None:
    asterix = pytest.importorskip("asterix")
    total = {48: 0, 62: 0, 34: 0, 65: 0}
    rho = []
    for d in read_datagrams(capture):
        for r in asterix.parse(d.payload):
            assert "error" not in r, r
            total[r["category"]] += 1
            if r["category"] == 48:
                rho.append(r["I040"]["RHO"]["val"])
    assert total == {c: len(b) for c, b in decoded.batches.items()}
    assert rho == decoded.batches[48]["040/RHO"].tolist()


def test_plots_say_what_the_simulator_meant(sim: Simulation, decoded: gateway.Decoded) -> None:
    """Every Mode S plot, matched by address and time, within half an LSB of the intent."""
    for site in BORDER.radars:
        plots, rows = radar_plots(decoded, site.sac, site.sic)
        meant = sim.plots[site.name]
        modes = meant.flight >= 0
        modes &= np.asarray(sim.flights.kind)[np.maximum(meant.flight, 0)] == "modes"
        modes &= meant.typ != TYP_PSR  # Mode S items come only with a Mode S reply
        tod = np.round(((sim.scenario.start_utc + meant.t) % 86400) * 128)
        key = {(int(sim.flights.icao24[f]), int(q)): i
               for i, (f, q) in enumerate(zip(meant.flight, tod, strict=True)) if modes[i]}
        got = [(int(a), int(round(t * 128))) for a, t in
               zip(plots["220"][rows].filled(-1), plots["140"][rows], strict=True)]
        matched = [(r, key[k]) for r, k in zip(rows, got, strict=True) if k in key]
        assert len(matched) == int(modes.sum()) > 100
        r, i = map(np.asarray, zip(*matched, strict=True))
        assert np.all(np.abs(plots["040/RHO"][r] - meant.rho_nm[i]) <= 2**-9)
        dtheta = (plots["040/THETA"][r] - meant.theta_deg[i] + 180) % 360 - 180
        assert np.all(np.abs(dtheta) <= 360 / 2**17 + 1e-12)
        assert np.array_equal(plots["070/MODE3A"][r], meant.mode3a[i])
        assert np.array_equal(plots["161/TRN"][r], meant.track_number[i])
        assert np.all(np.abs(plots["090/FL"][r] - meant.fl[i]) <= 0.125)


def _truth_polar(sim: Simulation, site, flights: np.ndarray, t: np.ndarray):
    state = sim.traj.at(flights, t)
    az, el, slant = pymap3d.geodetic2aer(state["lat"], state["lon"], state["alt_m"],
                                         site.lat, site.lon, site.alt_m)
    return az, el, slant


def _mode_s_errors(sim: Simulation, decoded: gateway.Decoded, site):
    plots, rows = radar_plots(decoded, site.sac, site.sic)
    rows = rows[~plots["220"].mask[rows]]
    by_address = {int(a): f for f, a in enumerate(sim.flights.icao24) if a >= 0}
    flights = np.array([by_address[int(a)] for a in plots["220"][rows]])
    t = (plots["140"][rows] - (sim.scenario.start_utc % 86400)) % 86400
    az, _el, slant = _truth_polar(sim, site, flights, np.asarray(t))
    d_range = plots["040/RHO"][rows] * NM - slant
    d_az = (plots["040/THETA"][rows] - az + 180) % 360 - 180
    return np.asarray(d_range), np.asarray(d_az)


@pytest.mark.parametrize("site", BORDER.radars, ids=lambda s: s.name)
def test_plot_errors_match_configured_noise_and_bias(sim: Simulation, decoded: gateway.Decoded,
                                                     site) -> None:
    """Measured against truth at the detection time: bias and sigma as configured.

    The time of day is quantised to 1/128 s, during which a 500 kt aircraft moves ~2 m;
    range is quantised to 7.2 m (sigma 2.1 m) and azimuth to 0.0055 deg: small against noise.
    """
    d_range, d_az = _mode_s_errors(sim, decoded, site)
    n = len(d_range)
    assert n > 500
    assert abs(d_range.mean() - site.bias_range_m) < 4 * site.sigma_range_m / np.sqrt(n) + 2
    assert d_range.std() == pytest.approx(np.hypot(site.sigma_range_m, 2.1), rel=0.08)
    assert abs(d_az.mean() - site.bias_azimuth_deg) < 4 * site.sigma_azimuth_deg / np.sqrt(n)
    assert d_az.std() == pytest.approx(site.sigma_azimuth_deg, rel=0.08)


@pytest.mark.parametrize("site", BORDER.radars, ids=lambda s: s.name)
def test_scan_period_and_sector_messages(decoded: gateway.Decoded, site) -> None:
    service = decoded.batches[34]
    mine = (service["010/SAC"] == site.sac) & (service["010/SIC"] == site.sic)
    north = np.flatnonzero(mine & (service["000"] == 1))
    assert np.allclose(np.diff(service["030"][north]), site.period_s, atol=1 / 128)
    assert np.all(np.abs(service["041"][north] - site.period_s) <= 1 / 256)  # LSB 1/128 s
    sectors = service["020"][np.flatnonzero(mine & (service["000"] == 2))]
    assert set(np.round(sectors.compressed(), 3)) == {
        round(k * 360 / site.sectors, 3) for k in range(1, site.sectors)}


def test_plots_go_out_in_azimuth_order_by_sector(decoded: gateway.Decoded) -> None:
    plots = decoded.batches[48]
    for d in np.unique(plots.datagram):
        rows = np.flatnonzero(plots.datagram == d)
        theta = plots["040/THETA"][rows].filled(np.nan)
        assert np.all(np.diff(theta) >= 0) or np.ptp(theta) > 300  # one wraps past north


@pytest.mark.parametrize("kind", ["modes", "modeac"])
def test_detection_probability_matches_configuration(sim: Simulation, kind: str) -> None:
    """Transponders well inside coverage: the share of scans with an SSR/Mode S plot is the
    configured probability (pd_modes for Mode S, pd_ssr for Mode A/C)."""
    hits_all = []
    for site in BORDER.radars:
        meant = sim.plots[site.name]
        equipped = np.flatnonzero(np.asarray(sim.flights.kind) == kind)
        scans = meant.scan_start[(meant.scan_start >= 0)
                                 & (meant.scan_start + site.period_s < SHIPPED_DURATION)]
        f = np.repeat(equipped, len(scans))
        t0 = np.tile(scans, len(equipped))
        az, el, slant = _truth_polar(sim, site, f, t0 + site.period_s / 2)
        t = t0 + np.nan_to_num(az) / 360 * site.period_s
        az, el, slant = _truth_polar(sim, site, f, t)
        inside = (slant < 180 * NM) & (el > 1.0) & (el < 30.0)
        ssr = meant.typ != TYP_PSR  # the transponder reply; a PSR-only plot is another matter
        detected = {(int(a), int(b)) for a, b in zip(meant.flight[ssr], meant.scan[ssr],
                                                     strict=True)}
        scan_index = np.searchsorted(meant.scan_start, t0)
        hits = np.array([(int(a), int(b)) in detected
                         for a, b in zip(f[inside], scan_index[inside], strict=True)])
        pd = site.pd_modes if kind == "modes" else site.pd_ssr
        if kind == "modes":  # enough per radar to check each one
            assert len(hits) > 300
            assert abs(hits.mean() - pd) < 4 * np.sqrt(pd * (1 - pd) / len(hits)) + 0.005
        hits_all.append(hits)
    hits = np.concatenate(hits_all)
    pd = BORDER.radars[0].pd_modes if kind == "modes" else BORDER.radars[0].pd_ssr
    assert len(hits) > 1000
    assert abs(hits.mean() - pd) < 4 * np.sqrt(pd * (1 - pd) / len(hits)) + 0.005


def test_primary_only_targets_cross_without_codes(sim: Simulation,
                                                  decoded: gateway.Decoded) -> None:
    psr = [f for f, k in enumerate(sim.flights.kind) if k == "psr"]
    assert psr
    plots = decoded.batches[48]
    primary = plots["020/TYP"] == 1
    assert np.all(plots["070/MODE3A"].mask[primary.filled(False)])
    seen = {int(f) for p in sim.plots.values() for f in p.flight[p.typ == 1] if f in psr}
    assert seen, "no primary-only target was detected"
