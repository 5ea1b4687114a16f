"""The neighbour (the engine playing the other side of the border) on hand-made pictures:
its data clock, late answers, silence, hostile input, and its store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_handoff_engine import AIRSPACE, KT_DEG, T0, track

from gateway.commands.peer import PeerProcess
from gateway.handoff.engine import Handoff, HandoffParameters
from gateway.handoff.neighbour import Neighbour
from gateway.handoff.peer import Peer
from gateway.messages import Aidc, Alert, Fused
from gateway.publish.topics import Topics
from gateway.store.sqlite import SqliteStore

# the other side of test_handoff_engine's border: KZHU's flights south into MMTY
PARAMS = HandoffParameters(units=("KZHU",), peers=("MMTY",), abi_lead_s=300, est_lead_s=200,
                           lam_timeout_s=10, lam_tries=2)


def south(t: float, k: int, start_lat: float = 29.5, **kw: object) -> Fused:
    """Due south from Texas at 450 kt, update ``k`` (one every 4 s)."""
    return track(t, start_lat - 450 * KT_DEG * 4 * k, trk_deg=180.0, id="gw-T000007",
                 callsign="UAL220", mode3a="4421", icao24="A00001", **kw)


def fly(neighbour: Neighbour, gateway: Peer | None, updates: range, t0: float = T0,
        start_lat: float = 29.5) -> list[Aidc]:
    """The neighbour fed one picture per update; ``gateway`` (the accepting side, sans-IO)
    answers at once, on the same clock.  Every AIDC message either side sent, in order."""
    out: list[Aidc] = []
    for k in updates:
        t = t0 + 4 * k
        made = [m for m in neighbour.picture([south(t, k, start_lat)]) if isinstance(m, Aidc)]
        while made:
            out += made
            answers = [r for m in made if gateway is not None for r in gateway.receive(m, t)]
            out += answers
            made = [x for a in answers for x in neighbour.receive(a, ("MMTY", "KZHU"))
                    if isinstance(x, Aidc)]
    return out


def offers(out: list[Aidc]) -> list[str]:
    """The neighbour's dialogue messages, each serial once (one sent again is the same)."""
    serials = {m.serial: m.msg for m in out if m.from_ == "KZHU" and m.msg != "LAM"}
    return list(serials.values())


def test_it_offers_its_flights_on_the_pictures_clock() -> None:
    neighbour = Neighbour(Handoff(AIRSPACE, PARAMS))
    out = fly(neighbour, Peer("MMTY"), range(225))
    assert offers(out) == ["ABI", "EST", "TOC"]
    assert [m.msg for m in out if m.from_ == "MMTY" and m.msg != "LAM"] == ["ACP", "AOC"]
    # its messages carry the data time: the time of the picture that made them
    times = {T0 + 4 * k for k in range(225)}
    assert all(m.t in times for m in out if m.from_ == "KZHU")
    est = next(m for m in out if m.msg == "EST")
    assert est.text.startswith("(ESTKZHU/MMTY") and "UAL220/A4421" in est.text


def test_the_same_pictures_make_the_same_messages() -> None:
    """No wall clock inside: two runs of the same pictures send the same texts at the same
    data times (a replay at any speed makes the same dialogues)."""
    runs = [[(m.t, m.text) for m in fly(Neighbour(Handoff(AIRSPACE, PARAMS)), Peer("MMTY"),
                                        range(225))] for _ in range(2)]
    assert runs[0] == runs[1] and runs[0]


def test_delay_answers_late_in_data_time() -> None:
    neighbour = Neighbour(Handoff(AIRSPACE, PARAMS), delay_s=20.0)
    out = fly(neighbour, Peer("MMTY"), range(225))
    acp = next(m for m in out if m.msg == "ACP")
    lam = next(m for m in out if m.msg == "LAM" and m.from_ == "KZHU" and m.ref == acp.serial)
    assert 20.0 <= lam.t - acp.t < 28.0  # handled at the first picture 20 s later
    assert offers(out) == ["ABI", "EST", "TOC"]


def test_ignored_types_go_unanswered_and_the_sender_tries_again() -> None:
    neighbour = Neighbour(Handoff(AIRSPACE, PARAMS), ignore=frozenset({"ACP"}))
    gateway = Peer("MMTY", lam_timeout_s=10.0)
    out: list[Aidc] = []
    for chunk in (range(0, 150), range(150, 160)):  # then the gateway's timer runs
        out += fly(neighbour, gateway, chunk)
        for again in gateway.tick(T0 + 4 * chunk[-1]):
            out.append(again)
            assert neighbour.receive(again, ("MMTY", "KZHU")) == []
    acps = [m for m in out if m.msg == "ACP"]
    assert len(acps) >= 2 and len({m.serial for m in acps}) == 1  # sent again, same serial
    assert not [m for m in out if m.msg == "LAM" and m.from_ == "KZHU"
                and m.ref == acps[0].serial]
    assert neighbour.counters["ignored"] == len(acps)


