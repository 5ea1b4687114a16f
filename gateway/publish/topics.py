"""The contract's topic table (section 5) as code: a published batch in, MQTT messages out.

Sans-IO: what to send, with which QoS, retain flag and expiry; the MQTT sink only sends it.

| topic | payload | QoS / retain |
|---|---|---|
| plots/{sac}-{sic}, tracks/{sac}-{sic} | JSON array (one sector / one SDPS cycle) | 0 / no |
| fused/{id} | one fused message, latest state; empty payload when it ends | 0 / yes, expiring |
| picture | JSON array of one association cycle's fused updates | 0 / no |
| aidc/{from}/{to} | one aidc message | 1 / no |
| alerts | one alert message | 1 / no |
| status/{gateway} | one status message; also the last will | 1 / yes |
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from gateway.messages import Fused, Status, encode, encode_batch
from gateway.normalize.normalizer import Published
from gateway.pipeline import AIDC, ALERTS, PICTURE


@dataclass(frozen=True, slots=True)
class Outbound:
    """One MQTT message to send.

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
    """Names under ``prefix`` and the rules for each kind of batch."""

    def __init__(self, prefix: str, gateway: str, fused_expiry_s: int) -> None:
        self.prefix = prefix
        self.gateway = gateway
        self.fused_expiry_s = fused_expiry_s

    def name(self, *levels: str) -> str:
        return "/".join((self.prefix, *levels))

    @property
    def status_topic(self) -> str:
        return self.name("status", self.gateway)

    def status(self, state: str, t: float, counters: Mapping[str, int | float]) -> Outbound:
        """The retained status message; with ``offline`` it is also the last will."""
        message = Status(t=t, gateway=self.gateway, state=state,  # type: ignore[arg-type]
                         counters=dict(counters))
        return Outbound(self.status_topic, encode(message), qos=1, retain=True,
                        key=self.status_topic)

    def outbound(self, batch: Published, received: float | None = None) -> Iterator[Outbound]:
        """Every MQTT message one published batch makes, in the order to send them."""
        messages = batch.messages
        if not messages:
            return
        if batch.topic == PICTURE:
            yield Outbound(self.name(PICTURE), encode_batch(messages), received=received)
            yield from self._fused(messages, received)
            return
        if batch.topic == AIDC:  # aidc/{from}/{to}
            for m in messages:
                yield Outbound(self.name(AIDC, m.from_, m.to), encode(m), qos=1)
        elif batch.topic == ALERTS:
            for m in messages:
                yield Outbound(self.name(ALERTS), encode(m), qos=1)
        else:  # plots/{sac}-{sic}, tracks/{sac}-{sic}: the normaliser named the batch
            yield Outbound(self.name(batch.topic), encode_batch(messages), received=received)

    def _fused(self, updates: Iterable[Fused], received: float | None) -> Iterator[Outbound]:
        """``fused/{id}``: the latest state, retained with an expiry, so a subscriber that
        joins late sees the picture at once and a dead gateway's tracks fade by themselves.
        An ended track's last state goes out unretained, then an empty retained payload
        clears the topic (MQTT's way to delete a retained message)."""
        for m in updates:
            topic = self.name("fused", m.id)
            if m.state == "ended":
                yield Outbound(topic, encode(m), key=topic, received=received)
                yield Outbound(topic, b"", retain=True, key=topic, received=received)
            else:
                yield Outbound(topic, encode(m), retain=True, expiry_s=self.fused_expiry_s,
                               key=topic, received=received)
