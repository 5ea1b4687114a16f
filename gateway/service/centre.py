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

from gateway.config import Config, MqttConfig, MqttUrl
from gateway.config.values import MqttInputUrl
from gateway.normalize.normalizer import SourceBatch
from gateway.remote import OUTCOMES, DataClock, RemoteBatches, Reorder
from gateway.service.feeds import MqttFeed
from gateway.service.inputs import Inbox
from gateway.service.metrics import Snapshot

log = logging.getLogger(__name__)

REMOTE_CHUNK = 64  # inbound batches handled before other work gets a turn


class RemoteInputs:
    """Every ``mqtt://`` input of one gateway (none: ``bool(self)`` is False)."""

    def __init__(self, config: Config, mqtt: MqttConfig | None, *, live: bool = True,
                 wall: Callable[[], float] = time.time) -> None:
        """``live``: False for replay, which takes its captures, not the inputs."""
        self.wall = wall
        self.inbox = Inbox(config.service.inbound_queue)
        self.batches = RemoteBatches([(r.sac, r.sic) for r in config.radars],
                                     [(s.sac, s.sic) for s in config.sdps],
                                     config.normalize.max_early_s)
        self.clock = DataClock()
        self.reorder = Reorder(config.service.remote_hold_s, config.service.inbound_queue)
        self.worst_lag_s = 0.0  # the most a batch arrived behind the newest data
        # One connection per broker (its nodes: the configuration has inputs that share a
        # node name the same list)
        by_broker: dict[tuple[MqttUrl, ...], list[MqttInputUrl]] = {}
        for i in config.inputs if live else ():
            url = i.where
            if isinstance(url, MqttInputUrl):
                by_broker.setdefault(url.brokers, []).append(url)
        self.feeds = [MqttFeed(urls, self.inbox, mqtt, client_id=(
            f"asterix-gateway-{config.gateway.id}-in{n}"))
            for n, urls in enumerate(by_broker.values())]

    def __bool__(self) -> bool:
        return bool(self.feeds)

    def now(self) -> float:
        """The service's clock: the data's time, less the reorder hold (the picture is
        of what has been released); the wall clock before any data, when the pipeline
        does nothing with it."""
        wall = self.wall()
        now = self.clock.now(wall)
        return wall if now is None else now - self.reorder.hold_s

    def due(self) -> list[SourceBatch]:
        """The held batches the data clock has gone far enough past, in time order."""
        return self.reorder.due(self.clock.now(self.wall()))

    def flush(self) -> list[SourceBatch]:
        return self.reorder.flush()

    def take(self) -> list[SourceBatch]:
        """A few inbound payloads, checked and held for ordering; the batches to
        associate now."""
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
            t = max(m.t for m in batch.messages)
            latest = self.clock.latest
            if latest is not None and t < latest - self.reorder.hold_s:
                # behind another site by more than the hold: associated out of order
                self.reorder.counters["arrived-late"] += 1
                self.worst_lag_s = max(self.worst_lag_s, latest - t)
            self.clock.saw(t, wall)
            out.extend(self.reorder.put(batch, t))
        return out + self.reorder.due(self.clock.now(wall))

    def failures(self) -> dict[str, str]:
        """An input that is not connected fails /health, as the broker sink does."""
        return {f"input {f}": f.problem or "not connected yet"
                for f in self.feeds if not f.connected}

    def status_counters(self) -> dict[str, int | float]:
        out: Counter[str] = Counter()
        for f in self.feeds:
            out.update({f"remote-{k}": v for k, v in f.counters.items()})
        out.update({f"remote-batches-{k}": v for k, v in self.batches.counters.items()})
        out.update({f"remote-inbox-{k}": v for k, v in self.inbox.counters.items()})
        out.update({f"remote-reorder-{k}": v for k, v in self.reorder.counters.items()})
        return {**out, "remote-worst-lag-s": round(self.worst_lag_s, 3)} if self else {}

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
            {(str(f), k): f.counters[k] for f in self.feeds
             for k in ("received", "skipped-retained", "dropped-oversize", "not-taken")})
        snap.counters["gateway_remote_connections"] = (
            "Connection events of each mqtt:// input (failovers: a connection made to a node "
            "other than the last one)", ("input", "event"),
            {(str(f), k): f.counters[k] for f in self.feeds
             for k in ("connects", "disconnects", "connect-failures", "subscribe-refused",
                       "failovers")})
        snap.gauges["gateway_remote_connected"] = (
            "1 while the mqtt:// input is connected and subscribed", "input",
            {str(f): float(f.connected) for f in self.feeds})
        snap.gauges["gateway_remote_node"] = (
            "The node each mqtt:// input is on (1 while connected to it; 0: being tried)",
            ("input", "node"), {(str(f), f.where): float(f.connected) for f in self.feeds})
        snap.gauges["gateway_remote_queue"] = (
            "Inbound batches waiting for the pipeline", "", {"": float(len(self.inbox))})
        snap.gauges["gateway_remote_held"] = (
            "Inbound batches held to be put in time order ([service] remote_hold_s)", "",
            {"": float(len(self.reorder))})
        snap.counters["gateway_remote_arrived_late"] = (
            "Batches that arrived more than [service] remote_hold_s (of the data's time) "
            "behind the newest batch of any site: associated out of the data's order",
            "", {"": self.reorder.counters["arrived-late"]})
        snap.gauges["gateway_remote_worst_lag_seconds"] = (
            "The most a batch has arrived behind the newest of any site, data seconds",
            "", {"": self.worst_lag_s})
        snap.counters["gateway_remote_released_early"] = (
            "Batches released before their hold because [service] inbound_queue were held",
            "", {"": self.reorder.counters["released-early"]})
        wall = self.wall()
        health["remote_inputs"] = {
            str(f): {"connected": f.connected, "node": f.where,
                     "failovers": f.counters["failovers"],
                     "last_message_s": None if f.last is None else round(wall - f.last, 3)}
            for f in self.feeds}
        skipped = {k: v for k, v in self.batches.counters.items() if k != "accepted"}
        health["remote_batches"] = {"accepted": self.batches.counters["accepted"],
                                    "skipped": skipped,
                                    "last_skipped": self.batches.last_error}
        health["data_clock"] = self.clock.now(wall)
