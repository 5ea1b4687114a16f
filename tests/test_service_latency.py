"""Latency is measured from the datagram that released a batch (issue 16).

A batch's ``at`` is a byte offset in the decode call's stream (it orders the call's
batches); it was once used as an index into the call's receive times, so latency was
measured from some early datagram of the chunk, or not at all.  Here each datagram of a
chunk gets its own receive time, and every radar sector and SDPS cycle the service hands
to the outbox must carry the time of the datagram that closed it: one holding that
source's framing message (CAT034 sector crossing or north marker, CAT065 end of batch),
or, before the source's first one, its own data.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from gateway.config import MqttConfig, load
from gateway.decoder import Decoder
from gateway.ingest import read_datagrams
from gateway.publish.topics import Outbound
from gateway.service.shell import Service

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "captures" / "border-10min.pcap.gz"
CONFIG = load(ROOT / "captures" / "border.toml")
DATAGRAMS = 1000  # 25 s of the capture: every radar turns, each SDPS ends some six cycles
BASE = 1000.0  # datagram i was received at BASE + i
FRAMING = {"plots": (34, {1, 2}), "tracks": (65, {2})}  # category, its I000 closing values
DATA = {"plots": 48, "tracks": 62}


def _outbound() -> tuple[list[Outbound], list[bytes]]:
    """One chunk through the service's publishing path; what reached the outbox."""
    grams = list(itertools.islice(read_datagrams(CAPTURE), DATAGRAMS))
    payloads = [d.payload for d in grams]
    service = Service(CONFIG, mqtt=MqttConfig(url="mqtt://127.0.0.1:1"))
    published = service.pipeline.feed(payloads, [d.t_capture for d in grams], 0.0)
    service._publish(published, [BASE + i for i in range(len(payloads))])
    assert service.outbox is not None
    return service.outbox.take(len(service.outbox)), payloads


def _sources(payload: bytes, category: int, closing: set[int] | None) -> set[tuple[int, int]]:
    """(sac, sic) of the datagram's records of ``category`` (only its framing messages when
    ``closing`` is given)."""
    batches, _ = Decoder([34, 48, 62, 65]).decode([payload], [None])
    batch = batches.get(category)
    if batch is None:
        return set()
    rows = range(len(batch))
    if closing is not None:
        rows = [r for r in rows if batch.present["000"][r]
                and int(batch.columns["000"][r]) in closing]
    return {(int(batch.columns["010/SAC"][r]), int(batch.columns["010/SIC"][r])) for r in rows}


@pytest.fixture(scope="module")
def outbound() -> tuple[list[Outbound], list[bytes]]:
    return _outbound()


@pytest.mark.parametrize("kind", ["plots", "tracks"])
def test_each_batch_is_timed_from_the_datagram_that_released_it(
        outbound: tuple[list[Outbound], list[bytes]], kind: str) -> None:
    messages, payloads = outbound
    batches = [m for m in messages if f"/{kind}/" in m.topic]
    assert len(batches) > {"plots": 100, "tracks": 10}[kind]  # several of every source
    framed: set[tuple[int, int]] = set()
    for m in batches:
        assert m.received is not None, m.topic
        i = round(m.received - BASE)
        assert m.received == BASE + i and 0 <= i < len(payloads)
        sac, sic = map(int, m.topic.rsplit("/", 1)[1].split("-"))
        category, closing = FRAMING[kind]
        if (sac, sic) in _sources(payloads[i], category, closing):
            framed.add((sac, sic))
            continue
        # released by its own data only while it has not framed a batch yet
        assert (sac, sic) not in framed, (m.topic, i)
        assert (sac, sic) in _sources(payloads[i], DATA[kind], None), (m.topic, i)
    assert framed  # the rule above was exercised, not only the unframed start


def test_what_a_cycle_makes_is_timed_with_it(
        outbound: tuple[list[Outbound], list[bytes]]) -> None:
    """The fused picture of a cycle carries its source batch's receive time, not the
    chunk's first datagram's."""
    messages, _ = outbound
    released = {m.received for m in messages if "/plots/" in m.topic or "/tracks/" in m.topic}
    pictures = [m for m in messages if m.topic.endswith("/picture")]
    assert pictures
    assert all(m.received in released for m in pictures)
    assert len({m.received for m in pictures}) > 10
