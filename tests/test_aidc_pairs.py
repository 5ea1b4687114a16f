"""Serials per pair of units (issue 14), as the PAN AIDC ICD numbers them: MMTY->KZAB and
MMZT->KZAB are two links, each from 001, each acknowledged on its own; a restart keeps both;
a store written when one sequence per peer served both units still loads."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from test_handoff_engine import AIRSPACE, KT_DEG, PARAMS, T0, track

from gateway.handoff.engine import Handoff
from gateway.handoff.peer import Peer
from gateway.messages import Aidc
from gateway.store.sqlite import SqliteStore

BOTH = dataclasses.replace(PARAMS, units=("MMTY", "MMZT"), peers=("KZAB",))
SLOW = dataclasses.replace(BOTH, lam_timeout_s=1000)  # nothing sent again unless asked
# due north at 450 kt: over BGBND (MMTY into KZAB) and NOGAL (MMZT into KZAB); MMTY's flight
# is nearer its border, so its messages go first
FLIGHTS = (("gw-T000001", "AMX412", "2311", "0D0001", -103.8, 28.0),
           ("gw-T000002", "VIV220", "2312", "0D0002", -110.9, 30.0))


def run(engine: Handoff, peer: Peer | None, t0: float, seconds: float,
        lat0: float = 0.0) -> list[Any]:
    """Both flights, one update every 4 s from ``t0`` (their positions as if they had
    started at ``t0 - lat0`` s); the peer, if any, answers."""
    out: list[Any] = []
    for k in range(int(seconds / 4)):
        t = t0 + 4 * k
        moved = 450 * KT_DEG * (4 * k + lat0)
        tracks = [track(t, lat + moved, id=tid, callsign=cs, mode3a=ssr, icao24=icao, lon=lon)
                  for tid, cs, ssr, icao, lon, lat in FLIGHTS]
        made = engine.update(tracks, t) + engine.tick(t)
        while made:
            out += made
            answers = [r for m in made if isinstance(m, Aidc) and peer is not None
                       for r in peer.receive(m, t)]
            out += answers
            made = [x for a in answers for x in engine.receive(a, t)]
    return out


def ours(out: list[Any], unit: str) -> list[Aidc]:
    return [m for m in out if isinstance(m, Aidc) and m.from_ == unit]


def test_each_pair_of_units_numbers_from_001() -> None:
    engine = Handoff(AIRSPACE, BOTH)
    out = run(engine, Peer("KZAB"), T0, 900)
    for unit in ("MMTY", "MMZT"):
        sent = ours(out, unit)
        assert [m.msg for m in sent if m.msg != "LAM"] == ["ABI", "EST", "TOC"], unit
        assert [m.serial for m in sent] == list(range(1, len(sent) + 1)), unit
        assert sent[0].text.startswith(f"(ABI{unit}/KZAB001-"), unit
    assert not engine.counters["lam-timeout"] and not engine.counters["aidc-no-dialogue"]
    assert set(engine.links) == {"MMTY/KZAB", "MMZT/KZAB"}


def test_a_lam_acknowledges_the_serial_of_its_own_pair() -> None:
    engine = Handoff(AIRSPACE, SLOW)
    out = run(engine, None, T0, 200, lat0=200)  # nobody answers: each ABI 001 awaits LAM
    assert [(m.from_, m.msg, m.serial) for m in out] == [("MMTY", "ABI", 1),
                                                         ("MMZT", "ABI", 1)]
    t = T0 + 200
    lam = Aidc(t=t, msg="LAM", from_="KZAB", to="MMZT", serial=1, ref=1, track_id=None,
               callsign=None, text="(LAMKZAB/MMZT001MMZT/KZAB001)")
    assert engine.receive(lam, t) == [] and not engine.counters["lam-unexpected"]
    resent = [m for m in engine.tick(t + SLOW.lam_timeout_s) if isinstance(m, Aidc)]
    assert [(m.from_, m.msg, m.serial) for m in resent] == [("MMTY", "ABI", 1)]


def test_a_restart_keeps_each_pairs_serials(tmp_path: Path) -> None:
    engine, peer = Handoff(AIRSPACE, BOTH), Peer("KZAB")
    before = run(engine, peer, T0, 360)  # both ABIs sent, no EST yet
    store = SqliteStore(tmp_path / "h.sqlite")
    store.save(engine)
    store.close()
    again = Handoff(AIRSPACE, BOTH)
    reopened = SqliteStore(tmp_path / "h.sqlite")
    assert reopened.restore(again) == 2
    reopened.close()
    assert {k: v.next_serial for k, v in again.links.items()} == {
        k: v.next_serial for k, v in engine.links.items()}
    assert again.by_serial == engine.by_serial
    after = run(again, peer, T0 + 360, 540, lat0=360)
    for unit in ("MMTY", "MMZT"):
        serials = [m.serial for m in ours(before, unit) + ours(after, unit)]
        assert serials == list(range(1, len(serials) + 1)), unit
        assert [m.msg for m in ours(after, unit) if m.msg != "LAM"] == ["EST", "TOC"], unit


def test_a_store_with_one_link_per_peer_loads_as_one_per_pair(tmp_path: Path) -> None:
    """Written before serials were per pair: {"KZAB": one link}, MMTY's ABI pending under
    001, MMZT's under 002, and one pending text that cannot be read."""
    engine = Handoff(AIRSPACE, SLOW)
    run(engine, None, T0, 200, lat0=200)
    mmty, mmzt = engine.links["MMTY/KZAB"].pending[1], engine.links["MMZT/KZAB"].pending[1]
    old_mmzt = dataclasses.replace(mmzt, serial=2,
                                   text=mmzt.text.replace("MMZT/KZAB001", "MMZT/KZAB002"))
    garbage = dataclasses.replace(mmzt, serial=3, text="(NOT AIDC")
    flight = next(f for f in engine.flights.values() if f.src == "MMZT")
    flight.serials = [(2, s[1]) for s in flight.serials]
    store = SqliteStore(tmp_path / "h.sqlite")
    store.save(engine)
    link = dataclasses.asdict(engine.links["MMTY/KZAB"])
    link.update(next_serial=4, pending={str(p.serial): dataclasses.asdict(p)
                                        for p in (mmty, old_mmzt, garbage)})
    store.db.execute("UPDATE state SET data = ? WHERE name = 'links'",
                     (json.dumps({"KZAB": link}),))
    store.db.commit()
    store.close()

    again = Handoff(AIRSPACE, SLOW)
    reopened = SqliteStore(tmp_path / "h.sqlite")
    assert reopened.restore(again) == 2
    reopened.close()
    assert {k: (v.next_serial, sorted(v.pending), v.session) for k, v in again.links.items()} == {
        "MMTY/KZAB": (4, [1], link["session"]), "MMZT/KZAB": (4, [2], link["session"])}
    assert again.by_serial[("MMZT/KZAB", 2)] == flight.key
    assert again.counters["handoff-restore-unsendable"] == 1 and len(again.notices) == 1
    t = T0 + 400
    lam = Aidc(t=t, msg="LAM", from_="KZAB", to="MMZT", serial=1, ref=2, track_id=None,
               callsign=None, text="(LAMKZAB/MMZT001MMZT/KZAB002)")
    assert again.receive(lam, t) == [] and not again.counters["lam-unexpected"]
    resent = [m for m in again.tick(t + SLOW.lam_timeout_s) if isinstance(m, Aidc)]
    assert [(m.from_, m.msg, m.serial) for m in resent] == [("MMTY", "ABI", 1)]
    assert again.links["MMZT/KZAB"].number() == 4  # goes on from the old sequence
