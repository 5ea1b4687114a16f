"""The topic table and the bounded outbox, without a broker (sans-IO)."""

from __future__ import annotations

from pathlib import Path

import msgspec
from test_messages import AIDC, ALERT, FUSED, FUSED_ENDED, MODES_PLOT, PSR_PLOT, TRACK, T

import gateway
from gateway.messages import decode, decode_batch, encode, encode_batch
from gateway.normalize.normalizer import SourceBatch
from gateway.publish.batch import Kind, Published
from gateway.publish.outbox import Outbox
from gateway.publish.topics import Outbound, Topics, superseded_states

TOPICS = Topics("surv/v1", "border-gw-1", fused_expiry_s=60)


def outbound(batch: Published) -> list[Outbound]:
    return list(TOPICS.outbound(batch, received=123.0))


def test_plot_and_track_batches_are_one_array_each_qos0() -> None:
    [plots] = outbound(Published(Kind.PLOTS, [MODES_PLOT, PSR_PLOT], (0, 101)))
    assert (plots.topic, plots.qos, plots.retain, plots.expiry_s) == (
        "surv/v1/plots/0-101", 0, False, None)
    assert decode_batch(plots.payload) == [MODES_PLOT, PSR_PLOT]
    assert plots.received == 123.0
    [tracks] = outbound(Published(Kind.TRACKS, [TRACK], (0, 200)))
    assert tracks.topic == "surv/v1/tracks/0-200" and decode_batch(tracks.payload) == [TRACK]


def test_picture_then_each_fused_retained_with_expiry_and_ended_cleared() -> None:
    out = outbound(Published(Kind.PICTURE, [FUSED, FUSED_ENDED]))
    assert [(o.topic, o.retain, o.expiry_s) for o in out] == [
        ("surv/v1/picture", False, None),
        ("surv/v1/fused/FT-000042", True, 60),
        ("surv/v1/fused/FT-000043", False, None),  # the last state, not retained
        ("surv/v1/fused/FT-000043", True, None),   # then the empty retained payload
    ]
    assert decode_batch(out[0].payload) == [FUSED, FUSED_ENDED]
    assert decode(out[1].payload) == FUSED and decode(out[2].payload) == FUSED_ENDED
    assert out[3].payload == b""
    assert all(o.qos == 0 for o in out) and out[1].key == "surv/v1/fused/FT-000042"


def test_picture_and_fused_payloads_are_encode_batch_and_encode_to_the_byte() -> None:
    """The picture's array and each state's payload come from one ``encode_lines`` split
    at its newlines: the same bytes as ``encode_batch`` and ``encode``, newlines in a
    string (escaped by JSON) included."""
    odd = msgspec.structs.replace(FUSED, id="FT-\n0042\u2028")
    for updates in ([FUSED], [FUSED, FUSED_ENDED, odd], [odd] * 3):
        out = outbound(Published(Kind.PICTURE, updates))
        assert out[0].payload == encode_batch(updates)
        states = [o.payload for o in out[1:] if o.payload]
        assert states == [encode(m) for m in updates]


def test_aidc_and_alerts_are_qos1_on_their_topics() -> None:
    [aidc] = outbound(Published(Kind.AIDC, [AIDC]))
    assert (aidc.topic, aidc.qos, aidc.retain) == ("surv/v1/aidc/MMTY/KZAB", 1, False)
    assert decode(aidc.payload) == AIDC
    [alert] = outbound(Published(Kind.ALERTS, [ALERT]))
    assert (alert.topic, alert.qos) == ("surv/v1/alerts", 1)


def test_status_is_retained_qos1_and_names_the_gateway() -> None:
    status = TOPICS.status("offline", T, {})
    assert (status.topic, status.qos, status.retain) == ("surv/v1/status/border-gw-1", 1, True)
    message = msgspec.json.decode(status.payload)
    assert message["kind"] == "status" and message["state"] == "offline"
    assert message["gateway"] == "border-gw-1"


def stream(n: int, start: int = 0) -> list[Outbound]:
    return [Outbound("p", str(i).encode()) for i in range(start, start + n)]


def test_stream_lane_drops_oldest_beyond_its_limit_and_counts() -> None:
    box = Outbox(limit=100, reliable_limit=10)
    box.put(stream(250))
    assert len(box) == 100 and box.counters["dropped-stream"] == 150
    assert [m.payload for m in box.take(1000)] == [str(i).encode() for i in range(150, 250)]
    assert len(box) == 0


def test_state_lane_keeps_only_the_latest_state_of_each_key_in_place() -> None:
    box = Outbox(limit=100, reliable_limit=10)
    box.put([Outbound("f/a", b"a1", key="a"), Outbound("f/b", b"b1", key="b")])
    box.put([Outbound("f/a", b"a2", key="a")])
    box.put([Outbound("f/c", b"", key="c"), Outbound("f/c", b"c-end", key="c")])
    assert box.counters["coalesced"] == 1 and len(box) == 4
    assert [m.payload for m in box.take(10)] == [b"a2", b"b1", b"", b"c-end"]


