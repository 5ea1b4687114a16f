"""The service: inputs -> pipeline -> sinks, with the clock, status, metrics and shutdown.

One asyncio task drains the intake into the sans-IO pipeline and hands what it publishes
to the sinks: the JSON-lines file (written at once, so it holds exactly what was
published) and the outbox, which the MQTT sink drains concurrently.  When no datagram
has come for ``idle_tick_s`` of the clock, the pipeline is ticked so that tracks coast
and end on time.  SIGTERM or Ctrl-C (``stopping``): inputs stop, what was received is
decoded and flushed, the outbox drains (up to a deadline), ``offline`` is published.

The handoff's store (``commands.service.handoff_store``) is opened by the command around
the service and closed when it ends, however it ends; the service only hands it to the
pipeline.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO

from gateway.config import Config, MqttConfig
from gateway.files import write_messages
from gateway.ingest import kernel_drops
from gateway.pipeline import Pipeline
from gateway.publish.batch import Published
from gateway.publish.mqtt import MqttSink
from gateway.publish.outbox import Outbox
from gateway.publish.topics import Outbound, Topics
from gateway.service.inputs import Intake, MulticastInput, Pacer
from gateway.service.metrics import Metrics, Snapshot
from gateway.store import HandoffStore

log = logging.getLogger(__name__)

CHUNK = 4096  # datagrams per pipeline call at most
BACKPRESSURE = 0.5  # lossless sources wait while the outbox is fuller than this


class Service:
    """The gateway around one Pipeline; ``lossless`` for replay (waits, never drops)."""

    def __init__(self, config: Config, *, mqtt: MqttConfig | None = None,
                 out: IO[bytes] | None = None, pacer: Pacer | None = None,
                 serve_metrics: bool = False,
                 on_publish: Callable[[list[Published]], None] | None = None,
                 store: HandoffStore | None = None) -> None:
        self.config = config
        self.pipeline = Pipeline(config, store)
        if self.pipeline.restored:
            log.info("handoff: %d dialogues restored from %s", self.pipeline.restored,
                     config.handoff.database if config.handoff else "the store")
        self.intake = Intake(config.service.input_queue)
        # Live, the pipeline's clock is the wall clock; replayed, the capture's own time.
        self.pacer = pacer
        self.clock: Callable[[], float] = pacer.now if pacer is not None else time.time
        self.lossless = pacer is not None
        self.serve_metrics = serve_metrics and config.metrics.enabled
        self.out = out
        self.on_publish = on_publish
        self.inputs: list[MulticastInput] = []
        self.counters: Counter[str] = Counter()
        self.started = time.time()
        self._kernel_drops_at_start = kernel_drops()
        self.metrics = Metrics(self.snapshot)
        self.topics = Topics.of(config.gateway.id, mqtt)
        self.outbox: Outbox | None = None
        self.sink: MqttSink | None = None
        if mqtt is not None:
            self.outbox = Outbox(mqtt.outbox, mqtt.outbox_reliable)
            handoff = config.handoff
            subscriptions = tuple(self.topics.aidc(peer, unit)
                                  for peer in handoff.peers for unit in handoff.units
                                  ) if handoff is not None else ()
            self.sink = MqttSink(mqtt, self.outbox,
                                 client_id=f"asterix-gateway-{config.gateway.id}",
                                 status=self.status, latency=self.metrics.latency.observe,
                                 subscriptions=subscriptions, on_message=self.inbound)
        self.metrics_address: tuple[str, int] | None = None
        self.stopping = asyncio.Event()
        self.sources_done = asyncio.Event()

    # -- inputs -----------------------------------------------------------------------------

    def listen(self, loop: asyncio.AbstractEventLoop) -> None:
        """Open every configured ``[[input]]``; an unusable one fails the start-up."""
        for spec in self.config.inputs:
            feed = MulticastInput(spec.endpoint, self.intake, self.config.service.rcvbuf_bytes)
            try:
                feed.start(loop)
            except OSError as exc:
                self.close_inputs()
                raise OSError(f"{spec.url}: {exc.strerror or exc}") from None
            self.inputs.append(feed)

    def close_inputs(self) -> None:
        for feed in self.inputs:
            feed.stop()

    # -- the pipeline task -------------------------------------------------------------------

    async def process(self) -> None:
        """Until the sources are done (or stopping) and everything received is through."""
        idle = self.config.service.idle_tick_s
        if self.pacer is not None and self.pacer.speed:
            idle /= self.pacer.speed  # idle is measured in the clock's time
        while True:
            if self.stopping.is_set():
                self.close_inputs()  # stop reading; what was received still goes through
            if len(self.intake):
                chunk = self.intake.take(CHUNK)
                self.counters["datagrams"] += len(chunk.payloads)
                self.counters["bytes"] += sum(map(len, chunk.payloads))
                published = self.pipeline.feed(chunk.payloads, chunk.t_capture, self.clock())
                self._publish(published, chunk.received)
                if self.lossless and self.outbox is not None:
                    while (self.outbox.fill() > BACKPRESSURE and not self.stopping.is_set()):
                        await asyncio.sleep(0.002)
                await asyncio.sleep(0)
                continue
            if self.sources_done.is_set() or self.stopping.is_set():
                break
            try:
                await asyncio.wait_for(self._next_arrival(), idle)
            except TimeoutError:
                self._publish(self.pipeline.tick(self.clock()), None)
        self._publish(self.pipeline.flush(), None)

    async def _next_arrival(self) -> None:
        waits = [asyncio.ensure_future(e.wait())
                 for e in (self.intake.arrived, self.sources_done, self.stopping)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def _publish(self, published: list[Published], received: Sequence[float] | None) -> None:
        if not published:
            return
        self.counters["batches"] += len(published)
        if self.out is not None:
            self.counters["messages-written"] += write_messages(self.out, published)
        if self.on_publish is not None:
            self.on_publish(published)
        if self.outbox is not None and self.sink is not None:
            for batch in published:
                at = received[batch.at] if received and batch.at < len(received) else None
                self.outbox.put(self.topics.outbound(batch, at))
            self.sink.notify()

    def inbound(self, topic: str, payload: bytes) -> None:
        """A peer's AIDC message from the broker: through the handoff, answers out."""
        self._publish(self.pipeline.receive_aidc(payload, self.clock(), topic=topic), None)

    # -- status and metrics ------------------------------------------------------------------

    def status_counters(self) -> dict[str, int | float]:
        counts: Counter[str] = Counter()
        for feed in self.inputs:  # datagrams and bytes per input are in the metrics
            counts["socket-errors"] += feed.counters["socket-errors"]
        counts.update(self.intake.counters)
        counts.update(self.pipeline.counters())
        counts.update(self.counters)
        if self.outbox is not None and self.sink is not None:
            counts.update({f"mqtt-{k}": v for k, v in self.outbox.counters.items()})
            counts.update({f"mqtt-{k}": v for k, v in self.sink.counters.items()})
            counts["mqtt-outbox"] = len(self.outbox)
        drops = self.kernel_drops()
        if drops is not None:
            counts["kernel-drops"] = drops
        out: dict[str, int | float] = dict(sorted(counts.items()))
        out["uptime-s"] = round(time.time() - self.started, 1)
        return out

    def kernel_drops(self) -> int | None:
        """RcvbufErrors since start (host-wide: Linux counts them for all UDP sockets)."""
        now = kernel_drops()
        if now is None or self._kernel_drops_at_start is None:
            return None
        return now - self._kernel_drops_at_start

    def status(self, state: str) -> Outbound:
        return self.topics.status(state, time.time(), self.status_counters()
                                  if state == "online" else {})

    def snapshot(self) -> Snapshot:
        snap = Snapshot()
        per_input = {str(f.url): f.counters for f in self.inputs}
        for what, doc in (("datagrams", "UDP datagrams received"),
                          ("bytes", "UDP payload bytes received")):
            snap.counters[f"gateway_input_{what}"] = (
                doc, "input", {url: c[what] for url, c in per_input.items()})
        snap.counters["gateway_input_dropped"] = (
            "Datagrams dropped because the intake queue was full", "",
            {"": self.intake.counters["input-dropped"]})
        drops = self.kernel_drops()
        if drops is not None:
            snap.counters["gateway_kernel_receive_buffer_errors"] = (
                "UDP datagrams the kernel dropped for a full receive buffer since start "
                "(RcvbufErrors, all sockets of the host)", "", {"": drops})
        snap.counters["gateway_pipeline_events"] = (
            "Pipeline counts by kind: records, messages, decode problems, track lifecycle",
            "kind", dict(self.pipeline.counters()))
        snap.gauges["gateway_intake_queue"] = ("Datagrams waiting for the pipeline", "",
                                               {"": len(self.intake)})
        health: dict[str, object] = {"gateway": self.config.gateway.id,
                                     "uptime_s": round(time.time() - self.started, 1)}
        now = time.time()
        health["inputs"] = {str(f.url): (None if f.last is None else round(now - f.last, 3))
                            for f in self.inputs}
        if self.outbox is not None and self.sink is not None:
            outcomes = ("published", "dropped-refused")  # the rest are connection events
            snap.counters["gateway_mqtt_messages"] = (
                "MQTT messages by outcome: published, queued, coalesced, dropped-* "
                "(dropped-refused: the broker's PUBACK refused it)", "outcome",
                {**self.outbox.counters, **{k: self.sink.counters[k] for k in outcomes}})
            snap.counters["gateway_mqtt_connections"] = (
                "MQTT connection events", "event",
                {k: v for k, v in self.sink.counters.items() if k not in outcomes})
            snap.counters["gateway_mqtt_puback"] = (
                "QoS 1 messages by topic kind and the broker's PUBACK reason code (MQTT 5: "
                "0 success, 16 no matching subscribers, 135 not authorized)", ("kind", "code"),
                {(kind, str(code)): n for (kind, code), n in self.sink.pubacks.items()})
            snap.gauges["gateway_mqtt_outbox"] = ("Messages waiting for the broker", "",
                                                  {"": len(self.outbox)})
            snap.gauges["gateway_mqtt_connected"] = ("1 while connected to the broker", "",
                                                     {"": float(self.sink.connected)})
            health["mqtt"] = "connected" if self.sink.connected else "disconnected"
            snap.healthy = self.sink.connected
        health["status"] = "ok" if snap.healthy else "degraded"
        snap.health = health
        return snap

    async def report_status(self) -> None:
        """The retained ``status`` message every ``status_interval_s`` while online."""
        if self.sink is None or self.outbox is None:
            return
        interval = self.sink.config.status_interval_s
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), interval)
            except TimeoutError:
                if self.sink.connected:
                    self.outbox.put([self.status("online")])
                    self.sink.notify()

    # -- the whole run -----------------------------------------------------------------------

    async def run(self, sources: Sequence[asyncio.Task[None]] = ()) -> None:
        """Run until the sources end (replay) or ``stopping`` (live); then drain and return.

        ``sources`` are tasks feeding the intake (replay); live inputs are ``listen``ed.
        """
        metrics = self.config.metrics
        if self.serve_metrics:
            try:
                self.metrics_address = await self.metrics.start(metrics.host, metrics.port)
            except OSError as exc:
                self.close_inputs()
                raise OSError(f"[metrics] {metrics.host}:{metrics.port}: "
                              f"{exc.strerror or exc}") from None
        tasks: list[asyncio.Task[None]] = []
        sink_stop = asyncio.Event()
        if self.sink is not None:
            tasks.append(asyncio.create_task(self.sink.run(sink_stop), name="mqtt"))
            tasks.append(asyncio.create_task(self.report_status(), name="status"))

        async def sources_finished() -> None:
            try:
                await asyncio.gather(*sources)
            finally:
                self.sources_done.set()

        watcher = asyncio.create_task(sources_finished(), name="sources") if sources else None
        try:
            await self.process()
        finally:
            self.close_inputs()
            for s in sources:
                s.cancel()
            self.stopping.set()  # status reporter and sources end
            sink_stop.set()
            for task, result in zip(tasks, await asyncio.gather(*tasks, return_exceptions=True),
                                    strict=True):
                if isinstance(result, Exception):
                    log.error("%s failed: %r", task.get_name(), result)
            await self.metrics.stop()
        if watcher is not None:
            await asyncio.gather(watcher, return_exceptions=True)
            if not watcher.cancelled() and watcher.exception() is not None:
                raise watcher.exception()  # type: ignore[misc]


@contextmanager
def stopped_by_signals(stopping: asyncio.Event) -> Iterator[None]:
    """Within: SIGTERM and SIGINT (Ctrl-C) set ``stopping`` for a graceful stop (what was
    received still goes through) instead of killing the process."""
    loop = asyncio.get_running_loop()

    def stop(sig: int) -> None:
        if not stopping.is_set():
            log.info("signal %d: stopping; flushing what was received", sig)
            stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop, sig)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def serve(service: Service,
          start: Callable[[asyncio.AbstractEventLoop, Service], Sequence[asyncio.Task[None]]]
          ) -> None:
    """Run the service in a fresh event loop until its sources end or a signal stops it.

    ``start`` opens the inputs and returns the source tasks (none for live feeds).
    """

    async def main() -> None:
        with stopped_by_signals(service.stopping):
            await service.run(start(asyncio.get_running_loop(), service))

    asyncio.run(main())
