"""What a centre's service adds: its ``mqtt://`` inputs, the checks on what they bring, and
the data's clock (docs/deployment.md).

The feeds put payloads in one bounded ``Inbox``; the pipeline task takes them in order
(``take``), each checked by ``RemoteBatches`` (a skipped one is counted by reason and
logged in one line: the first ten of each reason, then every thousandth), and the good
ones go to ``Pipeline.receive_batch``.  The service's clock is then ``DataClock``'s.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from gateway.config import Config, MqttConfig
from gateway.config.values import MqttInputUrl
from gateway.normalize.normalizer import SourceBatch
from gateway.remote import OUTCOMES, DataClock, RemoteBatches
from gateway.service.feeds import MqttFeed
from gateway.service.inputs import Inbox
from gateway.service.metrics import Snapshot

log = logging.getLogger(__name__)

REMOTE_CHUNK = 64  # inbound batches handled before other work gets a turn


class RemoteInputs:
    """Every ``mqtt://`` input of one gateway (none: ``bool(self)`` is False)."""

    def __init__(self, config: Config, mqtt: MqttConfig | None,
                 wall: Callable[[], float] = time.time) -> None:
        self.wall = wall
        self.inbox = Inbox(config.service.inbound_queue)
        self.batches = RemoteBatches([(r.sac, r.sic) for r in config.radars],
                                     [(s.sac, s.sic) for s in config.sdps],
                                     config.normalize.max_early_s)
        self.clock = DataClock()
        urls = [i.where for i in config.inputs if i.is_mqtt]
        self.feeds = [MqttFeed(url, self.inbox, mqtt, client_id=(
            f"asterix-gateway-{config.gateway.id}-in{n}"))
            for n, url in enumerate(urls) if isinstance(url, MqttInputUrl)]

    def __bool__(self) -> bool:
        return bool(self.feeds)

    def now(self) -> float:
        """The service's clock: the data's time (the wall clock before any data, when
        the pipeline does nothing with it)."""
        wall = self.wall()
        now = self.clock.now(wall)
        return wall if now is None else now

    def take(self) -> list[SourceBatch]:
        """A few inbound payloads, checked; the batches to associate."""
        out = []
        counters = self.batches.counters
        wall = self.wall()
        for topic, payload in self.inbox.take(REMOTE_CHUNK):
            batch = self.batches.take(topic, payload, wall)
            if batch is None:
                reason = (self.batches.last_error or "").partition(" ")[0]
                n = counters[reason]
                if n <= 10 or n % 1000 == 0:
                    log.warning("remote batch skipped (%d %s so far): %s", n, reason,
                                self.batches.last_error)
                continue
            self.clock.saw(max(m.t for m in batch.messages), wall)
            out.append(batch)
        return out

    def failures(self) -> dict[str, str]:
        """An input that is not connected fails /health, as the broker sink does."""
        return {f"input {f.url}": f.problem or "not connected yet"
                for f in self.feeds if not f.connected}

    def status_counters(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for f in self.feeds:
            out.update({f"remote-{k}": v for k, v in f.counters.items()})
        out.update({f"remote-batches-{k}": v for k, v in self.batches.counters.items()})
        out.update({f"remote-inbox-{k}": v for k, v in self.inbox.counters.items()})
        return dict(out)

    def add_metrics(self, snap: Snapshot, health: dict[str, object]) -> None:
        snap.counters["gateway_remote_batches"] = (
            "Inbound plot/track batches (mqtt:// inputs) by outcome: " + "; ".join(
                f"{k}: {v}" for k, v in OUTCOMES.items())
            + "; dropped-full: the inbound queue was full", "outcome",
            {**{k: self.batches.counters[k] for k in OUTCOMES},
             "dropped-full": self.inbox.counters["dropped-full"]})
        snap.counters["gateway_remote_messages"] = (
            "MQTT messages of each mqtt:// input by outcome: received, skipped-retained, "
            "dropped-oversize, not-taken", ("input", "outcome"),
            {(str(f.url), k): f.counters[k] for f in self.feeds
             for k in ("received", "skipped-retained", "dropped-oversize", "not-taken")})
        snap.counters["gateway_remote_connections"] = (
            "Connection events of each mqtt:// input", ("input", "event"),
            {(str(f.url), k): f.counters[k] for f in self.feeds
             for k in ("connects", "disconnects", "connect-failures", "subscribe-refused")})
        snap.gauges["gateway_remote_connected"] = (
            "1 while the mqtt:// input is connected and subscribed", "input",
            {str(f.url): float(f.connected) for f in self.feeds})
        snap.gauges["gateway_remote_queue"] = (
            "Inbound batches waiting for the pipeline", "", {"": float(len(self.inbox))})
        wall = self.wall()
        health["remote_inputs"] = {
            str(f.url): {"connected": f.connected,
                         "last_message_s": None if f.last is None else round(wall - f.last, 3)}
            for f in self.feeds}
        skipped = {k: v for k, v in self.batches.counters.items() if k != "accepted"}
        health["remote_batches"] = {"accepted": self.batches.counters["accepted"],
                                    "skipped": skipped,
                                    "last_skipped": self.batches.last_error}
        health["data_clock"] = self.clock.now(wall)
