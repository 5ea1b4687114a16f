"""The whole pipeline (decode, normalise, associate) on the shipped 10-minute border run,
scored against its truth with the evaluation, held to the issue's targets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.evaluate import Report, evaluate

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "captures" / "border-10min.pcap.gz"
TRUTH = ROOT / "captures" / "border-10min.truth.jsonl.gz"
CONFIG = ROOT / "captures" / "border.toml"

pytestmark = pytest.mark.slow  # one replay of the 10-minute capture serves every test


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    out = tmp_path_factory.mktemp("replay") / "replay.jsonl"
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "replay", str(CAPTURE),
                           "--config", str(CONFIG), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return evaluate(TRUTH, out)


def test_association_is_correct(report: Report) -> None:
    assert report.fused.correctness.share >= 0.995


def test_few_id_changes(report: Report) -> None:
    assert report.fused.id_changes_per_100_flights <= 1.0


def test_complete_picture_without_false_or_duplicate_tracks(report: Report) -> None:
    assert report.fused.completeness_transponder.share >= 0.99
    assert report.fused.false_tracks.share + report.fused.duplicate_tracks.share <= 0.005


def test_primary_only_tracked_and_not_merged(report: Report) -> None:
    assert report.fused.completeness_primary.share >= 0.90
    assert report.fused.merges == 0


def test_fused_beats_every_single_radar(report: Report) -> None:
    radars = [c for c in report.comparisons if c.source.endswith("cat048")]
    assert len(radars) == 8
    for c in radars:
        assert c.fused.rms_m < c.single.rms_m, c.source
    best_radar = min(s.error.rms_m for s in report.sources if s.name.endswith("cat048"))
    assert report.fused.error.rms_m < best_radar
