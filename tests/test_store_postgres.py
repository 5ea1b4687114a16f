"""The shared store of a redundant centre: the lease's decisions (sans-IO), and a real
private PostgreSQL (the ``postgres`` fixture): a round trip, the lease taken only when it
lapsed, and a stale epoch's write refused."""

from __future__ import annotations

import time
from typing import Any

import pytest
from test_handoff_engine import AIRSPACE, PARAMS, fly

from gateway.config import ConfigError, loads
from gateway.handoff.engine import Handoff
from gateway.handoff.peer import Peer
from gateway.store import StoreError
from gateway.store.lease import Lease
from gateway.store.memory import MemoryStore
from gateway.store.postgres import Fenced, PostgresStore

# -- the lease's state machine ---------------------------------------------------------------


def test_a_lease_is_held_until_lease_s_after_the_renewal_was_sent() -> None:
    lease = Lease(lease_s=3.0, renew_s=1.0)
    assert not lease.active(0.0) and lease.held() == -1 and lease.due(0.0)
    lease.answered(10.0, 1)
    assert lease.active(12.9) and not lease.active(13.0)
    assert lease.held() == 1 and not lease.due(10.5) and lease.due(11.0)
    lease.answered(11.0, 1)
    assert lease.active(13.9) and lease.check(13.9) is None
    assert lease.check(14.0) is not None and not lease.active(12.0)  # lapsed: stays lost


def test_a_refused_renewal_fences_the_leader_and_a_standby_just_waits() -> None:
    standby = Lease()
    standby.answered(0.0, None)
    assert standby.lost is None and not standby.active(0.1) and standby.refusals == 1
    leader = Lease()
    leader.answered(0.0, 4)
    leader.answered(1.0, None)  # taken by another (epoch 5)
    assert leader.lost is not None and "epoch 4" in leader.lost and not leader.active(1.1)
    assert leader.held() == -1


def test_taking_again_a_lapsed_lease_of_ones_own_is_still_a_step_down() -> None:
    lease = Lease()
    lease.answered(0.0, 2)
    lease.answered(9.0, 3)  # frozen 9 s: the database gave a new epoch
    assert lease.lost is not None and not lease.active(9.1)


def test_no_answer_retries_soon_and_the_belief_ends_on_time() -> None:
    lease = Lease(lease_s=3.0, renew_s=1.0)
    lease.answered(0.0, 1)
    lease.failed(1.0)
    assert lease.errors == 1 and lease.due(1.25) and lease.active(2.9)
    assert lease.check(3.0) is not None


# -- a real PostgreSQL -------------------------------------------------------------------------


TRACKS = {"states": [["T000004", 0xABC123, "AMX402", 0o4567, 27.5, -106.1, 1.7e9, 1.5, 200.0]]}


def _leader(url: str, **kw: Any) -> PostgresStore:
    store = PostgresStore(url, "centre", **kw)
    store.renew_once()
    assert store.active(), store.lease
    return store


def test_what_the_leader_saved_comes_back_as_from_sqlite(postgres: Any) -> None:
    store = _leader(postgres.url)
    try:
        engine, peer = Handoff(AIRSPACE, PARAMS), Peer("KZHU")
        fly(engine, peer, 900)  # ABI, EST, ACP, TOC, AOC: a finished dialogue
        store.keep_identities({"next": 7, "ids": {}})
        store.keep_tracks(TRACKS)
        store.save(engine)
        memory = MemoryStore()
        memory.save(engine)
        engine.mark_saved()
    finally:
        store.close()
    again, reference = Handoff(AIRSPACE, PARAMS), Handoff(AIRSPACE, PARAMS)
    reader = PostgresStore(postgres.url, "centre")
    try:
        assert reader.restore(again) == memory.restore(reference) == 1
        assert reader.identities() == {"next": 7, "ids": {}}
        assert reader.live_tracks() == TRACKS
        assert PostgresStore(postgres.url, "other").restore(Handoff(AIRSPACE, PARAMS)) == 0
    finally:
        reader.close()
    assert again.flights == reference.flights == engine.flights
    assert (again.links, again.seen, again.by_serial) == (
        engine.links, engine.seen, engine.by_serial)


def test_the_lease_is_taken_only_when_it_lapsed_and_a_stale_write_is_refused(
        postgres: Any) -> None:
    now = [0.0]
    a = _leader(postgres.url, lease_s=0.5, renew_s=0.1, clock=lambda: now[0])
    b = PostgresStore(postgres.url, "centre", lease_s=0.5, renew_s=0.1)
    try:
        engine = Handoff(AIRSPACE, PARAMS)
        fly(engine, Peer("KZHU"), 900)
        b.renew_once()  # a's lease is live: b stays standby
        assert not b.active() and b.epoch() == 0 and b.lease.refusals == 1
        with pytest.raises(Fenced):
            b.save(engine)  # a standby never writes
        a.save(engine)  # the leader does
        time.sleep(0.6)  # a is "frozen": its lease lapses by the database's clock
        b.renew_once()
        assert b.active() and b.epoch() == a.epoch() + 1
        b.save(engine)
        with pytest.raises(Fenced, match="fenced"):
            a.save(engine)  # a still believes it leads (its clock stood still): refused
        a.renew_once()  # and its next renewal tells it
        assert a.lease.lost is not None and not a.active()
    finally:
        a.close()
        b.close()


def test_a_database_that_is_not_there_is_one_line(free_port: Any) -> None:
    with pytest.raises(StoreError) as err:
        PostgresStore(f"postgresql://u:secret@127.0.0.1:{free_port()}/x", "centre")
    assert "secret" not in str(err.value) and "\n" not in str(err.value)


def test_a_lease_given_up_at_close_is_taken_at_the_next_try(postgres: Any) -> None:
    a = _leader(postgres.url)
    b = PostgresStore(postgres.url, "centre")
    try:
        b.renew_once()
        assert not b.active()
        a.close()  # a graceful stop: no waiting lease_s for it to lapse
        b.renew_once()
        assert b.active() and b.epoch() == 2
    finally:
        b.close()


@pytest.mark.parametrize("text, error", [
    ('url = "mysql://x"', "[store] key 'url'"),
    ('url = "postgresql://x"\nrenew_s = 1.5', "less than half of lease_s"),
])
def test_a_bad_store_section_is_one_line(text: str, error: str) -> None:
    with pytest.raises(ConfigError) as err:
        loads(f'[gateway]\nid = "c"\n[store]\n{text}\n', "gw.toml")
    assert error in str(err.value) and "\n" not in str(err.value)