def test_messages_before_any_picture_wait_and_are_bounded() -> None:
    neighbour = Neighbour(Handoff(AIRSPACE, PARAMS), hold_max=3)
    lam = Aidc(t=T0, msg="LAM", from_="MMTY", to="KZHU", serial=1,  # type: ignore[call-arg]
               ref=1, track_id=None, callsign=None, text="(LAMMMTY/KZHU001KZHU/MMTY001)")
    for _ in range(5):
        assert neighbour.receive(lam, ("MMTY", "KZHU")) == []  # no time to answer at yet
    assert len(neighbour.held) == 3 and neighbour.counters["held-dropped"] == 2
    neighbour.picture([south(T0, 0)])
    assert not neighbour.held  # handled at the first picture's time
    assert neighbour.engine.counters["aidc-received-LAM"] == 3


def test_hostile_text_is_refused_and_counted() -> None:
    neighbour = Neighbour(Handoff(AIRSPACE, PARAMS))
    neighbour.picture([south(T0, 0)])
    bad = Aidc(t=T0, msg="ACP", from_="MMTY", to="KZHU", serial=5,  # type: ignore[call-arg]
               ref=None, track_id=None, callsign=None, text="(ACP garbage")
    out = neighbour.receive(bad, ("MMTY", "KZHU"))
    assert [m.msg for m in out if isinstance(m, Aidc)] == ["LRM"]
    assert out[0].t == T0  # answered at the data time
    assert neighbour.engine.counters["aidc-invalid"] == 1
    spoofed = neighbour.receive(bad, ("MMZT", "KZHU"))  # the topic says someone else
    assert neighbour.engine.counters["aidc-refused-topic"] == 1 and len(spoofed) <= 1


def test_a_picture_well_behind_the_clock_decides_nothing_unless_far_behind() -> None:
    neighbour = Neighbour(Handoff(AIRSPACE, PARAMS))
    neighbour.picture([south(T0 + 600, 0)])
    assert neighbour.picture([south(T0, 0)]) == [] and neighbour.clock == T0 + 600
    assert neighbour.counters["picture-behind"] == 1
    far = T0 + 600 - PARAMS.clock_margin_s - 1  # another day's data: its time wins
    neighbour.picture([south(far, 0)])
    assert neighbour.clock == far and neighbour.counters["clock-reset"] == 1
    assert neighbour.notices


def test_a_restart_from_the_store_finishes_the_dialogue(tmp_path: Path) -> None:
    """Killed after its EST went out and before the ACP came: the restarted neighbour,
    from its store, takes the ACP (the broker kept it for its session), repeats nothing,
    and hands the flight over."""
    store = SqliteStore(tmp_path / "peer.sqlite")
    first = Neighbour(Handoff(AIRSPACE, PARAMS))
    gateway = Peer("MMTY")
    out: list[Aidc] = []
    kept: list[Aidc] = []  # what the gateway answered while the neighbour was dead
    k = 0
    while not kept:
        t = T0 + 4 * k
        made = [m for m in first.picture([south(t, k)]) if isinstance(m, Aidc)]
        store.save(first.engine)  # saved before published, as the process does
        first.engine.mark_saved()
        for m in made:
            out.append(m)
            for answer in gateway.receive(m, t):
                out.append(answer)
                if m.msg == "EST":
                    kept.append(answer)
                else:
                    first.receive(answer, ("MMTY", "KZHU"))
                    store.save(first.engine)
                    first.engine.mark_saved()
        k += 1
    store.close()
    store = SqliteStore(tmp_path / "peer.sqlite")
    engine = Handoff(AIRSPACE, PARAMS)
    assert store.restore(engine) == 1
    second = Neighbour(engine)
    assert second.clock == T0 + 4 * (k - 1)  # the stored data clock
    second.picture([south(T0 + 4 * k, k)])
    for answer in kept:
        out += [m for m in second.receive(answer, ("MMTY", "KZHU")) if isinstance(m, Aidc)]
    out += fly(second, gateway, range(k + 1, 225))
    assert offers(out) == ["ABI", "EST", "TOC"]
    assert not [m for m in out if m.msg == "LRM"]
    assert engine.counters["aidc-received-ACP"] == 1
    assert engine.counters["aidc-received-AOC"] == 1
    store.close()


def test_the_peer_process_publishes_its_aidc_and_not_its_alerts() -> None:
    """The demo's alerts topic carries each uncoordinated crossing once: the gateway's
    engine raises it, and so does the peer's (the same picture, the same engine); the
    peer's is counted, not published (commit 550ac29 took it off the demo's stderr)."""
    class Box:
        def __init__(self) -> None:
            self.topics: list[str] = []

        def put(self, messages: Any) -> None:
            self.topics += [o.topic for o in messages]

    class Sink:
        def notify(self) -> None:
            pass

    process = PeerProcess(Neighbour(Handoff(AIRSPACE, PARAMS)), Topics("surv/v1", "gw"))
    box = Box()
    process.outbox, process.sink = box, Sink()  # type: ignore[assignment]
    alert = Alert(t=T0, type="uncoordinated-crossing", track_id="gw-T000001", text="crossed")
    process._publish([alert])
    assert box.topics == [] and process.counters["alert-uncoordinated-crossing"] == 1
    aidc = Aidc(t=T0, msg="LAM", from_="KZHU", to="MMTY", serial=1, ref=1,
                track_id=None, callsign=None, text="(LAMKZHU/MMTY001MMTY/KZHU001)",
                session=None)
    process._publish([alert, aidc])
    assert box.topics and not any("alert" in t for t in box.topics)
