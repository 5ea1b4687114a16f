"""A redundant pair's takeover keeps the fused ids (issue 19): the active process's
pipeline saves its live tracks with its id sequence; the standby, tracking the same sky
under its own numbering, takes them over (``Tracker.take_over``) so that every aircraft
keeps the id the old active published, and a new aircraft gets an id the old one never
handed out."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from test_associate import SITE_A, Aircraft, Radar, fly, ids_of, tracker
from test_peer_process import CAPTURE, config_text

from gateway.associate.identity import BLOCK
from gateway.associate.takeover import TrackState, states, states_json
from gateway.config import loads
from gateway.decoder import iter_chunks
from gateway.ingest import read_datagrams
from gateway.pipeline import Pipeline
from gateway.publish.batch import Kind
from gateway.store import StoreError
from gateway.store.memory import MemoryStore
from gateway.store.sqlite import SqliteStore

RADARS = [Radar(*SITE_A, sic=1)]
SKY = [Aircraft(30.6, -103.5, 200.0, 0.0, icao24="ACE001"),
       Aircraft(30.4, -103.3, 200.0, 0.0, callsign="AMX401", mode3a="2341"),
       Aircraft(30.2, -103.7, 0.0, 180.0, mode3a="4402"),
       Aircraft(30.3, -103.6, 180.0, 0.0, icao24="ACE002")]


def through_json(trk_states: list[TrackState]) -> list[TrackState]:
    return states(json.loads(json.dumps(states_json(trk_states))))


def test_the_standby_takes_the_active_ones_ids_for_the_same_aircraft() -> None:
    rng = np.random.default_rng(3)
    active, standby = tracker(RADARS), tracker(RADARS)
    _, seen = fly(active, RADARS, SKY, 40.0, rng)
    # the standby started later, with an aircraft of its own first: other ids
    early = [Aircraft(30.9, -103.9, 150.0, 0.0, icao24="ACE009")]
    fly(standby, RADARS, early, 12.0, rng)
    _, mine = fly(standby, RADARS, SKY, 40.0, rng, start=12.0)
    before = [ids_of(seen, i)[-1] for i in range(len(SKY))]
    assert [ids_of(mine, i)[-1] for i in range(len(SKY))] != before
    matched = standby.take_over(through_json(active.live_states()),
                                json.loads(json.dumps(active.identity_state())))
    assert sorted(matched.by.values()) == ["address", "address", "callsign", "code"]
    assert matched.unmatched == [] and matched.missing == []
    newcomer = Aircraft(30.5, -103.2, 0.0, -150.0, icao24="ACE003")
    _, after = fly(standby, RADARS, [*SKY, newcomer], 60.0, rng, start=40.0)
    assert [ids_of(after, i) for i in range(len(SKY))] == [[b] for b in before]
    new = ids_of(after, len(SKY))
    assert len(new) == 1 and new[0] not in before and new[0] > f"T{BLOCK:06d}"
    assert standby.counters["takeover-renamed"] == 4


def test_a_track_the_active_one_never_had_gets_an_id_after_its_sequence() -> None:
    rng = np.random.default_rng(4)
    active, standby = tracker(RADARS), tracker(RADARS)
    fly(active, RADARS, SKY[:1], 30.0, rng)
    _, mine = fly(standby, RADARS, SKY[:2], 30.0, rng)
    matched = standby.take_over(active.live_states(), active.identity_state())
    assert len(matched.ids) == 1 and len(matched.unmatched) == 1
    _, after = fly(standby, RADARS, SKY[:2], 40.0, rng, start=30.0)
    first, second = ids_of(after, 0), ids_of(after, 1)
    assert first == [active.live_states()[0].id]
    # the standby's own id for it may have been handed out by the active one: not kept
    assert len(second) == 1 and second[0] > f"T{BLOCK:06d}"
    assert standby.counters["takeover-unmatched"] == 1


def test_an_aircraft_the_active_one_had_comes_back_under_its_id() -> None:
    rng = np.random.default_rng(5)
    active, standby = tracker(RADARS), tracker(RADARS)
    _, seen = fly(active, RADARS, SKY[:1], 30.0, rng)
    matched = standby.take_over(active.live_states(), active.identity_state())
    assert matched.missing == [ids_of(seen, 0)[-1]] and not matched.ids
    _, after = fly(standby, RADARS, SKY[:1], 70.0, rng, start=30.0)
    assert ids_of(after, 0) == ids_of(seen, 0)  # by its address, from the identity map


def test_the_pipeline_saves_its_live_tracks_before_it_publishes_a_new_id(tmp_path) -> None:
    config = loads(config_text(tmp_path / "unused.sqlite"), str(tmp_path / "gw.toml"))
    store = MemoryStore()
    pipeline = Pipeline(config, store, keep_tracks=True)
    datagrams = ((d.payload, d.t_capture) for d in read_datagrams(CAPTURE))
    checked = 0
    for n, (payloads, times) in enumerate(iter_chunks(datagrams, 64)):
        published = pipeline.feed(payloads, times)
        saved = {s.id for s in states(store.live_tracks())}
        shown = {m.id for p in published if p.kind is Kind.PICTURE for m in p.messages
                 if m.state != "ended"}
        assert shown <= saved, shown - saved  # every id published is in the store first
        checked += len(shown)
        if n == 400:
            break
    assert checked > 1000
    # and at least once a second of data time: the saved states are that fresh
    newest = max(s.t for s in states(store.live_tracks()))
    assert pipeline.tracker.now - newest < 10.0


def test_sqlite_keeps_the_live_tracks_and_refuses_a_bad_row(tmp_path: Path) -> None:
    from test_handoff_engine import AIRSPACE, PARAMS

    from gateway.handoff.engine import Handoff

    path = tmp_path / "h.sqlite"
    store = SqliteStore(path)
    kept = states_json([TrackState("T000009", 0xABC123, "AMX402", 0o4567, 27.5, -106.1,
                                   1.7e9, 1.5, 200.0)])
    assert store.live_tracks() is None
    store.keep_tracks(kept)
    store.save(Handoff(AIRSPACE, PARAMS))
    store.close()
    again = SqliteStore(path)
    assert again.live_tracks() == kept and states(again.live_tracks())[0].callsign == "AMX402"
    again.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE state SET data = ? WHERE name = 'tracks'",
                   (json.dumps({"states": [["T1", "no"]]}),))
    bad = SqliteStore(path)
    with pytest.raises(StoreError, match="not the handoff's state"):
        bad.live_tracks()
    bad.close()


def _open_dialogue() -> tuple[MemoryStore, float]:
    """A store holding a flight's dialogue coordinated (ABI, EST, ACP), its TOC to come."""
    from test_handoff_engine import AIRSPACE, PARAMS, T0, fly

    from gateway.handoff.engine import Handoff
    from gateway.handoff.peer import Peer

    engine, store = Handoff(AIRSPACE, PARAMS), MemoryStore()
    out = fly(engine, Peer("KZHU"), 700)
    assert [m.msg for m in out if getattr(m, "msg", "") != "LAM"] == ["ABI", "EST", "ACP"]
    store.save(engine)
    return store, T0 + 700


