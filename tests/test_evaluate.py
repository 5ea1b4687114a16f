"""``evaluate``: association and accuracy figures of fused pictures against ground truth.

Hand-made truth: three flights flying east one second a sample for 200 s, F1 Mode S, F2
Mode A/C, F3 primary-only; radar R reuses F2's track number 2 for F3 after F2's track drops;
SDPS S tracks F1 and F2.  Hand-made fused streams are then spoiled one way at a time.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import msgspec
import numpy as np
import pytest
from pyproj import Geod

from gateway.commands import UsageError
from gateway.commands import evaluate as command
from gateway.evaluate import evaluate

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_TRUTH = ROOT / "captures" / "border-10min.truth.jsonl.gz"

T0 = 1_800_000_000.0
FLIGHTS = {"F1": ("modes", 30.0), "F2": ("modeac", 30.5), "F3": ("psr", 31.0)}
R, S = (0, 1, 48), (0, 2, 62)
# (source, track number, flight, from, to), seconds after T0
SPANS = [
    (R, 1, "F1", 0, 200), (R, 2, "F2", 0, 100), (R, 4, "F2", 110, 200),
    (R, 3, "F3", 0, 100), (R, 2, "F3", 110, 200),  # number 2 again, another flight
    (S, 10, "F1", 0, 200), (S, 11, "F2", 0, 200),
]
DURATION = 200


def position(flight: str, t: float) -> tuple[float, float]:
    return FLIGHTS[flight][1], -110.0 + 0.002 * (t - T0)


def truth_lines() -> list[dict]:
    lines: list[dict] = []
    for k in range(DURATION + 1):
        for f, (kind, _lat) in FLIGHTS.items():
            lat, lon = position(f, T0 + k)
            lines.append({"kind": "truth", "t": T0 + k, "flight": f, "lat": lat, "lon": lon,
                          "alt_m": 9000.0, "fl": 300.0, "gs_kt": 400.0, "trk_deg": 90.0,
                          "roc_fpm": 0.0, "callsign": None, "icao24": None, "mode3a": None,
                          "transponder": kind})
    for (sac, sic, cat), number, f, a, b in SPANS:
        lines.append({"kind": "track-map", "src": {"sac": sac, "sic": sic, "cat": cat},
                      "track_number": number, "flight": f, "t_from": T0 + a, "t_to": T0 + b})
    return lines


def sources_of(flight: str, t: float) -> list[dict]:
    return [{"sac": s[0], "sic": s[1], "cat": s[2], "track_number": n}
            for s, n, f, a, b in SPANS if f == flight and T0 + a <= t <= T0 + b]


def fused(track_id: str, t: float, lat: float | None, lon: float | None, sources: list[dict],
          state: str = "confirmed") -> dict:
    return {"kind": "fused", "v": 1, "t": t, "id": track_id, "state": state, "lat": lat,
            "lon": lon, "fl": 300.0, "gs_kt": 400.0, "trk_deg": 90.0, "roc_fpm": 0.0,
            "mode3a": None, "icao24": None, "callsign": None, "pos_sigma_m": 50.0,
            "sources": sources}


def perfect(every: int = 2) -> list[dict]:
    """One confirmed track per flight, on truth, fed by exactly the flight's own tracks."""
    return [fused("A" + f[1], T0 + k, *position(f, T0 + k), sources_of(f, T0 + k))
            for k in range(0, DURATION + 1, every) for f in FLIGHTS]


def plot(src: tuple[int, int, int], t: float, lat: float, lon: float,
         number: int | None) -> dict:
    sac, sic, cat = src
    return {"kind": "plot", "v": 1, "t": t, "src": {"sac": sac, "sic": sic, "cat": cat},
            "lat": lat, "lon": lon, "rho_nm": 100.0, "theta_deg": 10.0, "fl": None,
            "mode3a": None, "icao24": None, "callsign": None, "track_number": number,
            "gs_kt": None, "hdg_deg": None, "detection": "psr", "flags": []}


