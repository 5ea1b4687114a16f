"""The topic table of docs/messages.md as code: a published batch in, MQTT messages out.

Sans-IO: what to send, with which QoS, retain flag and expiry; the MQTT sink only sends it.

| topic | payload | QoS / retain |
|---|---|---|
| plots/{sac}-{sic}, tracks/{sac}-{sic} | JSON array (one sector / one SDPS cycle) | 0 / no |
| fused/{id} | one fused message, latest state; empty payload when it ends | 0 / yes, expiring |
| picture | JSON array of one association cycle's fused updates | 0 / no |
| aidc/{from}/{to} | one aidc message | 1 / no |
| alerts | one alert message | 1 / no |
| status/{gateway} | one status message; also the last will | 1 / yes |
| registration/{sac}-{sic} | one registration message (a radar's biases) | 1 / yes |
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

import msgspec

from gateway.config import MqttConfig
from gateway.messages import Fused, Status, encode, encode_batch, encode_lines
from gateway.publish.batch import Kind, Published


def _declared(key: str) -> Any:
    """The default of an [mqtt] key, as gateway/config.py declares it: declared once,
    there, and read here for a service that runs without [mqtt] (file sink only)."""
    for f in dataclasses.fields(MqttConfig):
        if f.name == key:
            return f.default
    raise LookupError(f"[mqtt] declares no key {key!r}")


DEFAULT_PREFIX: str = _declared("topic_prefix")
DEFAULT_FUSED_EXPIRY_S: int = _declared("fused_expiry_s")

# Every topic under the prefix, with placeholders, and what it carries (for people: the
# demo prints it).  The methods below build the same names.
TABLE: tuple[tuple[str, str], ...] = (
    ("plots/{sac}-{sic}", "radar plots, one array per sector"),
    ("tracks/{sac}-{sic}", "SDPS tracks, one array per cycle"),
    ("fused/{id}", "each fused track's latest state (retained)"),
    ("picture", "each association cycle's fused updates"),
    ("aidc/{from}/{to}", "border coordination (AIDC) messages"),
    ("alerts", "alerts for the operator"),
    ("status/{gateway}", "gateway status (retained; also the last will)"),
    ("registration/{sac}-{sic}", "each radar's estimated biases (retained)"),
)
class Outbound(msgspec.Struct, frozen=True, gc=False):
    """One MQTT message to send (immutable).

    A msgspec Struct, not a frozen dataclass: a replay at ``max`` makes ~140,000 of them
    (each fused state before it is coalesced), and a frozen dataclass's ``__init__``
    (``object.__setattr__`` per field) took 2.2 us each, 0.3 s of the replay's CPU, against
    0.2 us; ``gc=False``: its fields are strings, bytes and numbers, never a cycle (issue 16).

    ``key``: messages with the same key are states of one thing (a ``fused/{id}`` topic);
    only the latest needs to reach the broker, so an outbox may replace an unsent one.
    ``received``: when the datagram that completed it came in (for latency), else None.
    """

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    expiry_s: int | None = None
    key: str | None = None
    received: float | None = None


class Topics:
    """Names under ``prefix`` and the rules for each kind of batch: the only place that
    knows the topic names (``Topics(prefix)`` alone is enough to name topics)."""

    def __init__(self, prefix: str = DEFAULT_PREFIX, gateway: str = "",
                 fused_expiry_s: int = DEFAULT_FUSED_EXPIRY_S) -> None:
        self.prefix = prefix
        self.gateway = gateway
        self.fused_expiry_s = fused_expiry_s
        self._fused_head = self._name("fused", "")  # ``fused/{id}`` is this + id

    @classmethod
    def of(cls, gateway: str, mqtt: MqttConfig | None) -> Topics:
        """A gateway's topics as its [mqtt] section sets them, else the declared defaults."""
        if mqtt is None:
            return cls(DEFAULT_PREFIX, gateway, DEFAULT_FUSED_EXPIRY_S)
        return cls(mqtt.topic_prefix, gateway, mqtt.fused_expiry_s)

    def _name(self, *levels: str) -> str:
        return "/".join((self.prefix, *levels))

    # -- the names ------------------------------------------------------------------------

    @property
    def everything(self) -> str:
        """The filter for every topic of the gateway."""
        return self._name("#")

    def source(self, kind: Kind, source: tuple[int, int]) -> str:
        """``plots/{sac}-{sic}`` or ``tracks/{sac}-{sic}``."""
        return self._name(kind, f"{source[0]}-{source[1]}")

    def fused(self, track_id: str) -> str:
        return self._fused_head + track_id

    @property
    def picture(self) -> str:
        return self._name(Kind.PICTURE)

    def aidc(self, from_: str, to: str) -> str:
        """``aidc/{from}/{to}``; ``+`` stands for any unit in a subscription."""
        return self._name(Kind.AIDC, from_, to)

    def aidc_units(self, topic: str) -> tuple[str, str] | None:
        """(from, to) of an ``aidc/{from}/{to}`` topic under this prefix; None if the topic
        is not one (the inverse of ``aidc``: who a message on it claims to be from and
        for)."""
        head = self._name(Kind.AIDC, "")
        if not topic.startswith(head):
            return None
        levels = topic[len(head):].split("/")
        if len(levels) != 2 or not all(levels):
            return None
        return levels[0], levels[1]

    @property
    def aidc_filter(self) -> str:
        return self._name(Kind.AIDC, "#")

    def registration(self, sac: int, sic: int) -> str:
        """``registration/{sac}-{sic}``."""
        return self._name(Kind.REGISTRATION, f"{sac}-{sic}")

    @property
    def alerts(self) -> str:
        return self._name(Kind.ALERTS)

    @property
    def status_topic(self) -> str:
        return self._name("status", self.gateway)

    @property
    def status_filter(self) -> str:
        """Every gateway's status."""
        return self._name("status", "#")

    def table(self) -> list[tuple[str, str]]:
        """Every topic with placeholders under this prefix, and what it carries (this
        gateway's own status topic when it has a name)."""
        return [(self._name(pattern.replace("{gateway}", self.gateway or "{gateway}")), what)
                for pattern, what in TABLE]

    # -- the rules --------------------------------------------------------------------------

    def status(self, state: str, t: float, counters: Mapping[str, int | float]) -> Outbound:
        """The retained status message; with ``offline`` it is also the last will."""
        message = Status(t=t, gateway=self.gateway, state=state,  # type: ignore[arg-type]
                         counters=dict(counters))
        return Outbound(self.status_topic, encode(message), qos=1, retain=True,
                        key=self.status_topic)

    def outbound(self, batch: Published, received: float | None = None,
                 superseded: Collection[str] = ()) -> Iterator[Outbound]:
        """Every MQTT message one published batch makes, in the order to send them; none
        for the fused updates whose ids are in ``superseded`` (``superseded_states``)."""
        messages = batch.messages
        if not messages:
            return
        kind = batch.kind
        if kind is Kind.PICTURE:
            yield from self._picture(messages, received, superseded)
        elif kind is Kind.AIDC:
            for m in messages:
                yield Outbound(self.aidc(m.from_, m.to), encode(m), qos=1)
        elif kind is Kind.ALERTS:
            for m in messages:
                yield Outbound(self.alerts, encode(m), qos=1)
        elif kind is Kind.REGISTRATION:  # the latest estimate of each radar, retained
            for m in messages:
                topic = self.registration(m.src.sac, m.src.sic)
                yield Outbound(topic, encode(m), qos=1, retain=True, key=topic)
        elif batch.source is not None:  # plots, tracks: one array per sector or cycle
            yield Outbound(self.source(kind, batch.source), encode_batch(messages),
                           received=received)
        else:
            raise ValueError(f"a {kind} batch without its source")

    def _picture(self, updates: list[Fused], received: float | None,
                 superseded: Collection[str] = ()) -> Iterator[Outbound]:
        """``picture`` (the cycle's updates as one JSON array), then each update's
        ``fused/{id}``.  Every update is encoded once, not twice: one ``encode_lines`` call,
        split at its newlines (compact JSON escapes every newline inside a string, so each
        line is one update's ``encode``), gives both the array (its lines joined with
        commas in brackets, ``encode_batch`` to the byte: tests/test_publish.py) and each
        state's payload.  The replay at ``max`` queued 137,000 states, each encoded again
        for its own topic before most were coalesced unsent (issue 16)."""
        lines = encode_lines(updates).split(b"\n")
        lines.pop()  # after the last newline
        if len(lines) != len(updates):  # not one line an update: never, but stay right
            lines = [encode(m) for m in updates]
        yield Outbound(self.picture, b"[" + b",".join(lines) + b"]", received=received)
        yield from self._fused(updates, lines, received, superseded)

    def _fused(self, updates: Iterable[Fused], payloads: Iterable[bytes],
               received: float | None, superseded: Collection[str] = ()) -> Iterator[Outbound]:
        """``fused/{id}``: the latest state, retained with an expiry, so a subscriber that
        joins late sees the picture at once and a dead gateway's tracks fade by themselves.
        An ended track's last state goes out unretained, then an empty retained payload
        clears the topic (MQTT's way to delete a retained message).  ``payloads``: each
        update's ``encode``; ``superseded``: ids whose states are not made (a later batch
        has their newer state)."""
        head, expiry = self._fused_head, self.fused_expiry_s
        for m, payload in zip(updates, payloads, strict=True):
            if m.id in superseded:
                continue
            topic = head + m.id
            if m.state == "ended":
                yield Outbound(topic, payload, key=topic, received=received)
                yield Outbound(topic, b"", retain=True, key=topic, received=received)
            else:
                yield Outbound(topic, payload, 0, True, expiry, topic, received)


