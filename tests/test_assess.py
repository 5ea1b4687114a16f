"""`assess` (issue 18): each radar of a capture judged against the fused picture of the
others.  The proof runs on the simulator, whose radars' true biases, Pd, noise and periods
are known: a sound border scenario (every estimate near the simulator's) and one with a
radar degraded by `simulate --degrade` (found and named by the verdict).  Both go through
the command line as an engineer runs it: simulate, then assess, then read report.json."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.assess.stats import Histogram, robust_sigma
from gateway.sim.scenario import BORDER_RADARS, RadarSite

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "captures" / "border-radars.toml"
NM = 1852.0
DEGRADED = "Tucson"
DEGRADED_FIGURES = ("pd_modes", "pd_modeac", "pd_psr", "azimuth_bias_deg", "time_offset_s",
                    "false_plots_per_scan")
# What the integration in the degraded test accepts ([assess]): the simulator builds its
# sound radars at Mode A/C Pd 0.96 and primary Pd 0.90 at short range, falling off with
# range (gateway/sim/radar.py), just below the EUROCONTROL defaults (0.97, 0.90), and
# Hermosillo at the standard's noise limits; with the defaults every simulated radar fails
# pd_modeac and most fail pd_psr (asserted below), so the test states its own acceptance.
ACCEPTANCE = """
[assess]
pd_modeac_min = 0.93
pd_psr_min = 0.85
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], capture_output=True,
                          text=True, timeout=900)


def _assess(d: Path, duration: int, config: Path, *extra: str) -> dict[str, Any]:
    done = _run("simulate", "--scenario", "border-radars", "--duration", str(duration),
                "--seed", "1", "--out", str(d / "c.pcap"), *extra)
    assert done.returncode == 0, done.stderr
    done = _run("assess", str(d / "c.pcap"), "--config", str(config), "--report",
                str(d / "report"))
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads((d / "report" / "report.json").read_text())
    return report


def _site(radar: dict[str, Any]) -> RadarSite:
    return next(s for s in BORDER_RADARS.radars if (s.sac, s.sic) == (radar["sac"],
                                                                      radar["sic"]))


def _expected_psr(site: RadarSite, radar: dict[str, Any], psr_range_nm: float) -> float:
    """The simulator's primary Pd (pd_psr x (1 - (r / psr_range)^4)) averaged over the
    opportunities the report counted in each range band it judges (a band's average of
    the fall-off, the band taken as uniformly filled)."""
    det = radar["detection"]
    band = det["range_band_nm"]
    bands = math.ceil(psr_range_nm / band)
    total = expected = 0.0
    for b, row in enumerate(det["opportunities"]["psr"][:bands]):
        n = sum(row)
        r = [b * band + (k + 0.5) * band / 50 for k in range(50)]
        falloff = sum(max(0.0, 1 - (x / site.psr_range_nm) ** 4) for x in r) / len(r)
        total += n
        expected += n * site.pd_psr * falloff
    return expected / total


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _assess(tmp_path_factory.mktemp("sound"), 1200, CONFIG)


@pytest.fixture(scope="module")
def degraded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("degraded")
    config = d / "gw.toml"  # the shipped one, its airspace beside it, and the acceptance
    config.write_text(CONFIG.read_text() + ACCEPTANCE)
    airspace = CONFIG.parent / "border-airspace.geojson"
    (d / airspace.name).write_bytes(airspace.read_bytes())
    return _assess(d, 600, config, "--degrade", DEGRADED)


@pytest.mark.slow
def test_registration_within_10_m_and_a_hundredth_of_a_degree(sound: dict[str, Any]) -> None:
    assert len(sound["radars"]) == 8
    for r in sound["radars"]:
        site = _site(r)
        assert abs(r["range_bias_m"] - site.bias_range_m) <= 10.0, r["name"]
        assert abs(r["azimuth_bias_deg"] - site.bias_azimuth_deg) <= 0.01, r["name"]
        assert r["range_bias_m_sigma"] > 0 and r["azimuth_bias_deg_sigma"] > 0