def write(path: Path, rows: list[dict | str | bytes]) -> Path:
    data = b"".join((r if isinstance(r, bytes) else r.encode() if isinstance(r, str)
                     else json.dumps(r).encode()) + b"\n" for r in rows)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


@pytest.fixture
def files(tmp_path: Path):
    truth = write(tmp_path / "truth.jsonl", truth_lines())

    def evaluate_messages(messages: list, **kw):
        return evaluate(truth, write(tmp_path / "tracks.jsonl", messages), **kw)

    return evaluate_messages


def test_perfect_picture(files) -> None:
    f = files(perfect()).fused
    assert f.tracks_confirmed == 3 and f.tracks_never_confirmed == 0
    assert f.correctness.share == 1.0 and f.correctness.total > 0
    assert f.untracked_updates == 0 and f.unmapped_updates == 0
    assert f.id_changes == 0 and f.flights_in_coverage == 3
    assert f.completeness.share == 1.0
    # F3 is not covered between its radar tracks (100 s to 110 s exclusive)
    assert f.completeness_primary.total == 192
    assert f.completeness_transponder.share == 1.0 and f.completeness_primary.share == 1.0
    assert f.false_tracks.hits == 0 and f.duplicate_tracks.hits == 0
    assert f.error.samples == 3 * 101 and f.error.rms_m < 0.01
    assert f.error_primary.samples == 101
    assert f.merges == 0


def test_swapped_sources_lower_correctness_by_their_share(files) -> None:
    base = files(perfect()).fused.correctness
    messages = perfect()
    swapped = 0
    for m in messages:
        if T0 + 40 <= m["t"] < T0 + 60 and m["id"] in ("A1", "A2"):
            for s in m["sources"]:
                if s["cat"] == 48:  # R's tracks 1 (F1) and 2 (F2) trade places
                    s["track_number"] = 3 - s["track_number"]
                    swapped += 1
    assert swapped == 20
    f = files(messages).fused
    assert f.correctness.total == base.total
    assert f.correctness.hits == base.total - swapped
    assert f.id_changes == 0 and f.false_tracks.hits == 0


@pytest.mark.parametrize(("pattern", "changes"), [
    ({"B1": (T0 + 100, T0 + 999)}, 1),  # A1 then B1
    ({"B1": (T0 + 70, T0 + 130)}, 2),  # A1, B1, A1 again
])
def test_id_changes(files, pattern: dict, changes: int) -> None:
    messages = perfect()
    for m in messages:
        for new_id, (a, b) in pattern.items():
            if m["id"] == "A1" and a <= m["t"] < b:
                m["id"] = new_id
    f = files(messages).fused
    assert f.id_changes == changes
    assert f.id_changes_per_100_flights == pytest.approx(100 * changes / 3)
    assert f.duplicate_tracks.hits == 0 and f.completeness.share == 1.0


def test_duplicate_track(files) -> None:
    extra = [dict(m, id="D1") for m in perfect() if m["id"] == "A1"
             and T0 + 50 <= m["t"] <= T0 + 150]
    f = files(perfect() + extra).fused
    assert f.duplicate_tracks.hits == 1 and f.duplicate_tracks.total == 4
    assert f.id_changes == 0  # the flight stays held by A1 while A1 is alive
    assert f.correctness.share == 1.0 and f.false_tracks.hits == 0
    short = [m for m in extra if m["t"] <= T0 + 70]  # 20 s alongside A1: not a duplicate
    assert files(perfect() + short).fused.duplicate_tracks.hits == 0


