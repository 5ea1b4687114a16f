"""The same border scenario coordinated twice: (a) with the shipped configuration and its SDPS
(plans from CAT062 I390), (b) radar-only, with no SDPS at all and the simulated flights' filed
plans from an FPL file (``[flightplans] file``).  Issue 14: "The same scenario radar-only,
with flight plans from an FPL feed, coordinates the same flights."

One simulated scenario (``simulate --flight-plans --truth``) per module, replayed through the
pipeline with the handoff in each configuration, the simulated peers answering in-process on
the capture's clock as in test_handoff_scenario.  Asserted: the flights (callsign, boundary)
that reach the transfer (TOC answered by AOC) are the same in both runs; and in both, every
ABI and EST of a flight with a simulated plan
carries that plan: field 7 (callsign and SSR code), 9 (ABI's -9/ amendment), 13, 14's cleared
level and 16, and no ZZZZ anywhere in its text.

Measured (seed 2026, 20 minutes, printed by the tests): ABI sent for 52 (flight, boundary)
dialogues with the SDPS, 51 radar-only; transferred 38 in both, the same flights.  (Two
flights landing at Tijuana, a mile from its radar, AIJ620 and AIJ40, reach their
destination 16 and 24 s before their estimate over TIJNA; their tracks coast where the
radars should see them, and a lost track is not transferred.  Before that rule both runs
sent AIJ620's TOC on its 25 s coasting prediction, and the SDPS run AIJ40's, its estimate
0.1 s earlier than radar-only's: 40 against 39.)
(Before a Mode A/C track took its correlated plan's identification as its
callsign, three Mode A/C flights were transferred only with the SDPS: the handoff
coordinates by identification, which such a track has only from a plan.)  ABI/EST of
flights with a plan: 109 with the SDPS, 108 radar-only (as before that rule), none
differing from the plan, no ZZZZ in any message of such a flight.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_handoff_scenario import run as deliver

from gateway.config import Config, load
from gateway.handoff.peer import Peer
from gateway.handoff.text import AidcText, parse
from gateway.ingest import read_datagrams
from gateway.messages import Aidc
from gateway.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
MINUTES = 20
pytestmark = pytest.mark.slow  # twenty minutes of traffic through the pipeline, twice per module
SDPS_CONFIG = load(CAPTURES / "border.toml")
H = SDPS_CONFIG.handoff
assert H is not None


def radar_only(folder: Path, plans: Path) -> Config:
    """captures/border.toml without its SDPS (sites and inputs), with the plan file; the
    handoff kept, its airspace given by absolute path (the file is written elsewhere)."""
    text = (CAPTURES / "border.toml").read_text()
    blocks = text.split("\n[")
    kept = [b for b in blocks if not b.startswith("[sdps]") and "SDPS" not in b.split("\n", 1)[0]]
    text = "\n[".join(kept)
    airspace = 'airspace = "border-airspace.geojson"'
    assert airspace in text
    text = text.replace(airspace, f'airspace = "{CAPTURES / "border-airspace.geojson"}"')
    assert "[[sdps]]" not in text and "SDPS" not in text and "[handoff]" in text
    text += f'\n[flightplans]\nfile = "{plans}"\n'
    path = folder / "radar-only.toml"
    path.write_text(text)
    config = load(path)
    assert not config.sdps and config.flightplans is not None and config.handoff is not None
    return config


def run(config: Config, capture: Path) -> list[tuple[str, Any]]:
    """The capture through the pipeline with ``config``, the peers answering in-process
    (``test_handoff_scenario.run``); the log of what was said."""
    assert config.handoff is not None
    pipeline = Pipeline(config)
    log: list[tuple[str, Any]] = []
    deliver(pipeline, iter(read_datagrams(capture)), {u: Peer(u) for u in config.handoff.peers},
            log)
    return log


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("radar-only")
    capture, truth, plans = (folder / "border.pcap", folder / "truth.jsonl.gz",
                             folder / "plans.txt")
    subprocess.run([sys.executable, "-m", "gateway.cli", "simulate", "--scenario", "border",
                    "--duration", str(MINUTES * 60), "--seed", "2026", "--out", str(capture),
                    "--truth", str(truth), "--flight-plans", str(plans)],
                   check=True, capture_output=True)
    return capture, truth, plans


@pytest.fixture(scope="module")
def runs(scenario: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory
         ) -> dict[str, list[tuple[str, Any]]]:
    capture, _, plans = scenario
    return {"sdps": run(SDPS_CONFIG, capture),
            "radar-only": run(radar_only(tmp_path_factory.mktemp("cfg"), plans), capture)}


@pytest.fixture(scope="module")
def plans(scenario: tuple[Path, Path, Path]) -> dict[str, dict[str, Any]]:
    """The simulated flights' plans, by callsign, each with its flight's ``transponder``."""
    out: dict[str, dict[str, Any]] = {}
    transponder: dict[str, str] = {}
    with gzip.open(scenario[1], "rt") as f:
        for line in f:
            if line.startswith('{"kind":"plan"'):
                d = json.loads(line)
                out[d["callsign"]] = d
            elif line.startswith('{"kind":"truth"'):
                d = json.loads(line)
                transponder.setdefault(d["flight"], d["transponder"])
    assert out
    for d in out.values():
        d["transponder"] = transponder.get(d["flight"])
    return out


def transferred(log: list[tuple[str, Any]]) -> set[tuple[str, str]]:
    """(callsign, peer) of every flight whose TOC the peer answered with AOC."""
    # serials are per pair of units: two of our units (MMZT, MMTY) may each send the same
    # serial to one peer, so a TOC is known by sender, receiver and serial
    tocs = {(m.from_, m.to, m.serial): m.callsign for way, m in log
            if way == "out" and m.msg == "TOC"}
    return {(tocs[(m.to, m.from_, m.ref)], m.from_) for way, m in log
            if way == "in" and m.msg == "AOC" and (m.to, m.from_, m.ref) in tocs}


def offers(log: list[tuple[str, Any]]) -> list[tuple[Aidc, AidcText]]:
    return [(m, parse(m.text)) for way, m in log if way == "out" and m.msg in ("ABI", "EST")]


def test_radar_only_with_an_fpl_feed_coordinates_the_same_flights(runs, capsys) -> None:
    a, b = transferred(runs["sdps"]), transferred(runs["radar-only"])
    dialogues = {k: len({(m.callsign, m.to) for way, m in log if way == "out"
                         and m.msg == "ABI"}) for k, log in runs.items()}
    with capsys.disabled():
        print(f"\nradar-only handoff, border {MINUTES} min: dialogues (ABI sent) "
              f"sdps={dialogues['sdps']} radar-only={dialogues['radar-only']}; transferred "
              f"sdps={len(a)} radar-only={len(b)} common={len(a & b)}; only sdps "
              f"{sorted(a - b)}; only radar-only {sorted(b - a)}")
    assert len(a) >= 20
    assert a == b


@pytest.mark.parametrize("which", ["sdps", "radar-only"])
def test_abi_and_est_carry_the_filed_plan(runs, plans, which, capsys) -> None:
    checked = 0
    wrong: list[tuple[str, str, str]] = []
    for m, text in offers(runs[which]):
        plan = plans.get(m.callsign or "")
        if plan is None:
            continue
        checked += 1
        codes = {plan["ssr"], plan["ssr_changed"]} - {None}
        level = f"F{round(plan['cfl']):03d}"
        amended = dict(text.amendments).get(9)
        got = (text.callsign, text.ssr in codes, text.dep, text.dst,
               text.estimate.level if text.estimate else None,
               amended if m.msg == "ABI" else None)
        want = (plan["callsign"], True, plan["dep"], plan["dst"], level,
                f"{plan['type']}/{plan['wtc']}" if m.msg == "ABI" else None)
        if got != want or "ZZZZ" in m.text:
            wrong.append((which, m.text, str(want)))
    unknown = [m.text for way, m in runs[which] if way == "out" and m.callsign in plans
               and "ZZZZ" in m.text]  # any message we send: TOC, CDN, MAC as well
    with capsys.disabled():
        print(f"\n{which}: {checked} ABI/EST of flights with a plan, {len(wrong)} differ, "
              f"{len(unknown)} messages of such flights with ZZZZ")
    assert checked >= 40
    assert wrong == []
    assert unknown == []