@pytest.mark.slow
def test_pd_within_two_points_per_reply_kind(sound: dict[str, Any]) -> None:
    psr_range = sound["thresholds"]["psr_range_nm"]
    for r in sound["radars"]:
        site = _site(r)
        n = r["pd_opportunities"]
        assert min(n.values()) >= 300, (r["name"], n)
        assert abs(r["pd"]["modes"] - site.pd_modes) <= 0.02, r["name"]
        assert abs(r["pd"]["modeac"] - site.pd_ssr) <= 0.02, r["name"]
        assert abs(r["pd"]["psr"] - _expected_psr(site, r, psr_range)) <= 0.02, r["name"]


@pytest.mark.slow
def test_rotation_periods_within_five_hundredths(sound: dict[str, Any]) -> None:
    for r in sound["radars"]:
        assert abs(r["rotation_period_s"] - _site(r).period_s) <= 0.05, r["name"]
        assert r["timing"]["rotation_from"] == "north-markers"
        assert r["timing"]["missing_sectors"] == 0
        assert r["timing"]["out_of_order_datagrams"] == 0
        assert r["timing"]["time_jumps"] == 0


@pytest.mark.slow
def test_noise_within_ten_percent(sound: dict[str, Any]) -> None:
    for r in sound["radars"]:
        site = _site(r)
        assert abs(r["range_noise_m"] / site.sigma_range_m - 1) <= 0.10, r["name"]
        assert abs(r["azimuth_noise_deg"] / site.sigma_azimuth_deg - 1) <= 0.10, r["name"]


@pytest.mark.slow
def test_false_plots_per_scan_near_the_simulated_clutter(sound: dict[str, Any]) -> None:
    for r in sound["radars"]:
        assert abs(r["false_plots_per_scan"] - _site(r).false_plots_per_scan) <= 3.0, r["name"]


@pytest.mark.slow
def test_default_thresholds_fail_the_simulators_mode_ac_pd(sound: dict[str, Any]) -> None:
    """The simulator's Mode A/C Pd (0.96) is below the standard's 0.97: said, not hidden."""
    for r in sound["radars"]:
        assert r["verdict"]["pd_modeac"] == "fail"
        assert r["verdict"]["pd_modes"] == "pass"
        assert r["verdict"]["range_bias_m"] == r["verdict"]["azimuth_bias_deg"] == "pass"


@pytest.mark.slow
def test_the_degraded_radar_is_found_and_named(degraded: dict[str, Any]) -> None:
    by_name = {r["name"]: r for r in degraded["radars"]}
    bad = by_name[DEGRADED]
    assert bad["overall"] == "fail"
    for figure in DEGRADED_FIGURES:
        assert bad["verdict"][figure] == "fail", figure
    assert abs(bad["azimuth_bias_deg"] - 0.2) <= 0.01
    assert 0.6 <= bad["pd"]["modes"] <= 0.8
    # its clutter is where the simulator put it: 90-112.5 deg (sector 4 of 16)
    cells = bad["detection"]["false_plot_cells"]
    by_sector = [sum(row[s] for row in cells) for s in range(16)]
    assert by_sector.index(max(by_sector)) == 4
    for name, r in by_name.items():
        if name == DEGRADED:
            continue
        for figure in DEGRADED_FIGURES:
            assert r["verdict"][figure] == "pass", (name, figure)
    assert by_name["El Paso"]["overall"] == "pass"
    assert by_name["Tijuana"]["overall"] == "pass"