def superseded_states(batches: Sequence[Published]) -> tuple[list[frozenset[str]], int]:
    """For each of ``batches`` (one pipeline call's, queued together), the ids of its fused
    updates that a later picture batch of the list updates again, and how many messages
    (``fused/{id}`` states: two for an ended track) those would have made.

    ``fused/{id}`` is a state: the outbox keeps only the latest of each key, so a state
    queued and replaced before the sink could take it is never sent (``coalesced``).  A
    replay at ``max`` feeds the pipeline 1,024 datagrams a call, some 200 association
    cycles: ~137,000 states were made and queued for ~8,700 sent.  Not making them took
    the service's publishing (``Service._publish``: topics, encoding, outbox) from 0.62-0.68
    to 0.49 s of CPU in that replay, of its ~6 s (issue 16).  The newest state of each
    id is still queued, by its own batch (with its receive time), so the outbox holds what
    it held.  An id's state now takes its place in line at its newest batch, not its first:
    it is the same state, sent no earlier than its own cycle.  The counters count them as
    before (queued, then coalesced); only a state lane overflowing within one call drops
    fewer (the replaced states no longer take room in it)."""
    skips: list[frozenset[str]] = [frozenset()] * len(batches)
    later: set[str] = set()
    skipped = 0
    for i in range(len(batches) - 1, -1, -1):
        batch = batches[i]
        if batch.kind is not Kind.PICTURE or not batch.messages:
            continue
        if later:
            ids = [m.id for m in batch.messages]
            gone = later.intersection(ids)
            if gone:
                skips[i] = frozenset(gone)
                skipped += sum(2 if m.state == "ended" else 1
                               for m in batch.messages if m.id in gone)
            later.update(ids)
        else:
            later.update(m.id for m in batch.messages)
    return skips, skipped
