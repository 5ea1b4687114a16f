"""The handoff's state: one record per track, pruned with the track; the store interface
(both implementations keep the same state); the pipeline writes only through the store
it is given; the commands close the store however the run ends."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from test_handoff_engine import AIRSPACE, KT_DEG, PARAMS, T0, fly, track
from test_peer_process import config_text

from gateway import cli
from gateway.commands import service as commands_service
from gateway.config import loads
from gateway.handoff.dialogue import Link
from gateway.handoff.engine import Handoff
from gateway.handoff.peer import Peer
from gateway.handoff.state import Flight, Saved
from gateway.messages import Aidc, Alert, FlightPlan, encode
from gateway.pipeline import Pipeline
from gateway.store import HandoffStore, StoreError
from gateway.store.memory import MemoryStore
from gateway.store.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "captures" / "border-10min.pcap.gz"
DARK = dict(mode3a=None, icao24=None, callsign=None)  # no transponder: nobody coordinates it


def cross(engine: Handoff, t0: float, track_id: str = "gw-T000001") -> list[object]:
    """A dark track north from Monterrey over the Rio Grande (about 8 minutes), then its end."""
    out: list[object] = []
    t = t0
    for k in range(150):
        t = t0 + 4 * k
        out += engine.update([track(t, 27.5 + 450 * KT_DEG * 4 * k, id=track_id, **DARK)], t)
    ended = track(t + 4, 27.5, id=track_id, state="ended", **DARK)
    return out + engine.update([ended], t + 4)


def alerts(out: list[object]) -> list[str]:
    return [m.type for m in out if isinstance(m, Alert)]


# -- per-track state ---------------------------------------------------------------------------

def test_a_track_id_used_again_after_its_track_ended_gets_its_alert() -> None:
    """Ids come again (from 1 after a restart): the alert belonged to the ended track."""
    engine = Handoff(AIRSPACE, PARAMS)
    assert alerts(cross(engine, T0)) == ["uncoordinated-crossing"]
    assert engine.tracks == {}  # nothing of the ended track is kept
    assert alerts(cross(engine, T0 + 3600)) == ["uncoordinated-crossing"]


@pytest.fixture(params=["memory", "sqlite"])
def reopen(request: pytest.FixtureRequest,
           tmp_path: Path) -> Iterator[Callable[[], HandoffStore]]:
    """A store, and the same store again as a restarted process opens it."""
    if request.param == "memory":
        store = MemoryStore()
        yield lambda: store
        return
    opened: list[SqliteStore] = []

    def again() -> HandoffStore:
        for s in opened:
            s.close()
        opened.append(SqliteStore(tmp_path / "h.sqlite"))
        return opened[-1]

    yield again
    for s in opened:
        s.close()


def test_after_a_restart_a_track_id_used_again_gets_its_alert(reopen) -> None:
    """A restarted tracker numbers its tracks from 1 again: the id alerted before the
    restart, its track still flying then, now names another aircraft."""
    engine = Handoff(AIRSPACE, PARAMS)
    assert alerts(fly(engine, None, 900, **DARK)) == ["uncoordinated-crossing"]
    reopen().save(engine)
    again = Handoff(AIRSPACE, PARAMS)
    reopen().restore(again)
    again.resume_after = -1e18  # live: the data comes after the restart
    assert alerts(cross(again, T0 + 7200)) == ["uncoordinated-crossing"]


def test_a_track_that_stops_without_ending_is_forgotten(reopen) -> None:
    """Its record goes an hour after its last update once it has no dialogue left; so does
    the record a restart brings back with a dialogue, with it."""
    engine = Handoff(AIRSPACE, PARAMS)
    fly(engine, None, 100, **DARK)
    engine.forget(engine.clock + 1800)
    assert list(engine.tracks) == ["gw-T000001"]
    engine.forget(engine.clock + 3700)
    assert engine.tracks == {}

    engine = Handoff(AIRSPACE, PARAMS)
    fly(engine, Peer("KZHU"), 900)  # a finished dialogue; the track did not end
    reopen().save(engine)
    again = Handoff(AIRSPACE, PARAMS)
    reopen().restore(again)
    assert again.tracks["gw-T000001"].flights == list(again.flights) != []
    again.forget(again.clock + 1800)  # late answers still find the dialogue
    assert "gw-T000001" in again.tracks and again.by_serial
    again.forget(again.clock + 3700)
    assert again.tracks == {} and again.flights == {} and again.by_serial == {}


# -- the store interface -----------------------------------------------------------------------

def test_both_stores_give_back_what_was_saved_and_forget_what_was_dropped(reopen) -> None:
    engine, peer = Handoff(AIRSPACE, PARAMS), Peer("KZHU")
    fly(engine, peer, 900)  # ABI, EST, ACP, TOC, AOC: a finished dialogue
    store = reopen()
    store.save(engine)
    engine.mark_saved()
    again = Handoff(AIRSPACE, PARAMS)
    assert reopen().restore(again) == len(engine.flights) == 1
    assert again.flights == engine.flights and again.flights is not engine.flights
    [f] = again.flights.values()
    assert f.sent == ["ABI", "EST", "TOC"] and len(f.serials) == 3
    assert (again.links, again.seen, again.by_serial) == (
        engine.links, engine.seen, engine.by_serial)
    assert again.resume_after == again.clock == engine.clock
    assert list(again.tracks) == ["gw-T000001"] and again.tracks["gw-T000001"].flights == [
        f.key]
    engine.forget(engine.clock + 3700)  # an hour after its last message
    assert engine.dirty and engine.flights == {} and engine.by_serial == {}
    store = reopen()
    store.save(engine)
    third = Handoff(AIRSPACE, PARAMS)
    assert reopen().restore(third) == 0 and third.by_serial == {}


def test_the_flight_plan_and_the_levels_coordinated_survive_a_restart(reopen) -> None:
    """What the messages say of the flight (its plan, the climb condition, the level
    agreed) is the dialogue's: a restarted engine goes on with it, and a new cleared level
    after the restart still gives a CDN."""
    plan = FlightPlan(callsign="AMX412", dep="MMMX", dst="KDFW", cfl=370.0, type="B738",
                      wtc="M", rules="IS", route="N0450F370 DCT ELP")
    engine, peer = Handoff(AIRSPACE, PARAMS), Peer("KZHU")
    fly(engine, peer, 700, fpl=plan, fl=300.0, roc_fpm=800.0)  # coordinated, climbing
    reopen().save(engine)
    again = Handoff(AIRSPACE, PARAMS)
    reopen().restore(again)
    [f] = again.flights.values()
    assert f == engine.flights[f.key]
    assert f.plan == plan and f.agreed_level == 370.0 and f.cross_fl is not None
    out = fly(again, peer, 200, start_lat=26.5 + 450 * KT_DEG * 700, t0=T0 + 700,
              fpl=msgspec.structs.replace(plan, cfl=390.0), fl=370.0, roc_fpm=0.0)
    assert [m.msg for m in out if isinstance(m, Aidc) and m.from_ == "MMTY"
            and m.msg != "LAM"] == ["CDN", "TOC"]


def test_a_serial_used_again_after_999_belongs_to_the_later_flight() -> None:
    def flight(key: str, serials: list[tuple[int, float]]) -> Flight:
        return Flight(key, "gw-T1", "MMTY", "KZHU", key, None, "EGLPS", T0, 350.0,
                      serials=serials)

    for order in (1, -1):
        flights = [flight("OLD", [(4, T0), (5, T0 + 1)]), flight("NEW", [(5, T0 + 900)])]
        engine = Handoff(AIRSPACE, PARAMS)
        engine.restore(Saved(flights[::order], [], {"MMTY/KZHU": Link()}, {}, T0 + 900))
        assert engine.by_serial == {("MMTY/KZHU", 4): "OLD", ("MMTY/KZHU", 5): "NEW"}
        engine.flights["OLD"].dialogue.state = engine.flights["NEW"].dialogue.state = (
            engine.flights["OLD"].dialogue.state.CANCELLED)
        engine.flights["NEW"].last_sent = T0 + 5000
        engine.flights["OLD"].last_sent = T0
        engine.forget(T0 + 3700)  # the old flight goes, the serial it shared stays
        assert engine.by_serial == {("MMTY/KZHU", 5): "NEW"}


def test_a_database_written_before_flights_kept_their_serials(tmp_path: Path) -> None:
    """The old layout kept (peer, serial) -> flight in a table of its own."""
    engine, peer = Handoff(AIRSPACE, PARAMS), Peer("KZHU")
    fly(engine, peer, 160, start_lat=27.5)
    store = SqliteStore(tmp_path / "h.sqlite")
    store.save(engine)
    rows = []
    for key, text in store.db.execute("SELECT key, data FROM flights"):
        data = json.loads(text)
        del data["serials"]
        rows.append((json.dumps(data), key))
    store.db.executemany("UPDATE flights SET data = ? WHERE key = ?", rows)
    old = [[p, s, k] for (p, s), k in engine.by_serial.items()]
    store.db.execute("INSERT INTO state VALUES ('by_serial', ?)", (json.dumps(old),))
    store.close()
    again, reopened = Handoff(AIRSPACE, PARAMS), SqliteStore(tmp_path / "h.sqlite")
    assert reopened.restore(again) == 1
    assert again.by_serial == engine.by_serial
    reopened.close()


def test_a_file_that_is_not_the_handoffs_state_is_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "h.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="h.sqlite: file is not a database"):
        SqliteStore(garbage)
    other = SqliteStore(tmp_path / "o.sqlite")
    other.db.execute("INSERT INTO flights VALUES ('x', '{\"key\": 1}')")
    with pytest.raises(StoreError, match="not the handoff's state"):
        other.restore(Handoff(AIRSPACE, PARAMS))
    other.close()


# -- the pipeline writes through the store it is given -----------------------------------------

def config(tmp_path: Path):  # noqa: ANN201
    return loads(config_text(tmp_path / "handoff.sqlite"), str(tmp_path / "gw.toml"))


def inbound(text: str) -> bytes:
    return encode(Aidc(t=T0, msg="ACP", from_="KZHU", to="MMTY", serial=1, ref=None,
                       track_id=None, callsign=None, text=text))


def test_the_pipeline_opens_no_file_and_saves_before_it_publishes(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert Pipeline(cfg).receive_aidc(inbound("(ACPKZHU/MMTY001-GARBAGE"), T0)  # an LRM
    assert list(tmp_path.iterdir()) == []  # a database configured, none opened

    store = MemoryStore()
    pipeline = Pipeline(cfg, store)
    [batch] = pipeline.receive_aidc(inbound("(ACPKZHU/MMTY001-GARBAGE"), T0)
    assert [m.msg for m in batch.messages] == ["LRM"] and store.saves == 1
    assert store.links["MMTY/KZHU"].next_serial == 2  # the LRM's serial is stored as used

    class Failing(MemoryStore):
        def save(self, engine: Handoff) -> None:
            raise OSError("disk full")

    # not stored: what the engine made is not published, the message is refused instead and
    # the failure recorded (it must not escape: it would end the reader of every later one)
    pipeline = Pipeline(cfg, Failing())
    [batch] = pipeline.receive_aidc(inbound("(ACPKZHU/MMTY001-GARBAGE"), T0)
    [lrm] = batch.messages
    assert lrm.msg == "LRM" and "RMK/CANNOT STORE IT" in lrm.text
    assert "disk full" in pipeline.failures["handoff-store"]
    assert pipeline.counters()["aidc-handler-errors"] == 1
    assert list(tmp_path.iterdir()) == []


def test_the_pipeline_restores_from_its_store(tmp_path: Path) -> None:
    engine, store = Handoff(AIRSPACE, PARAMS), MemoryStore()
    fly(engine, Peer("KZHU"), 160, start_lat=27.5)
    store.save(engine)
    pipeline = Pipeline(config(tmp_path), store)
    assert pipeline.restored == 1 and pipeline.handoff is not None
    assert pipeline.handoff.by_serial == engine.by_serial


# -- the commands close the store however the run ends ----------------------------------------

class Recorded(SqliteStore):
    opened: list[Recorded] = []

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self.saves, self.closed = 0, False
        Recorded.opened.append(self)

    def save(self, engine: Handoff) -> None:
        super().save(engine)
        self.saves += 1

    def close(self) -> None:
        super().close()
        self.closed = True


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[Recorded]:
    Recorded.opened = []
    monkeypatch.setattr(commands_service, "SqliteStore", Recorded)
    return Recorded.opened


def replay(tmp_path: Path, capture: Path, *speed: str) -> int:
    (tmp_path / "gw.toml").write_text(config_text(tmp_path / "handoff.sqlite"))
    return cli.main(["replay", str(capture), "--config", str(tmp_path / "gw.toml"),
                     "--out", str(tmp_path / "out.jsonl"), "--log-level", "error", *speed])


def test_replay_closes_the_store_at_its_end(tmp_path: Path, recorded) -> None:
    assert replay(tmp_path, ROOT / "captures" / "decoder-sample.pcap", "--speed", "max") == 0
    assert [s.closed for s in recorded] == [True]


def test_replay_closes_the_store_on_a_bad_capture(tmp_path: Path, recorded) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 10)  # a pcap header cut short
    assert replay(tmp_path, bad, "--speed", "max") == 2
    assert [s.closed for s in recorded] == [True]


def test_replay_closes_the_store_after_sigterm(tmp_path: Path, recorded) -> None:
    def stop() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (recorded and recorded[0].saves):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=stop)
    killer.start()
    try:
        assert replay(tmp_path, CAPTURE, "--speed", "5") == 0
    finally:
        killer.join()
    [store] = recorded
    assert store.saves and store.closed
    with sqlite3.connect(tmp_path / "handoff.sqlite") as db:
        assert db.execute("SELECT count(*) FROM state").fetchone()[0] > 0


def test_a_corrupt_database_is_a_one_line_error(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "handoff.sqlite").write_bytes(b"garbage" * 1000)
    assert replay(tmp_path, CAPTURE, "--speed", "max") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("asterix-gateway: [handoff] database ") and "\n" not in err

