"""The tracker where there is no SDPS: the `border-radars` scenario (the border's eight radars
with 20 clutter plots a scan, drones, 3 deg/s turns, holds, 3,000 ft/min climbs,
cone-of-silence overflights, range gains and clock offsets) simulated, replayed through the
whole pipeline with `captures/border-radars.toml` (no `[[sdps]]`) and scored by `evaluate`,
held to issue 15's proof.

The simulated SDPS is truth plus 40 m: figures with it measure the SDPS.  These measure the
tracker: registration, the IMM, coverage gaps, clutter-robust initiation, periodic output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.evaluate import Report, evaluate

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "captures" / "border-radars.toml"

pytestmark = pytest.mark.slow  # one simulation and one replay serve every test


def _run(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "gateway.cli", *args], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    d = tmp_path_factory.mktemp("radars")
    _run("simulate", "--scenario", "border-radars", "--duration", "600", "--seed", "1",
         "--out", str(d / "radars.pcap"), "--truth", str(d / "truth.jsonl.gz"))
    _run("replay", str(d / "radars.pcap"), "--config", str(CONFIG), "--out",
         str(d / "tracks.jsonl"))
    return evaluate(d / "truth.jsonl.gz", d / "tracks.jsonl")


def _best_radar(report: Report) -> tuple[float, float]:
    radars = [s for s in report.sources if s.name.endswith("cat048")]
    assert len(radars) == 8
    rms = min(s.error.rms_m for s in radars if s.error.rms_m is not None)
    p95 = min(s.error.p95_m for s in radars if s.error.p95_m is not None)
    return rms, p95


def test_fused_error_is_at_most_six_tenths_of_the_best_radar(report: Report) -> None:
    rms, p95 = _best_radar(report)
    assert report.fused.error.rms_m is not None and report.fused.error.p95_m is not None
    assert report.fused.error.rms_m <= 0.6 * rms
    assert report.fused.error.p95_m <= 0.6 * p95


def test_association_ids_and_completeness(report: Report) -> None:
    f = report.fused
    assert f.correctness.share is not None and f.correctness.share >= 0.995
    assert f.completeness.share is not None and f.completeness.share >= 0.995
    assert f.id_changes == 0


def test_clutter_makes_no_false_track(report: Report) -> None:
    f = report.fused
    assert f.false_tracks.share is not None and f.false_tracks.share <= 0.005
    assert f.duplicate_tracks.share is not None and f.duplicate_tracks.share <= 0.005


def test_primary_only_aircraft_and_drones(report: Report) -> None:
    psr = report.fused.by_kind["psr"]
    assert psr.completeness.share is not None and psr.completeness.share >= 0.95
    assert psr.error.rms_m is not None and psr.error.rms_m <= 300.0
    drones = report.fused.by_kind["drone"]
    assert drones.completeness.share is not None and drones.completeness.share >= 0.80
    assert report.fused.merges == 0
