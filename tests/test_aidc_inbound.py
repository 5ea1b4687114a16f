"""The inbound AIDC path held to issue 13: a message's identity is (link, sender's session,
serial, text digest); our serials are never reused while awaiting LAM; an answer is taken
only if its reference, field 7 and the dialogue's state match; topic, envelope and text must
agree on who speaks; flood alerts are rate-limited; everything the engine says parses with
its own grammar; nothing raised while handling one message gets out of the pipeline."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_handoff_engine import AIRSPACE, KT_DEG, PARAMS, T0, fly
from test_handoff_store import config

from gateway.handoff.dialogue import Heard, Link, Pending, State
from gateway.handoff.engine import Handoff, _remark
from gateway.handoff.peer import Peer
from gateway.handoff.text import AidcSyntaxError, parse
from gateway.messages import Aidc, Alert, encode
from gateway.pipeline import Pipeline
from gateway.publish.topics import Topics
from gateway.store.memory import MemoryStore
from gateway.store.sqlite import SqliteStore


def drive(engine: Handoff, peer: Peer, t0: float, seconds: float, start_lat: float = 26.5,
          tamper: Callable[[Aidc], Aidc] = lambda m: m, **kw: object) -> list[Any]:
    return fly(engine, peer, seconds, start_lat, t0=t0, tamper=tamper, **kw)


def no_session(m: Aidc) -> Aidc:
    return msgspec.structs.replace(m, session=None)


def acp(serial: int, ref: int, callsign: str = "AMX412", ssr: str = "2311",
        session: str | None = "peer-1") -> Aidc:
    text = f"(ACPKZHU/MMTY{serial:03d}MMTY/KZHU{ref:03d}-{callsign}/A{ssr}-ZZZZ-ZZZZ)"
    return Aidc(t=T0, msg="ACP", from_="KZHU", to="MMTY", serial=serial, ref=ref,
                track_id=None, callsign=callsign, text=text, session=session)


def offered(params: Any = PARAMS, engine: Handoff | None = None) -> tuple[Handoff, int, int]:
    """An engine whose flight (AMX412) was sent ABI and EST and awaits ACP: the peer
    acknowledges but does not answer.  Returns it with the ABI's and the EST's serials."""
    engine = engine or Handoff(AIRSPACE, params)
    out = drive(engine, Peer("KZHU", ignore=frozenset({"EST"})), T0, 200, start_lat=27.5)
    serials = {m.msg: m.serial for m in out if isinstance(m, Aidc) and m.from_ == "MMTY"}
    [f] = engine.flights.values()
    assert f.dialogue.state is State.OFFERED
    return engine, serials["ABI"], serials["EST"]


def lrms(out: list[Any]) -> list[Aidc]:
    return [m for m in out if isinstance(m, Aidc) and m.msg == "LRM"]


# -- 1. identity: (link, sender's session, serial, digest) ----------------------------------------

@pytest.mark.parametrize("tamper", [lambda m: m, no_session], ids=["session", "no-session"])
def test_a_peer_that_restarts_and_counts_from_001_has_its_acps_handled(
        tamper: Callable[[Aidc], Aidc]) -> None:
    """Before: its ACP came under a serial the first peer had used; taken for a message
    sent again, it was answered LAM and dropped, and the dialogue stayed OFFERED."""
    engine = Handoff(AIRSPACE, PARAMS)
    first = drive(engine, Peer("KZHU"), T0, 900, tamper=tamper)
    restarted = Peer("KZHU")  # same unit, state lost: serials from 001, a new session
    second = drive(engine, restarted, T0 + 1000, 900, tamper=tamper, id="gw-T000002",
                   callsign="VIV100", icao24="0D0002", mode3a="2312")
    acps = [m for m in first + second if isinstance(m, Aidc) and m.msg == "ACP"]
    assert len(acps) == 2 and acps[0].serial == acps[1].serial  # the same serial, twice
    assert [f.dialogue.state for f in engine.flights.values()] == [State.TRANSFERRED] * 2
    assert engine.counters["aidc-peer-restart"] == 1 and engine.counters["aidc-duplicate"] == 0
    assert not lrms(first + second)


def test_the_same_message_sent_again_is_acknowledged_not_handled_twice() -> None:
    engine, _, est = offered()
    first = engine.receive(acp(7, est), T0 + 130)
    assert [m.msg for m in first] == ["LAM"]
    [f] = engine.flights.values()
    assert f.dialogue.state is State.COORDINATED
    again = engine.receive(acp(7, est), T0 + 131)  # our LAM was lost: the peer sends it again
    assert [m.msg for m in again] == ["LAM"] and again[0].text.endswith("KZHU/MMTY007)")
    assert engine.counters["aidc-duplicate"] == 1 and f.dialogue.state is State.COORDINATED


def test_a_refused_message_does_not_poison_its_serial() -> None:
    """An ACP for DAL19 that names AAL7's EST is refused with the reason and an alert, and
    the genuine ACP under the same serial is then handled (before: DAL19's ACP coordinated
    AAL7, as field 7 was never compared; and a refused message was recorded as seen)."""
    engine = Handoff(AIRSPACE, PARAMS)
    drive(engine, Peer("KZHU", ignore=frozenset({"EST"})), T0, 200, start_lat=27.5,
          callsign="AAL7")
    [f] = engine.flights.values()
    est = f.serials[f.sent.index("EST")][0]
    wrong = engine.receive(acp(9, est, callsign="DAL19"), T0 + 130)
    assert [m.msg for m in wrong if isinstance(m, Aidc)] == ["LRM"]
    assert "FIELD 7 DAL19 IS NOT AAL7" in lrms(wrong)[0].text
    [alert] = [m for m in wrong if isinstance(m, Alert)]
    assert alert.type == "aidc-mismatch" and "DAL19" in alert.text
    assert f.dialogue.state is State.OFFERED
    right = engine.receive(acp(9, est, callsign="AAL7"), T0 + 131)
    assert [m.msg for m in right] == ["LAM"] and f.dialogue.state is State.COORDINATED


def test_what_is_heard_is_bounded_and_a_gap_is_not_a_restart() -> None:
    heard = Heard()
    for n in range(5000):
        serial = n % 999 + 1
        assert not heard.restarted(None, serial, f"d{n}")
        heard.record(serial, f"d{n}")
    assert len(heard.recent) == Heard.RECENT
    last = heard.last
    assert last is not None
    late = (last - 50 - 1) % 999 + 1  # 50 behind, never seen: a late message, not a restart
    heard.recent.pop(late, None)
    assert not heard.restarted(None, late, "x")
    far = (last - 300 - 1) % 999 + 1  # 300 behind: counting started again
    assert heard.restarted(None, far, "x")
    assert not heard.restarted(None, last % 999 + 1, "x")  # the next one, across the wrap


def test_what_is_heard_survives_the_store_and_old_lists_still_load(tmp_path: Path) -> None:
    engine, _, est = offered()
    engine.receive(acp(7, est), T0 + 130)
    db = tmp_path / "h.sqlite"
    SqliteStore(db).save(engine)
    again = Handoff(AIRSPACE, PARAMS)
    SqliteStore(db).restore(again)
    assert again.seen == engine.seen and again.seen["KZHU/MMTY"].session == "peer-1"
    assert [m.msg for m in again.receive(acp(7, est), T0 + 131)] == ["LAM"]
    assert again.counters["aidc-duplicate"] == 1

    # a store written before sessions and digests: the peer's serials as a plain list
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE state SET data = ? WHERE name = 'seen'",
                     (json.dumps({"KZHU": [5, 6, 7]}),))
    old = Handoff(AIRSPACE, PARAMS)
    SqliteStore(db).restore(old)
    assert old.seen["KZHU/MMTY"] == Heard(None, {5: None, 6: None, 7: None}, 7)
    assert [m.msg for m in old.receive(acp(7, est), T0 + 132)] == ["LAM"]
    assert old.counters["aidc-duplicate"] == 1


# -- 2. our serials and what answers match --------------------------------------------------------

def test_a_serial_awaiting_its_lam_is_never_given_again() -> None:
    link = Link()
    link.pending = {1: Pending(1, "(A)", 0.0), 2: Pending(2, "(B)", 0.0)}
    assert link.number() == 3
    link.next_serial = 999
    link.pending[999] = Pending(999, "(C)", 0.0)
    assert link.number() == 3  # 999, 1 and 2 skipped: across the wrap
    link.pending = {s: Pending(s, "(X)", 0.0) for s in range(1, 1000)}
    assert link.number() is None


def test_with_every_serial_awaiting_lam_nothing_is_sent_and_it_is_said_once() -> None:
    engine = Handoff(AIRSPACE, PARAMS)
    link = engine.link("MMTY", "KZHU", T0)
    link.pending = {s: Pending(s, f"(X{s})", T0 + 1e6) for s in range(1, 1000)}  # not due
    out = drive(engine, Peer("KZHU"), T0, 120, start_lat=27.5)
    assert not [m for m in out if isinstance(m, Aidc)]
    assert [m.type for m in out if isinstance(m, Alert)] == ["link-full"]
    assert engine.counters["aidc-link-full"] > 1
    [f] = engine.flights.values()
    assert f.dialogue.state is State.IDLE  # nothing was said
    del link.pending[7]  # one is acknowledged: the next message gets its serial
    out = drive(engine, Peer("KZHU"), T0 + 120, 8, start_lat=27.5 + 450 * KT_DEG * 120)
    assert [(m.msg, m.serial) for m in out if isinstance(m, Aidc)][:1] == [("ABI", 7)]


def test_an_answer_must_answer_the_latest_proposal_and_carry_the_flights_ssr() -> None:
    engine, abi, est = offered()
    [f] = engine.flights.values()
    out = engine.receive(acp(11, abi), T0 + 130)  # an ACP naming the ABI
    assert "DOES NOT ANSWER THE LATEST" in lrms(out)[0].text
    out = engine.receive(acp(12, est, ssr="7777"), T0 + 131)
    assert "SSR CODE 7777 IS NOT 2311" in lrms(out)[0].text
    assert f.dialogue.state is State.OFFERED and engine.counters["aidc-mismatch"] == 2
    assert [m.msg for m in engine.receive(acp(13, est), T0 + 132)] == ["LAM"]
    assert f.dialogue.state is State.COORDINATED


# -- 3. who may speak ------------------------------------------------------------------------------

def garbage(from_: str = "KZHU", to: str = "MMTY", text: str = "(ACPKZHU/MMTY001-GARBAGE"
            ) -> bytes:
    return encode(Aidc(t=T0, msg="ACP", from_=from_, to=to, serial=1, ref=None, track_id=None,
                       callsign=None, text=text))


def test_topic_envelope_and_text_must_agree_on_who_speaks(tmp_path: Path) -> None:
    topics = Topics("surv/v1")
    assert topics.aidc_units(topics.aidc("KZHU", "MMTY")) == ("KZHU", "MMTY")
    for bad in ("surv/v1/aidc/KZHU", "surv/v1/aidc/KZHU/MMTY/x", "other/aidc/KZHU/MMTY",
                "surv/v1/aidc//MMTY", "surv/v1/alerts"):
        assert topics.aidc_units(bad) is None, bad
    pipeline = Pipeline(config(tmp_path))

    def receive(payload: bytes, topic: str) -> list[Any]:
        return [m for batch in pipeline.receive_aidc(payload, T0, topic=topic)
                for m in batch.messages]

    # a configured peer's envelope on another peer's topic: refused, LRM to the claimed sender
    [lrm] = receive(garbage(), "surv/v1/aidc/KZLA/MMTY")
    assert lrm.msg == "LRM" and lrm.to == "KZHU" and "TOPIC UNITS DIFFER" in lrm.text
    # not a configured link, or a topic that is no aidc topic: counted only
    assert receive(garbage(from_="XXXX"), "surv/v1/aidc/KZHU/MMTY") == []
    assert receive(garbage(from_="XXXX"), "surv/v1/aidc/XXXX/MMTY") == []
    [lrm] = receive(garbage(), "surv/v1/aidc/KZHU")
    # field 3 names other units than the topic and the envelope
    [lrm] = receive(garbage(text="(LAMKZLA/MMTY005MMTY/KZLA001)"), "surv/v1/aidc/KZHU/MMTY")
    assert "FIELD 3 UNITS DIFFER" in lrm.text
    # all agree: handled (here, refused for its text)
    [lrm] = receive(garbage(), "surv/v1/aidc/KZHU/MMTY")
    assert "NOT ENCLOSED IN PARENTHESES" in lrm.text
    counts = pipeline.counters()
    assert (counts["aidc-refused-topic"], counts["aidc-not-ours"], counts["aidc-refused-units"],
            counts["aidc-invalid"], counts["aidc-inbound"]) == (3, 1, 1, 1, 6)


# -- 4. floods ---------------------------------------------------------------------------------

def test_twenty_thousand_lrms_give_a_few_alerts_and_one_summary() -> None:
    engine = Handoff(AIRSPACE, PARAMS)
    alerts: list[Alert] = []
    for n in range(20_000):
        text = f"(LRMKZHU/MMTY{n % 999 + 1:03d}MMTY/KZHU001-RMK/NO)"
        m = Aidc(t=T0, msg="LRM", from_="KZHU", to="MMTY", serial=n % 999 + 1, ref=1,
                 track_id=None, callsign=None, text=text)
        alerts += [a for a in engine.receive(m, T0 + n * 0.001) if isinstance(a, Alert)]
    assert len(alerts) == engine.limiter.burst == 5
    assert alerts[0].text == "KZHU refused our message MMTY/KZHU001: NO"
    assert engine.counters["alerts-suppressed"] == 19_995
    later = [a for a in engine.tick(T0 + 61) if isinstance(a, Alert)]
    assert [a.text for a in later] == ["19995 more lrm-received from KZHU in the last 60 s"]
    assert engine.tick(T0 + 200) == []


# -- 5. ASCII -------------------------------------------------------------------------------------

def test_a_unicode_digit_is_no_serial() -> None:
    with pytest.raises(AidcSyntaxError):
        parse("(LAMKZHU/MMTY\u0661\u0662\u0663MMTY/KZHU001)")
    with pytest.raises(AidcSyntaxError):
        parse("(ESTKZHU/MMTY001-AMX412/A2311-ZZZZ-EGLPS/\u0661\u0662\u0660\u0660F350-ZZZZ)")


def test_non_ascii_in_a_refused_message_makes_an_lrm_we_can_parse() -> None:
    assert parse(f"(LRMA/B001B/A001-RMK/{_remark('Ünïcödé ÄMX412 ٣ ß')})").remark == (
        "N C D MX412 SS")
    engine = Handoff(AIRSPACE, PARAMS)
    for text in ("(ACPKZHU/MMTY001-ÄMX412-ZZZZ-ZZZZ)", "(ÉSTKZHU/MMTY001)",
                 "(ACPKZHU/MMTY001MMTY/KZHU001-AMX412-ZZZZ-ZZZZ\u00e9)"):
        m = Aidc(t=T0, msg="ACP", from_="KZHU", to="MMTY", serial=1, ref=None, track_id=None,
                 callsign=None, text=text)
        [lrm] = engine.receive(m, T0)
        assert lrm.msg == "LRM" and parse(lrm.text).remark, text


# -- 6. an exception while handling one message ---------------------------------------------

def test_a_fault_in_one_message_is_refused_rolled_back_and_the_next_is_handled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = Pipeline(config(tmp_path))
    assert pipeline.handoff is not None
    engine, _, est = offered(engine=pipeline.handoff)
    [f] = engine.flights.values()
    handle = Handoff._handle

    def broken(self: Handoff, *args: Any) -> bool:
        handle(self, *args)  # changes the dialogue, then fails
        raise RuntimeError("bug")

    monkeypatch.setattr(Handoff, "_handle", broken)
    [batch] = pipeline.receive_aidc(encode(acp(7, est)), T0 + 130,
                                    topic="surv/v1/aidc/KZHU/MMTY")
    assert [m.msg for m in batch.messages] == ["LRM"] and "CANNOT HANDLE IT" in (
        batch.messages[0].text)
    assert pipeline.counters()["aidc-handler-errors"] == 1 and not pipeline.failures
    assert next(iter(engine.flights.values())).dialogue.state is State.OFFERED  # taken back
    assert 7 not in engine.seen["KZHU/MMTY"].recent
    monkeypatch.setattr(Handoff, "_handle", handle)
    [batch] = pipeline.receive_aidc(encode(acp(7, est)), T0 + 131)  # sent again: handled
    assert [m.msg for m in batch.messages] == ["LAM"]
    assert next(iter(engine.flights.values())).dialogue.state is State.COORDINATED
    assert engine.counters["aidc-duplicate"] == 0


def test_a_store_that_fails_unexpectedly_takes_the_message_back(tmp_path: Path) -> None:
    """A store raising something else than StoreError (which suspends the handoff, see
    test_store_failures): the message is taken back and refused, the failure shown."""

    class Flaky(MemoryStore):
        fail = False

        def save(self, engine: Handoff) -> None:
            if self.fail:
                raise OSError("disk full")
            super().save(engine)

    store = Flaky()
    pipeline = Pipeline(config(tmp_path), store)
    assert pipeline.handoff is not None
    engine, _, est = offered(engine=pipeline.handoff)
    store.save(engine)
    store.fail = True
    [batch] = pipeline.receive_aidc(encode(acp(7, est)), T0 + 130)
    assert [m.msg for m in batch.messages] == ["LRM"]  # not the LAM that was not stored
    assert "disk full" in pipeline.failures["handoff-store"]
    assert next(iter(engine.flights.values())).dialogue.state is State.OFFERED
    assert 7 not in engine.seen["KZHU/MMTY"].recent
    store.fail = False
    [batch] = pipeline.receive_aidc(encode(acp(7, est)), T0 + 131)
    assert [m.msg for m in batch.messages] == ["LAM"]
    assert next(iter(engine.flights.values())).dialogue.state is State.COORDINATED
    assert store.flights[next(iter(engine.flights))].dialogue.state is State.COORDINATED
    assert not pipeline.failures  # a save that works clears it


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120), st.sampled_from(["ACP", "LAM", "EST"]),
       st.integers(0, 2**31 - 1))
def test_any_text_is_answered_with_a_text_we_can_parse(text: str, msg: str,
                                                       serial: int) -> None:
    """Whatever a configured peer sends: no exception, one answer, and it parses."""
    engine = Handoff(AIRSPACE, PARAMS)
    m = Aidc(t=T0, msg=msg, from_="KZHU", to="MMTY", serial=serial,  # type: ignore[arg-type]
             ref=None, track_id=None, callsign=None, text=text)
    out = engine.receive(m, T0)
    for sent in out:
        if isinstance(sent, Aidc):
            parse(sent.text)
    assert len([x for x in out if isinstance(x, Aidc)]) == 1 or (
        engine.counters["aidc-received-LAM"] + engine.counters["aidc-received-LRM"] == 1)


def test_a_peers_links_to_two_of_our_units_are_heard_apart() -> None:
    """A peer numbers its messages to each of our units on its own, each link with its own
    session (as the simulated peer does): alternating between them is no restart, and the
    same serial on the other link is another message."""
    engine = Handoff(AIRSPACE, dataclasses.replace(PARAMS, units=("MMTY", "MMZT")))
    for n in range(1, 4):
        for me, session in (("MMTY", "link-a"), ("MMZT", "link-b")):
            text = f"(LAMKZHU/{me}{n:03d}{me}/KZHU001)"
            engine.receive(Aidc(t=T0, msg="LAM", from_="KZHU", to=me, serial=n, ref=1,
                                track_id=None, callsign=None, text=text, session=session), T0)
    assert engine.counters["aidc-peer-restart"] == 0
    assert {k: h.session for k, h in engine.seen.items()} == {"KZHU/MMTY": "link-a",
                                                              "KZHU/MMZT": "link-b"}
