"""``evaluate --picture``: one flight traced through the gateway (gateway/trace.py).

Reuses test_evaluate's hand-made truth (three flights flying east for 200 s).  Radar R
reports F1 every 5 s except for 60 s in mid-flight (a cone of silence); the fused picture
holds F1 with one id before the silence and another after it, 100 m north of truth.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from gateway.commands import UsageError
from gateway.commands import evaluate as command
from gateway.evaluate import EvaluationError
from gateway.trace import longest_gap_flight, trace, trace_files
from tests.test_evaluate import (
    SHIPPED_TRUTH,
    T0,
    R,
    fused,
    plot,
    position,
    sources_of,
    truth_lines,
    write,
)

NORTH_100M = 100.0 / 111_000.0  # degrees of latitude


def silent(k: int) -> bool:
    return 80 <= k < 140


def tracks_rows() -> list[dict]:
    rows: list[dict] = []
    for k in range(0, 201, 5):
        t = T0 + k
        lat, lon = position("F1", t)
        if not silent(k):
            rows.append(plot(R, t, lat, lon, 1))
            rows.append(plot(R, t, *position("F3", t), 3 if k <= 100 else 2))
        held = "A1" if k < 110 else "B1"
        rows.append(fused(held, t, lat + NORTH_100M, lon, sources_of("F1", t)))
        rows.append(fused("A3", t, *position("F3", t), sources_of("F3", t)))
    return rows


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return (write(tmp_path / "truth.jsonl", truth_lines()),
            write(tmp_path / "tracks.jsonl", tracks_rows()))


def test_trace_gathers_the_flights_plots_fused_ids_and_silence(paths) -> None:
    tr = trace_files(*paths, "F1")
    assert tr.transponder == "modes"
    assert list(tr.plots) == ["0-1 cat048"]
    assert len(tr.plots["0-1 cat048"].t) == 41 - 12  # every 5 s, less the silent minute
    assert np.all(tr.plots["0-1 cat048"].error_m < 1.0)
    assert sorted(tr.fused) == ["A1", "B1"] and tr.id_changes == 1
    errors = np.concatenate([s.error_m for s in tr.fused.values()])
    assert np.allclose(errors, 100.0, atol=1.0)
    assert tr.gaps == [(T0 + 75, T0 + 140)]  # last plot before, first after


def test_the_flight_of_the_longest_silence_is_chosen(paths) -> None:
    assert trace_files(*paths).flight == "F1"


def test_a_flight_without_plots_has_no_gap_and_no_fused_track(paths) -> None:
    tr = trace_files(*paths, "F2")
    assert tr.plots == {} and tr.fused == {} and tr.gaps == []


def test_unknown_flight_and_no_silence_are_clear_errors(paths, tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="not in"):
        trace_files(*paths, "F9")
    steady = write(tmp_path / "steady.jsonl",
                   [plot(R, T0 + k, *position("F1", T0 + k), 1) for k in range(0, 200, 5)])
    with pytest.raises(EvaluationError, match="no flight has a silence"):
        trace_files(paths[0], steady)


def test_evaluate_draws_the_picture(paths, tmp_path: Path, capsys) -> None:
    out = tmp_path / "f1.png"
    args = argparse.Namespace(truth=str(paths[0]), tracks=str(paths[1]), json=None,
                              recent=12.0, max_distance=2000.0, duplicate=30.0,
                              span_tolerance=1.0, picture=str(out), flight=None)
    assert command.run(args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "flight F1, 2 fused id(s), 29 plots, 65 s without a radar plot" in \
        capsys.readouterr().err
    args.flight, args.picture = "F9", str(tmp_path / "x.png")
    with pytest.raises(UsageError, match="F9"):
        command.run(args)
    args.flight, args.picture = "F1", str(tmp_path / "no" / "dir" / "x.png")
    with pytest.raises(UsageError):
        command.run(args)


def test_shipped_truth_parses_for_a_trace() -> None:
    """The shipped truth with an empty tracks file: every flight is known, none traced."""
    from gateway.evaluate import _read_lines, parse_tracks, parse_truth
    truth, _ = parse_truth(_read_lines(SHIPPED_TRUTH))
    empty = parse_tracks([])
    assert longest_gap_flight(truth, empty) is None
    tr = trace(truth, empty, truth.flights[0])
    assert len(tr.truth.t) > 0 and tr.fused == {}