def test_false_tracks(files) -> None:
    # far from everything, fed only by untracked plots
    lost = [fused("X", T0 + k, 20.0, -100.0, [{"sac": 0, "sic": 1, "cat": 48,
                                                 "track_number": None}])
            for k in range(0, 60, 4)]
    # fed by three flights in equal parts: no flight has half
    mixed = [fused("Y", T0 + k, *position("F1", T0 + k), [sources_of(f, T0 + k)[0]])
             for k in range(0, 90, 2) for f in [("F1", "F2", "F3")[(k // 2) % 3]]]
    # tentative only: never confirmed, not counted as false
    unconfirmed = [fused("Z", T0 + k, 25.0, -100.0, [], state="tentative") for k in (0, 4)]
    f = files(perfect() + lost + mixed + unconfirmed).fused
    assert f.false_tracks.hits == 2 and f.false_tracks.total == 5
    assert f.tracks_never_confirmed == 1
    assert f.untracked_updates == len(lost)
    base = files(perfect()).fused.correctness
    assert f.correctness.total == base.total + len(mixed)  # the mixed entries all wrong
    assert f.correctness.hits == base.hits


def test_track_without_scored_sources_owned_by_position(files) -> None:
    messages = perfect()
    for m in messages:
        if m["id"] == "A3":
            m["sources"] = []
    f = files(messages).fused
    assert f.false_tracks.hits == 0 and f.tracks_owned_by_position == 1
    assert f.completeness_primary.share == 1.0 and f.error_primary.samples == 101


def test_position_offset_100_m(files) -> None:
    geod = Geod(ellps="WGS84")
    messages = perfect()
    for m in messages:
        m["lon"], m["lat"], _ = geod.fwd(m["lon"], m["lat"], 0.0, 100.0)
    f = files(messages).fused
    assert f.error.rms_m == pytest.approx(100.0, abs=0.01)
    assert f.error.p95_m == pytest.approx(100.0, abs=0.01)
    assert f.error_transponder.rms_m == pytest.approx(100.0, abs=0.01)
    assert f.completeness.share == 1.0
    # beyond the distance limit, the same track no longer counts as complete
    assert files(messages, max_distance_m=50.0).fused.completeness.share == 0.0


def test_primary_only_flight_merged_into_transponder_track(files) -> None:
    messages = perfect()
    merged = 0
    for m in messages:
        if m["id"] == "A1" and m["t"] <= T0 + 100:
            m["sources"].append({"sac": 0, "sic": 1, "cat": 48, "track_number": 3})
            merged += 1
    f = files(messages).fused
    assert f.merges == 1 and f.merged_updates == merged
    assert f.false_tracks.hits == 0  # F1 still has two of every three entries


def test_single_source_baselines(files) -> None:
    """R's own plots: every 4 s along its spans, on truth; F2 and F3 change number once."""
    plots = [plot(R, T0 + k, *position(f, T0 + k), n) for k in range(0, DURATION + 1, 4)
             for s, n, f, a, b in SPANS if s == R and a <= k <= b]
    clutter = [plot(R, T0 + 3, 29.0, -105.0, None), plot(R, T0 + 7, 29.1, -105.0, None)]
    report = files(perfect() + plots + clutter)
    (r,) = report.sources
    assert r.name == "0-1 cat048" and r.source == {"sac": 0, "sic": 1, "cat": 48}
    assert r.tracks_confirmed == 5 and r.correctness.share == 1.0
    assert r.untracked_updates == 2 and r.false_tracks.hits == 0
    assert r.id_changes == 2 and r.flights_in_coverage == 3
    assert r.completeness.share == 1.0 and r.error.rms_m < 0.01
    (c,) = report.comparisons
    assert c.source == r.name and c.flights == 3 and c.fused.samples > 0
    assert "single sources" in report.table()


def test_gzip_inputs(tmp_path: Path) -> None:
    truth = write(tmp_path / "truth.jsonl.gz", truth_lines())
    tracks = write(tmp_path / "tracks.jsonl.gz", perfect())
    f = evaluate(truth, tracks).fused
    assert f.correctness.share == 1.0 and f.completeness.share == 1.0


def test_garbage_is_counted_not_fatal(tmp_path: Path) -> None:
    bad_fused = fused("A1", T0, 95.0, 0.0, [])  # latitude out of range
    alert = {"kind": "alert", "v": 1, "t": T0, "type": "lam-timeout", "track_id": None,
             "text": "x"}
    tracks = write(tmp_path / "tracks.jsonl", [
        *perfect(), "not json", '{"kind": "weird", "t": 1}', "[1, 2]", b"\xff\xfe{",
        bad_fused, alert, "", '{"kind": "fused"}'])
    truth = write(tmp_path / "truth.jsonl", [*truth_lines(), "{{", '{"kind": "other"}',
                                             '{"kind": "truth", "t": "noon"}'])
    report = evaluate(truth, tracks)
    assert report.tracks_input == {"bad JSON": 2, "fused": len(perfect()), "invalid fused": 2,
                                   "not an object": 1, "other kinds": 1, "unknown kind": 1}
    assert report.truth["skipped"] == {"bad JSON": 1, "invalid truth": 1, "unknown kind": 1}
    assert report.fused.correctness.share == 1.0
    table = report.table()
    assert "invalid fused 2" in table and "bad JSON 2" in table


def run_command(*argv: str) -> int:
    p = argparse.ArgumentParser()
    command.add_arguments(p)
    return command.run(p.parse_args(list(argv)))


def test_command_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = write(tmp_path / "truth.jsonl", truth_lines())
    tracks = write(tmp_path / "tracks.jsonl", perfect())
    out = tmp_path / "figures.json"
    assert run_command("--truth", str(truth), "--tracks", str(tracks), "--json", str(out),
                       "--recent", "8") == 0
    assert "association correctness 100.00 %" in capsys.readouterr().out
    figures = json.loads(out.read_text())
    assert figures["params"]["recent_s"] == 8.0
    assert figures["fused"]["correctness"]["share"] == 1.0
    assert figures["fused"]["error"]["samples"] == 303


def test_command_unreadable_input_is_usage_error(tmp_path: Path) -> None:
    truth = write(tmp_path / "truth.jsonl", truth_lines())
    with pytest.raises(UsageError, match="missing.jsonl"):
        run_command("--truth", str(truth), "--tracks", str(tmp_path / "missing.jsonl"))
    with pytest.raises(UsageError, match="missing.jsonl"):
        run_command("--truth", str(tmp_path / "missing.jsonl"), "--tracks", str(truth))
    (tmp_path / "broken.jsonl.gz").write_bytes(gzip.compress(b"{}\n" * 1000)[:30])
    with pytest.raises(UsageError, match="broken.jsonl.gz"):
        run_command("--truth", str(truth), "--tracks", str(tmp_path / "broken.jsonl.gz"))
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(UsageError, match="no truth"):
        run_command("--truth", str(tmp_path / "empty.jsonl"), "--tracks", str(truth))
    with pytest.raises(UsageError, match="--recent"):
        run_command("--truth", str(truth), "--tracks", str(truth), "--recent", "nan")


class _Row(msgspec.Struct):
    kind: str
    t: float = 0.0
    flight: str = ""
    lat: float = 0.0
    lon: float = 0.0
    src: dict = {}
    track_number: int = 0
    t_from: float = 0.0
    t_to: float = 0.0


def test_shipped_truth_perfect_picture_scores_perfectly(tmp_path: Path) -> None:
    """One fused track per flight of the shipped scenario, on truth every 3 s, fed by the
    track-map spans of the flight at that time: the figures of a perfect picture."""
    decoder = msgspec.json.Decoder(_Row)
    rows = [decoder.decode(line) for line in gzip.open(SHIPPED_TRUTH)]
    spans: dict[str, list[_Row]] = {}
    for r in rows:
        if r.kind == "track-map":
            spans.setdefault(r.flight, []).append(r)
    encode = msgspec.json.Encoder().encode
    out = []
    seen: dict[str, int] = {}
    for r in rows:
        if r.kind != "truth":
            continue
        k = seen[r.flight] = seen.get(r.flight, -1) + 1
        if k % 3:
            continue
        src = [dict(s.src, track_number=s.track_number) for s in spans.get(r.flight, ())
               if s.t_from <= r.t <= s.t_to]
        out.append(encode(fused("T" + r.flight, r.t, r.lat, r.lon, src)))
    tracks = tmp_path / "perfect.jsonl"
    tracks.write_bytes(b"\n".join(out) + b"\n")
    report = evaluate(SHIPPED_TRUTH, tracks)
    f = report.fused
    flights = report.truth["flights"]
    assert flights > 300 and f.tracks_confirmed == flights
    assert f.correctness.share == 1.0 and f.correctness.total > 100_000
    assert f.id_changes == 0 and f.flights_in_coverage > 300
    assert f.completeness.share > 0.999 and f.completeness_primary.total > 0
    assert f.false_tracks.hits == 0 and f.duplicate_tracks.hits == 0 and f.merges == 0
    assert f.error.rms_m < 0.5 and f.error.samples == len(out)
    assert not report.truth["skipped"] and report.tracks_input == {"fused": len(out)}
    assert np.isfinite(f.error.p95_m)


def test_figures_by_target_kind_with_drones_as_primary_only(tmp_path: Path) -> None:
    """A fourth flight, a drone, 0.03 deg (3.3 km) south of its track for the first half
    and tracked on truth after, under a new id after 14 s without update; its plots also feed
    F1's track for 20 s: it counts as primary-only and has its own line; the truth's radar
    line is known, not skipped."""
    rows = truth_lines()
    for k in range(DURATION + 1):
        rows.append({**rows[0], "t": T0 + k, "flight": "F4", "lat": 29.5,
                     "lon": position("F1", T0 + k)[1], "transponder": "drone"})
    rows.append({"kind": "track-map", "src": {"sac": 0, "sic": 1, "cat": 48},
                 "track_number": 7, "flight": "F4", "t_from": T0, "t_to": T0 + DURATION})
    rows.append({"kind": "radar", "sac": 0, "sic": 1, "name": "R", "bias_range_m": 18.0,
                 "range_gain": 1.0003, "bias_azimuth_deg": 0.02, "time_offset_s": 0.08})
    truth = write(tmp_path / "truth.jsonl", rows)
    drone_src = {"sac": 0, "sic": 1, "cat": 48, "track_number": 7}
    drone = [fused("A4" if k <= 138 else "A5", T0 + k, 29.5 - (0.03 if k < 100 else 0.0),
                   position("F1", T0 + k)[1], [drone_src])
             for k in range(0, DURATION + 1, 2) if not 138 < k < 152]
    pictured = perfect()
    for m in pictured:
        if m["id"] == "A1" and m["t"] < T0 + 20:
            m["sources"] = [*m["sources"], drone_src]
    report = evaluate(truth, write(tmp_path / "tracks.jsonl", pictured + drone))
    f = report.fused
    assert report.truth["skipped"] == {} and report.truth["flights_by_kind"]["drone"] == 1
    assert list(f.by_kind) == ["modes", "modeac", "psr", "drone"]
    for kind in ("modes", "modeac", "psr"):
        assert f.by_kind[kind].completeness.share == 1.0
        assert f.by_kind[kind].flights_in_coverage == 1
        assert f.by_kind[kind].error.rms_m is not None and f.by_kind[kind].error.rms_m < 0.01
    assert [f.by_kind[k].id_changes for k in f.by_kind] == [0, 0, 0, 1] and f.id_changes == 1
    assert [f.by_kind[k].merged_updates for k in f.by_kind] == [0, 0, 0, 10]
    assert f.merges == 1 and f.merged_updates == 10
    d = f.by_kind["drone"]
    assert d.flights_in_coverage == 1 and d.error.samples == 101 - 6
    assert d.completeness.total == 201 and 0.45 < d.completeness.share < 0.55  # the 2nd half
    assert 2200 < d.error.rms_m < 2500 and d.error.p95_m > 3300  # 3.3 km for half the samples
    # drones are primary-only targets in the existing figures too
    assert f.completeness_primary.total == 192 + 201
    assert f.error_primary.samples == 101 + 101 - 6
    assert f.error_transponder.samples == 2 * 101
    table = report.table()
    assert "    drones                      1" in table and "primary-only aircraft" in table
    assert json.loads(report.to_json())["fused"]["by_kind"]["drone"]["id_changes"] == 1