def test_report_keys_html_and_usage(tmp_path: Path) -> None:
    """A short capture, one radar: every key of the reference, the page, and bad usage."""
    done = _run("simulate", "--scenario", "border-radars", "--duration", "90", "--seed", "3",
                "--out", str(tmp_path / "c.pcap"))
    assert done.returncode == 0, done.stderr
    done = _run("assess", str(tmp_path / "c.pcap"), "--config", str(CONFIG), "--radar",
                "1/11", "--report", str(tmp_path / "out"), "--progress", "never")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (r,) = report["radars"]
    for key in ("sac", "sic", "name", "rotation_period_s", "range_bias_m", "range_gain",
                "azimuth_bias_deg", "time_offset_s", "range_bias_m_sigma", "range_gain_sigma",
                "azimuth_bias_deg_sigma", "time_offset_s_sigma", "pd", "range_noise_m",
                "azimuth_noise_deg", "false_plots_per_scan", "verdict"):
        assert key in r, key
    assert set(r["pd"]) == {"modes", "modeac", "psr"}
    assert (r["sac"], r["sic"], r["name"]) == (1, 11, "El Paso")
    assert set(r["verdict"].values()) <= {"pass", "fail", "n/a"}
    assert r["pd_opportunities"]["modeac"] < 200 and r["verdict"]["pd_modeac"] == "n/a"
    assert r["overall"] in ("pass", "fail", "incomplete")
    assert r["content"]["cat048"]["items"]["220"] > 0
    page = (tmp_path / "out" / "index.html").read_text()
    assert "El Paso" in page and "<svg" in page
    # nothing fetched: no script, stylesheet, image or link to elsewhere (XML namespaces
    # in the SVG are names, not fetches)
    for fetch in ("<script", "<link", "<img", 'src="http', "href=\"http", "url(http",
                  "@import"):
        assert fetch not in page, fetch
    bad = _run("assess", str(tmp_path / "c.pcap"), "--config", str(CONFIG), "--radar", "9/9",
               "--report", str(tmp_path / "x"))
    assert bad.returncode == 2 and "9/9" in bad.stderr
    bad = _run("assess", str(tmp_path / "missing.pcap"), "--config", str(CONFIG), "--report",
               str(tmp_path / "x"))
    assert bad.returncode == 2 and "missing.pcap" in bad.stderr


def test_robust_sigma_reads_the_gaussian_core_despite_outliers() -> None:
    import numpy as np
    rng = np.random.default_rng(1)
    h = Histogram(-1500.0, 1500.0, 3000)
    values = np.r_[rng.normal(0, 100.0, 200_000), rng.uniform(-1500, 1500, 4000)]
    h.add(np.r_[values, [1e9, -1e9]])
    assert values.std() > 140.0  # 2 % of outliers: a plain standard deviation is lost
    assert abs(robust_sigma(h) / 100.0 - 1) < 0.03  # the MAD moves by about 2 %
    assert math.isnan(robust_sigma(Histogram(0, 1, 10)))


def test_hostile_datagrams_are_counted_not_fatal(tmp_path: Path) -> None:
    """Garbage, truncated records and a radar nobody configured, mixed into a real feed:
    the assessment goes on, the problems are counted in the report."""
    import numpy as np

    from gateway.assess.core import Assessor
    from gateway.config import load
    from gateway.ingest import read_datagrams

    done = _run("simulate", "--scenario", "border-radars", "--duration", "60", "--seed", "4",
                "--out", str(tmp_path / "c.pcap"))
    assert done.returncode == 0, done.stderr
    rng = np.random.default_rng(7)
    real = [(d.payload, d.t_capture) for d in read_datagrams(tmp_path / "c.pcap")]
    a = Assessor(load(CONFIG), radars=[(1, 11)])
    for n, (payload, t) in enumerate(real):
        junk = [payload, payload[: max(3, len(payload) // 2)],
                bytes(rng.integers(0, 256, int(rng.integers(0, 64)), dtype=np.uint8)),
                bytes([48, 0, 11, 0x80, 7, 99, 48, 0, 8]),  # CAT048 from 7/99, cut short
                b"\x30\xff\xff"]
        a.feed(junk if n % 7 == 0 else [payload], [t] * (len(junk) if n % 7 == 0 else 1))
    a.feed([b"", b"\x00"], [None, float("nan")])
    a.finish()
    report = a.report()
    assert sum(report["decode_problems"].values()) > 0
    (r,) = report["radars"]
    assert r["name"] == "El Paso" and r["timing"]["north_markers"] > 0
    json.dumps(report)  # all of it serialisable, no nan
    assert "NaN" not in json.dumps(report)


def test_overall_needs_every_core_figure() -> None:
    from gateway.assess.verdict import CORE, overall

    sound = dict.fromkeys(CORE, "pass") | {"pd_modeac": "n/a"}
    assert overall(sound) == "pass"  # no Mode A/C traffic is no fault
    assert overall(sound | {"range_noise_m": "n/a"}) == "incomplete"
    assert overall(sound | {"range_noise_m": "n/a", "time_jumps": "fail"}) == "fail"