def test_reliable_lane_keeps_messages_until_acknowledged() -> None:
    box = Outbox(limit=100, reliable_limit=5)
    msgs = [Outbound("a", str(i).encode(), qos=1) for i in range(3)]
    box.put(msgs)
    head = box.reliable_head(2)
    assert head == msgs[:2] and len(box) == 3  # looked at, not taken
    box.acknowledge(head)
    assert box.reliable_head(10) == msgs[2:]
    box.put([Outbound("a", b"x", qos=1) for _ in range(10)])
    assert len(box.reliable) == 5 and box.counters["dropped-reliable"] == 6


def test_given_back_messages_go_first_unless_a_newer_state_came() -> None:
    box = Outbox(limit=100, reliable_limit=10)
    box.put(stream(3) + [Outbound("f/a", b"a1", key="a")])
    taken = box.take(10)
    box.put(stream(1, start=3) + [Outbound("f/a", b"a2", key="a")])
    box.give_back(taken)
    assert [m.payload for m in box.take(10)] == [b"0", b"1", b"2", b"3", b"a2"]
    assert box.counters["coalesced"] == 1


def test_outbox_memory_is_bounded_whatever_comes() -> None:
    box = Outbox(limit=1000, reliable_limit=100)
    for i in range(100):
        box.put(stream(100, i * 100))
        box.put([Outbound("f", b"s", key=f"k{i * 100 + j}") for j in range(100)])
        box.put([Outbound("a", b"r", qos=1) for _ in range(10)])
    assert len(box.stream) <= 1000 and len(box.state) <= 1000 and len(box.reliable) <= 100
    lost = box.counters["dropped-stream"] + box.counters["dropped-state"]
    assert box.counters["queued"] == len(box) + lost + box.counters["dropped-reliable"]


def test_core_packages_never_import_publish() -> None:
    """The normaliser, the tracker and the handoff return plain data; naming topics is the
    publisher's business (docs: architecture rules)."""
    root = Path(gateway.__file__).parent
    offenders = [str(path.relative_to(root)) for package in ("normalize", "associate", "handoff")
                 for path in (root / package).rglob("*.py")
                 if "gateway.publish" in path.read_text()]
    assert offenders == []


def test_topic_names_and_the_table_agree() -> None:
    topics = Topics("p/q", "gw-1")
    table = dict(topics.table())
    assert topics.everything == "p/q/#"
    assert topics.source(Kind.PLOTS, (0, 101)) == "p/q/plots/0-101"
    assert topics.source(Kind(SourceBatch("tracks", (1, 2), []).kind), (1, 2)) == "p/q/tracks/1-2"
    assert topics.aidc("+", "KZAB") == "p/q/aidc/+/KZAB" and topics.aidc_filter == "p/q/aidc/#"
    assert {"p/q/plots/{sac}-{sic}", "p/q/fused/{id}", "p/q/picture", "p/q/alerts",
            "p/q/status/gw-1"} <= set(table)
    assert Topics().prefix == Topics.of("gw", None).prefix == "surv/v1"  # [mqtt]'s default


def test_superseded_states_leave_the_outbox_with_what_putting_them_all_left() -> None:
    """A pipeline call's batches queued with ``superseded_states``: the states a later
    batch of the call replaces are not made, and the outbox ends with the same messages
    (the latest state of each key, each with its own batch's receive time), the same
    stream and the same counters as when every state was queued and coalesced there."""
    def fused(id_: str, t: float, ended: bool = False) -> object:
        return msgspec.structs.replace(FUSED_ENDED if ended else FUSED, id=id_, t=t)

    def picture(*updates: object) -> Published:
        return Published(Kind.PICTURE, list(updates))

    calls = [
        [picture(fused("A", 1), fused("B", 1)),
         Published(Kind.PLOTS, [MODES_PLOT], (0, 101)),
         picture(fused("B", 2, ended=True), fused("C", 2)),
         Published(Kind.AIDC, [AIDC]),
         picture(fused("A", 3), fused("C", 3, ended=True), fused("B", 3)),
         picture(fused("D", 4), fused("D", 4))],  # twice in one batch: both kept
        [picture(fused("A", 5))],
        [],
    ]
    every, skipping = Outbox(100, 100), Outbox(100, 100)
    every.put([Outbound("surv/v1/fused/A", b"old", key="surv/v1/fused/A")])
    skipping.put([Outbound("surv/v1/fused/A", b"old", key="surv/v1/fused/A")])
    made = 0
    for published in calls:
        for i, batch in enumerate(published):
            every.put(TOPICS.outbound(batch, received=float(i)))
        skips, skipped = superseded_states(published)
        assert len(skips) == len(published)
        skipping.counters.update(queued=skipped, coalesced=skipped)
        for i, (batch, skip) in enumerate(zip(published, skips, strict=True)):
            out = list(TOPICS.outbound(batch, received=float(i), superseded=skip))
            made += len(out)
            skipping.put(out)
    assert made < every.counters["queued"]  # fewer made: the point
    assert skipping.counters == every.counters and len(skipping) == len(every)
    assert list(skipping.stream) == list(every.stream)
    assert list(skipping.reliable) == list(every.reliable)
    assert dict(skipping.state) == dict(every.state)
    assert len(skipping.state["surv/v1/fused/D"]) == 2
    assert skipping.counters["coalesced"] > 0
