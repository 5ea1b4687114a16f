"""Fused ids that survive a restart (issue 14, "Ids that survive"): the id sequence and the
identity map are kept in the handoff's store, so a restarted gateway never hands out an id
used before (even after a crash between saves), gives a flight seen before the restart its
old id back, and keeps the map bounded.  Last, the real ``replay`` twice on one store."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_associate import SITE_A, T0, Aircraft, Radar, fly, ids_of, tracker

from gateway.associate.identity import BLOCK, Identities
from gateway.associate.tracker import Tracker
from gateway.config import loads
from gateway.pipeline import Pipeline
from gateway.store import StoreError
from gateway.store.memory import MemoryStore
from gateway.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "captures" / "border-10min.pcap.gz"
RADARS = [Radar(*SITE_A, sic=1)]


def restarted(state: dict[str, object]) -> Tracker:
    """A fresh tracker given what a store held (as the pipeline does at start)."""
    trk = tracker(RADARS)
    trk.restore_identities(json.loads(json.dumps(state)))  # through JSON, as stored
    return trk


def test_a_restart_never_reuses_an_id_even_after_a_crash_between_saves() -> None:
    rng = np.random.default_rng(1)
    trk = tracker(RADARS)
    first = [Aircraft(30.5 + 0.02 * i, -103.5, 200.0, 0.0, icao24=f"B0000{i}")
             for i in range(3)]
    out, _ = fly(trk, RADARS, first, 20.0, rng)
    saved = trk.identity_state()  # what the last save stored
    trk.identities.saved()
    later = [Aircraft(30.8 + 0.02 * i, -103.2, 200.0, 0.0, icao24=f"C0000{i}")
             for i in range(4)]
    more, _ = fly(trk, RADARS, later, 40.0, rng, start=20.0)  # not saved: the crash
    used = {f.id for f in out + more}
    assert len(used) == 7
    trk2 = restarted(saved)
    others = [Aircraft(30.2 + 0.02 * i, -103.8, 200.0, 0.0, icao24=f"D0000{i}")
              for i in range(5)]
    new, _ = fly(trk2, RADARS, others, 100.0, rng, start=60.0)
    new_ids = {f.id for f in new}
    assert len(new_ids) == 5 and not new_ids & used, (new_ids, used)
    assert min(new_ids) == f"T{BLOCK + 1:06d}"  # after the stored block, not T000001


def test_the_same_flight_after_a_restart_gets_its_old_id_another_a_new_one() -> None:
    rng = np.random.default_rng(2)
    trk = tracker(RADARS)
    sky = [Aircraft(30.6, -103.5, 200.0, 0.0, icao24="ACE001"),
           Aircraft(30.4, -103.3, 200.0, 0.0, callsign="AMX401", mode3a="2341"),
           Aircraft(30.3, -103.6, 180.0, 0.0, icao24="ACE002")]
    _, where = fly(trk, RADARS, sky, 40.0, rng)
    before = [ids_of(where, i) for i in range(3)]
    assert all(len(b) == 1 for b in before) and len({b[0] for b in before}) == 3
    trk2 = restarted(trk.identity_state())
    # twenty minutes later: the Mode S flight, the callsign-only flight, and a new one
    # that squawks what the first flight squawked (a code is no identity)
    back = [sky[0], sky[1], Aircraft(30.9, -103.1, 200.0, 0.0, icao24="ACE003")]
    _, where2 = fly(trk2, RADARS, back, 1240.0, rng, start=1200.0)
    assert ids_of(where2, 0) == before[0]
    assert ids_of(where2, 1) == before[1]
    third = ids_of(where2, 2)
    assert len(third) == 1 and third[0] not in {b[0] for b in before}
    assert trk2.counters["track-id-recalled"] == 2


def test_an_old_flight_beyond_the_map_window_gets_a_new_id() -> None:
    rng = np.random.default_rng(3)
    trk = tracker(RADARS)
    sky = [Aircraft(30.6, -103.5, 200.0, 0.0, icao24="ACE001")]
    _, where = fly(trk, RADARS, sky, 40.0, rng)
    trk2 = restarted(trk.identity_state())
    _, where2 = fly(trk2, RADARS, sky, 2 * 3600.0 + 40.0, rng, start=2 * 3600.0)
    assert ids_of(where2, 0) != ids_of(where, 0)
    assert trk2.counters["track-id-recalled"] == 0


def test_a_recalled_id_held_by_a_live_track_is_not_given_twice() -> None:
    ids = Identities("T")
    ids.load({"issued": 5, "map": {"AABCDEF": ["T000003", T0]}})
    assert ids.recall(0xABCDEF, None, T0 + 10, in_use={"T000003"}) is None
    assert ids.recall(0xABCDEF, None, T0 + 10, in_use=set()) == "T000003"
    assert ids.recall(0xABCDEF, None, T0 + 10, in_use=set()) is None  # used up
    assert ids.next_label(set()) == "T000006"


def test_the_identity_map_is_bounded() -> None:
    ids = Identities("T", max_entries=100, forget_s=3600.0)
    for i in range(1000):
        ids.note(ids.next_label(set()), i, None, T0 + i)
    assert ids.forget(T0 + 1000) == 900
    assert len(ids.by_key) == 100  # the newest hundred
    assert min(s.t for s in ids.by_key.values()) == T0 + 900
    assert ids.forget(T0 + 949 + 3600.0) == 49  # not seen for an hour
    assert len(ids.by_key) == 51
    # the tracker forgets too, each time the state is taken for a save
    trk = tracker(RADARS)
    trk.identities.max_entries = 10
    for i in range(50):
        trk.identities.note(f"T{i:06d}", i, None, T0)
    trk.now = T0
    assert len(trk.identity_state()["map"]) == 10  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [[], {"issued": "x"}, {"issued": -1}, {"map": []},
                                 {"map": {"A1": ["T1"]}}, {"map": {"A1": [1, 2.0]}}])
def test_a_bad_ids_row_is_refused_in_one_line(tmp_path: Path, bad: object) -> None:
    db = tmp_path / "h.sqlite"
    SqliteStore(db).close()
    import sqlite3
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO state (name, data) VALUES ('ids', ?)", (json.dumps(bad),))
    con.close()
    with pytest.raises(StoreError, match="not the handoff's state"):
        SqliteStore(db)


# -- through the pipeline and its stores -------------------------------------------------------

def border_config(database: Path | str) -> str:
    text = (ROOT / "captures" / "border.toml").read_text()
    airspace = ROOT / "captures" / "border-airspace.geojson"
    return text.replace('airspace = "border-airspace.geojson"',
                        f'airspace = "{airspace}"\ndatabase = "{database}"')


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_pipeline_saves_a_block_before_its_ids_and_restores_it(
        tmp_path: Path, kind: str) -> None:
    config = loads(border_config(tmp_path / "h.sqlite"), str(tmp_path / "gw.toml"))
    store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "h.sqlite")
    assert store.identities() is None  # a store without the row: nothing seen
    pipeline = Pipeline(config, store)
    ids = pipeline.tracker.identities
    rng = np.random.default_rng(4)
    radar = Radar(*SITE_A, sic=1)
    trk = pipeline.tracker
    sky = [Aircraft(30.5, -103.5, 200.0, 0.0, icao24="A00009")]
    published = []
    for k in range(3):
        for p in pipeline._picture(trk.update(radar.scan(sky, T0 + 4.0 * k, rng))):
            published.append(p)
            # whenever a picture goes out, the store already holds its ids' block
            assert not ids.unsaved
    assert published
    stored = store.identities()
    assert stored is not None and stored["issued"] == BLOCK
    assert list(stored["map"]) == ["AA00009"]
    if kind == "sqlite":
        store.close()
        store = SqliteStore(tmp_path / "h.sqlite")
    again = Pipeline(config, store)
    assert again.tracker.identities.issued == BLOCK
    assert again.tracker.identities.by_key["AA00009"].label == published[0].messages[0].id


# -- the real replay, twice on one store -------------------------------------------------------

def split_capture(source: Path, first: Path, second: Path, at: float) -> None:
    """The capture's packets before ``at`` (seconds since its first) into ``first``, the
    rest into ``second`` (plain pcap, same header)."""
    data = gzip.decompress(source.read_bytes())
    header, pos = data[:24], 24
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    parts: tuple[list[bytes], list[bytes]] = ([], [])
    start = None
    while pos + 16 <= len(data):
        sec, _frac, incl, _orig = struct.unpack(order + "IIII", data[pos:pos + 16])
        start = sec if start is None else start
        parts[sec - start >= at].append(data[pos:pos + 16 + incl])
        pos += 16 + incl
    first.write_bytes(header + b"".join(parts[0]))
    second.write_bytes(header + b"".join(parts[1]))


def fused_identities(out: Path) -> dict[str, set[str]]:
    """Fused id -> the identities (Mode S address, else callsign) it carried."""
    seen: dict[str, set[str]] = {}
    for line in out.read_text().splitlines():
        m = json.loads(line)
        if m.get("kind") != "fused":
            continue
        who = seen.setdefault(m["id"], set())
        if m.get("icao24"):
            who.add(f"A{m['icao24']}")
        elif m.get("callsign"):
            who.add(f"C{m['callsign']}")
    return seen


@pytest.mark.slow
def test_two_replays_on_one_store_never_give_one_id_to_two_flights(tmp_path: Path) -> None:
    """The border capture's first five minutes, then (the gateway restarted) its last
    five, with one ``[handoff] database``: a flight of the second run that the first
    saw keeps its id; every other fused id of the second run is one the first never used."""
    first, second = tmp_path / "first.pcap", tmp_path / "second.pcap"
    split_capture(CAPTURE, first, second, 300.0)
    config = tmp_path / "gw.toml"
    config.write_text(border_config(tmp_path / "h.sqlite"))
    runs = []
    for capture, out in ((first, tmp_path / "one.jsonl"), (second, tmp_path / "two.jsonl")):
        result = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "replay", str(capture), "--config",
             str(config), "--out", str(out), "--speed", "max"],
            capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        runs.append(fused_identities(out))
    one, two = runs
    assert len(one) > 10 and len(two) > 10
    kept = collided = 0
    for label, who in two.items():
        if label not in one:
            continue
        if who and one[label] and who & one[label]:
            kept += 1  # the same flight, its old id
        else:
            collided += 1
    assert collided == 0, {k: (one[k], v) for k, v in two.items() if k in one}
    assert kept > 5  # flights crossing the restart kept their ids