def test_after_a_takeover_a_dialogue_whose_track_is_not_tracked_ends_in_mac() -> None:
    from test_handoff_engine import AIRSPACE, PARAMS, track

    from gateway.handoff.engine import Handoff

    store, now = _open_dialogue()
    engine = Handoff(AIRSPACE, PARAMS)
    assert store.restore(engine) == 1
    assert engine.expect(set(), now, 60.0) == 1
    other = dict(id="gw-T000002", icao24="0D0002", callsign="AMX999", mode3a="2312")
    assert not [m for m in engine.update([track(now + 30, 26.0, **other)], now + 30)
                if getattr(m, "msg", "") == "MAC"]
    made = engine.update([track(now + 61, 26.0, **other)], now + 61)
    assert [m.msg for m in made if getattr(m, "msg", "") == "MAC"] == ["MAC"]
    assert engine.counters["takeover-track-lost"] == 1


def test_after_a_takeover_a_dialogue_whose_track_comes_goes_on() -> None:
    from test_handoff_engine import AIRSPACE, KT_DEG, PARAMS, track

    from gateway.handoff.engine import Handoff

    store, now = _open_dialogue()
    engine = Handoff(AIRSPACE, PARAMS)
    store.restore(engine)
    assert engine.expect({"gw-T000009"}, now, 60.0) == 1
    lat = 26.5 + 450 * KT_DEG * 700  # where fly's track is by now
    engine.update([track(now + 20, lat)], now + 20)  # its track (gw-T000001) comes
    made = engine.update([track(now + 90, lat + 450 * KT_DEG * 70)], now + 90)
    assert not [m for m in made if getattr(m, "msg", "") == "MAC"]
    assert not engine.expected and engine.counters["takeover-track-lost"] == 0
    # a live track is not awaited at all
    again = Handoff(AIRSPACE, PARAMS)
    store.restore(again)
    assert again.expect({"gw-T000001"}, now, 60.0) == 0


def test_a_restored_engine_shown_the_whole_picture_raises_no_false_unmatched() -> None:
    """An accepted, transferred dialogue restored at a takeover: its track is not in the
    first association cycle; shown the picture first, the engine keeps its match."""
    from test_handoff_accept import OURS, THEIRS, border, eto, south
    from test_handoff_engine import AIRSPACE, T0, track

    from gateway.handoff.engine import Handoff

    ours, theirs = Handoff(AIRSPACE, OURS), Handoff(AIRSPACE, THEIRS)
    border(ours, theirs, 600)
    store = MemoryStore()
    store.save(ours)
    k = 200
    t = T0 + 4 * k
    assert t > eto() + OURS.match_window_s
    unrelated = track(t, 25.0, id="gw-T000001", callsign="VIV9", mode3a="1234",
                      icao24="0D0009")
    for shown in (False, True):
        again = Handoff(AIRSPACE, OURS)
        store.restore(again)
        if shown:
            again.show([south(t, k), unrelated], t)
        made = again.update([unrelated], t)
        unmatched = [m for m in made if getattr(m, "type", "") == "coordination-unmatched"]
        assert len(unmatched) == (0 if shown else 1), (shown, made)


def test_the_trackers_picture_changes_nothing_it_publishes() -> None:
    rng = np.random.default_rng(6)
    one, two = tracker(RADARS, output_period_s=4.0), tracker(RADARS, output_period_s=4.0)
    fly(one, RADARS, SKY, 40.0, np.random.default_rng(6))
    fly(two, RADARS, SKY, 40.0, rng)
    shown = two.picture()
    assert len(shown) >= 3 and {m.id for m in shown} <= {s.id for s in two.live_states()}
    a, _ = fly(one, RADARS, SKY, 60.0, np.random.default_rng(7), start=40.0)
    b, _ = fly(two, RADARS, SKY, 60.0, np.random.default_rng(7), start=40.0)
    assert a == b
