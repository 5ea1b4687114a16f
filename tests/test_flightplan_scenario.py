"""The border scenario radar-only (no SDPS in the configuration, so no I390 plan) with the
simulated flights' FPL file: fused tracks carry the flights' own filed plans, never another
flight's.

The shipped ten-minute capture is replayed through the pipeline with the shipped plan file
(``simulate --flight-plans``, checked bit-exactly by test_simulator).  Each fused update is
given its true flight through the truth's track-map (the flight of every source track it
was made from, at its time; updates whose sources disagree or are unmapped are left out and
counted).  Measured: the share of the updates of flights with a plan that carry their own
plan; asserted: none carries another flight's plan.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from gateway.config import load
from gateway.decoder import iter_chunks
from gateway.ingest import read_datagrams
from gateway.messages import Alert, Fused
from gateway.pipeline import Pipeline
from gateway.publish.batch import Kind

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
pytestmark = pytest.mark.slow  # ten minutes of traffic through the pipeline, once per module
SLACK_S = 15.0  # a fused update's time against its sources' track-map spans


def radar_only(folder: Path) -> Path:
    """captures/border.toml without its SDPS (sites and inputs) and handoff, with the plans."""
    text = (CAPTURES / "border.toml").read_text()
    blocks = text.split("\n[")
    kept = [b for b in blocks if not b.startswith("[sdps]") and not b.startswith("handoff]")
            and "SDPS" not in b.split("\n", 1)[0]]
    text = "\n[".join(kept)
    assert "[[sdps]]" not in text and "SDPS" not in text and "[handoff]" not in text
    text += (f'\n[flightplans]\nfile = "{CAPTURES / "border-10min.plans.txt"}"\n'
             "window_before_s = 3600.0\nwindow_after_s = 3600.0\n")
    path = folder / "radar-only.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Fused], list[Alert],
                                                                 Counter[str]]:
    config = load(radar_only(tmp_path_factory.mktemp("fpl")))
    assert not config.sdps and config.flightplans is not None
    pipeline = Pipeline(config)
    fused: list[Fused] = []
    alerts: list[Alert] = []

    def take(published: list[Any]) -> None:
        for p in published:
            if p.kind == Kind.PICTURE:
                fused.extend(p.messages)
            elif p.kind == Kind.ALERTS:
                alerts.extend(m for m in p.messages if m.type == "fpl-ambiguous")

    datagrams = read_datagrams(CAPTURES / "border-10min.pcap.gz")
    for payloads, times in iter_chunks(((d.payload, d.t_capture) for d in datagrams), 64):
        take(pipeline.feed(payloads, times))
    take(pipeline.flush())
    return fused, alerts, pipeline.counters()


def truth() -> tuple[dict[tuple[int, int, int, int], list[tuple[float, float, str]]],
                     dict[str, dict[str, Any]]]:
    spans: dict[tuple[int, int, int, int], list[tuple[float, float, str]]] = defaultdict(list)
    plans: dict[str, dict[str, Any]] = {}
    with gzip.open(CAPTURES / "border-10min.truth.jsonl.gz", "rt") as f:
        for line in f:
            if line.startswith('{"kind":"truth"'):
                continue
            d = json.loads(line)
            if d["kind"] == "track-map":
                s = d["src"]
                spans[(s["sac"], s["sic"], s["cat"], d["track_number"])].append(
                    (d["t_from"], d["t_to"], d["flight"]))
            elif d["kind"] == "plan":
                plans[d["flight"]] = d
    return spans, plans


def true_flight(m: Fused, spans: dict[Any, list[tuple[float, float, str]]]) -> str | None:
    flights = set()
    for s in m.sources:
        if s.track_number is None:
            continue
        for t_from, t_to, flight in spans.get((s.sac, s.sic, s.cat, s.track_number), ()):
            if t_from - SLACK_S <= m.t <= t_to + SLACK_S:
                flights.add(flight)
    return flights.pop() if len(flights) == 1 else None


def test_fused_tracks_carry_their_own_filed_plan_never_another(replayed, capsys) -> None:
    fused, alerts, counts = replayed
    spans, plans = truth()
    tally: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    wrong: list[tuple[str, str, str]] = []
    for m in fused:
        flight = true_flight(m, spans)
        if flight is None:
            tally["unmapped"] += 1
            continue
        plan = plans.get(flight)
        carried = m.fpl.callsign if m.fpl is not None else None
        if plan is None:
            tally["no-plan"] += 1
            if carried is not None:
                wrong.append((m.id, flight, carried))
            continue
        kind = "callsign" if m.callsign else (
            "code only, code changes in flight" if plan["ssr_changed"] else "code only")
        by_kind[kind]["updates"] += 1
        tally["with-plan"] += 1
        if carried == plan["callsign"]:
            tally["own"] += 1
            by_kind[kind]["own"] += 1
            assert m.fpl is not None
            assert (m.fpl.type, m.fpl.wtc, m.fpl.dep, m.fpl.dst, m.fpl.cfl) == (
                plan["type"], plan["wtc"], plan["dep"], plan["dst"], plan["cfl"])
        elif carried is not None:
            wrong.append((m.id, flight, carried))
    share = tally["own"] / tally["with-plan"]
    with capsys.disabled():
        print(f"\nradar-only border 10 min with FPL file: {len(fused)} fused updates, "
              f"{tally['with-plan']} of flights with a plan, {tally['own']} carry their own "
              f"plan ({share:.1%}); {len(wrong)} carry another flight's; "
              f"{tally['unmapped']} unmapped, {tally['no-plan']} of flights without a plan; "
              + "; ".join(f"{k}: {v['own']}/{v['updates']}" for k, v in sorted(by_kind.items()))
              + f"; ambiguity alerts {len(alerts)}; counters "
              + ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if k.startswith("fpl-")))
    assert wrong == []
    assert counts["fpl-refused"] == 0 and counts["fpl-filed"] == len(plans)
    assert tally["with-plan"] > 10_000
    assert share > 0.99
