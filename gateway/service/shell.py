"""The service: inputs -> pipeline -> sinks, with the clock, status, metrics and shutdown.

One asyncio task drains the intake into the sans-IO pipeline and hands what it publishes
to the sinks: the JSON-lines file (written at once, so it holds exactly what was
published) and the outbox, which the MQTT sink drains concurrently.  When no datagram
has come for ``idle_tick_s`` of the clock, the pipeline is ticked so that tracks coast
and end on time.  SIGTERM or Ctrl-C (``stopping``): inputs stop, what was received is
decoded and flushed, the outbox drains (up to a deadline), ``offline`` is published.

Inbound AIDC messages wait in a bounded ``Inbox`` (the MQTT connection puts, the pipeline
task takes, in its own order); one whose handling raises is logged with its topic and
serial, counted, and the next is handled.  Every long-lived task runs under the
``Supervisor``: a failure is never silent (log, /health 503 with the reason, metrics) and
``[service] on_task_failure`` restarts the task or stops the gateway (``fatal``).

Replay (``lossless``) never drops: it waits for its broker, up to ``broker_wait_s`` without
one; then it stops, and ``undelivered()`` says what did not get through.

The handoff's store (``commands.service.handoff_store``) is opened by the command around
the service and closed when it ends, however it ends; the service only hands it to the
pipeline.

A redundant pair (``[store] url``, ``store.postgres``): both processes run the pipeline on
the same inputs; only the one holding the lease (active) publishes, connects to the broker
and writes the store.  The standby computes and withholds; when it takes the lease it
restores the handoff's dialogues from the store and connects (same client id: the broker
drops a stale leader's session).  An active process that finds its lease lost (lapsed
while frozen, or taken) exits at once, status 4, publishing nothing more: fail-stop, so
that it can never act on a picture it no longer owns; its supervisor starts it again as
the standby.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import IO, TYPE_CHECKING

import numpy as np

from gateway.associate.registration import Estimate
from gateway.associate.takeover import states
from gateway.config import Config, MqttConfig
from gateway.files import write_messages
from gateway.ingest import kernel_drops
from gateway.pipeline import Pipeline
from gateway.publish.batch import Published
from gateway.publish.mqtt import MqttSink
from gateway.publish.outbox import Outbox
from gateway.publish.topics import Outbound, Topics, superseded_states
from gateway.service.centre import RemoteInputs
from gateway.service.inputs import Inbox, Intake, MulticastInput, Pacer
from gateway.service.metrics import Metrics, Snapshot
from gateway.service.supervisor import Supervisor, one_line
from gateway.store import HandoffStore, StoreError
from gateway.store.postgres import PostgresStore
from gateway.web.picture import AirPicture

if TYPE_CHECKING:
    from gateway.web.server import WebServer

log = logging.getLogger(__name__)

# Datagrams per pipeline call at most.  A call's working set (decoded columns, messages,
# their JSON) grows with it; 4096 held ~100 MB more heap than the file sink's calls when a
# waiting replay always found a full chunk (one-hour border replay into Mosquitto).
CHUNK = 1024
INBOUND_CHUNK = 64  # inbound messages handled before datagrams get a turn
BACKPRESSURE = 0.5  # lossless sources wait while the outbox is fuller than this
# Replay (lossless) waits while more than this many QoS 0 messages (stream and states) wait
# for the broker: one of the sink's batches (publish.mqtt.BATCH), enough to keep it busy.
# Waiting only at BACKPRESSURE kept 10,000 messages queued for the whole replay, ~60 MB of
# payloads growing with the traffic; 2,048 still let the broker path's RSS climb 8.9 %
# between minutes 10 and 60 of a one-hour replay (issue 16).
REPLAY_BACKLOG = 256
BROKER_POLL_S = 0.05  # a waiting replay checks the broker is still there this often
# After a takeover, a restored dialogue's track the new active process does not track ends
# its dialogue (MAC) unless it comes within this much data time (``Handoff.expect``).
TRACK_AWAITED_S = 60.0


class Service:
    """The gateway around one Pipeline; ``lossless`` for replay (waits, never drops)."""

    def __init__(self, config: Config, *, mqtt: MqttConfig | None = None,
                 out: IO[bytes] | None = None, pacer: Pacer | None = None,
                 serve_metrics: bool = False,
                 on_publish: Callable[[list[Published]], None] | None = None,
                 store: HandoffStore | None = None,
                 broker_wait_s: float | None = None, mode: str | None = None) -> None:
        """``broker_wait_s``: how long a lossless service (replay) waits for a broker that
        is gone, and for the outbox to drain at the end (default
        ``[service] replay_broker_wait_s``); live, the stop waits ``[mqtt]
        drain_timeout_s``.  ``mode``: what the web map says it shows (live, replay,
        demo; default live, or replay with a pacer)."""
        self.config = config
        # a redundant pair: the standby's handoff writes nothing; restored on takeover
        self.shared = store if isinstance(store, PostgresStore) else None
        self.was_active = False
        self.takeover_ids: dict[str, object] | None = None  # what the takeover did to ids
        self.pipeline = Pipeline(config, store if self.shared is None else None,
                                 keep_tracks=self.shared is not None)
        if self.shared is not None:  # flights the active one has seen keep their ids
            try:
                self.pipeline.tracker.restore_identities(self.shared.identities())
            except ValueError as exc:
                raise StoreError(f"the fused ids' state cannot be read: {exc}") from None
        if self.pipeline.restored:
            log.info("handoff: %d dialogues restored from %s", self.pipeline.restored,
                     config.handoff.database if config.handoff else "the store")
        self.intake = Intake(config.service.input_queue)
        self.inbox = Inbox(config.service.inbound_queue)
        self.last_inbound_error: str | None = None
        # Live, the pipeline's clock is the wall clock; replayed, the capture's own time.
        self.pacer = pacer
        self.clock: Callable[[], float] = pacer.now if pacer is not None else time.time
        # mqtt:// inputs (a centre): the clock is the data's (service/centre.py)
        self.remote = RemoteInputs(config, mqtt if mqtt is not None else config.mqtt,
                                   live=pacer is None)
        if self.remote:
            self.clock = self.remote.now
        self.lossless = pacer is not None
        self.broker_wait_s = (broker_wait_s if broker_wait_s is not None
                              else config.service.replay_broker_wait_s)
        self.gave_up: str | None = None  # why a lossless service stopped waiting
        self.serve_metrics = serve_metrics and config.metrics.enabled
        self.out = out
        self.on_publish = on_publish
        self.inputs: list[MulticastInput] = []
        self.counters: Counter[str] = Counter()
        self.started = time.time()
        self._kernel_drops_at_start = kernel_drops()
        self.metrics = Metrics(self.snapshot)
        self.topics = Topics.of(config.gateway.id, mqtt)
        self.plan_topic = config.flightplans.topic if config.flightplans is not None else None
        self.outbox: Outbox | None = None
        self.sink: MqttSink | None = None
        if mqtt is not None:
            self.outbox = Outbox(mqtt.outbox, mqtt.outbox_reliable)
            handoff = config.handoff
            subscriptions = tuple(self.topics.aidc(peer, unit)
                                  for peer in handoff.peers for unit in handoff.units
                                  ) if handoff is not None else ()
            if self.plan_topic is not None:  # [flightplans] topic: FPL, CHG, CNL, DLA
                subscriptions += (self.plan_topic,)
            self.sink = MqttSink(mqtt, self.outbox,
                                 client_id=f"asterix-gateway-{config.gateway.id}",
                                 status=self.status, latency=self.metrics.latency.observe,
                                 drain_timeout_s=(self.broker_wait_s if self.lossless
                                                  else mqtt.drain_timeout_s),
                                 subscriptions=subscriptions, on_message=self.inbox.offer,
                                 gate=self.is_active if self.shared is not None else None)
        self.metrics_address: tuple[str, int] | None = None
        self.stopping = asyncio.Event()
        self.sources_done = asyncio.Event()
        self.supervisor = Supervisor(config.service.on_task_failure,
                                     config.service.task_restart_limit, self.stopping.set)
        self._failures_logged: set[str] = set()
        self.picture: AirPicture | None = None  # the web map's, with [web] enabled
        self.web: WebServer | None = None
        self.web_error: str | None = None  # the picture's last failure
        if config.web.enabled:
            self._make_web(mode or ("replay" if self.lossless else "live"))

    # -- the web map -------------------------------------------------------------------------

    def _make_web(self, mode: str) -> None:
        """The map's picture (fed in ``_publish``) and server (started in ``start_web``);
        aiohttp is only imported when the map is on."""
        from gateway.web.picture import Limits
        from gateway.web.server import WebServer, layout

        w = self.config.web
        self.picture = AirPicture(Limits(
            max_tracks=w.max_tracks, max_plots=w.max_plots, plots_per_event=w.plots_per_event,
            aidc_log=w.aidc_log, alert_log=w.alert_log))
        self.web = WebServer(
            self.picture, layout(self.config, mode, w.update_s), update_s=w.update_s,
            client_queue=w.client_queue, max_clients=w.max_clients,
            speed=self.pacer.speed if self.pacer is not None else None,
            clock=self.clock, inputs=self._input_ages)

    def _input_ages(self) -> dict[str, float | None]:
        now = time.time()
        return {str(f.url): (None if f.last is None else round(now - f.last, 1))
                for f in self.inputs}

    async def start_web(self, *, any_port_if_busy: bool = False) -> str | None:
        """Listen for browsers (once; ``run`` calls it); the URL goes to stderr.  A port
        that cannot be had is an OSError naming [web]."""
        web, w = self.web, self.config.web
        if web is None or web.url is not None:
            return web.url if web is not None else None
        try:
            url = await web.start(w.host, w.port, any_port_if_busy=any_port_if_busy)
        except OSError as exc:
            raise OSError(f"[web] {w.host}:{w.port}: {exc.strerror or exc}") from None
        print(f"asterix-gateway: web map at {url}", file=sys.stderr, flush=True)
        return url

    def _feed_picture(self, published: list[Published]) -> None:
        """The map never stops the gateway: a failure of its picture is logged (the first
        ten, then every thousandth), counted and listed on /health while it lasts."""
        if self.picture is None:
            return
        try:
            self.picture.take(published)
        except Exception as exc:  # noqa: BLE001 - the map's bug must not stop the pipeline
            self.counters["web-picture-errors"] += 1
            n = self.counters["web-picture-errors"]
            if n <= 10 or n % 1000 == 0:
                log.error("web: the picture failed on a batch (%d so far): %s", n,
                          one_line(exc), exc_info=n == 1)
            self.web_error = one_line(exc)
        else:
            self.web_error = None

    # -- inputs -----------------------------------------------------------------------------

    def listen(self, loop: asyncio.AbstractEventLoop) -> None:
        """Open every configured ``[[input]]``; an unusable one fails the start-up."""
        for spec in self.config.inputs:
            if spec.is_mqtt:  # started with the service's tasks (run)
                continue
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
            if len(self.inbox):
                self._handle_inbound()
                await asyncio.sleep(0)
            if len(self.remote.inbox):
                for batch in self.remote.take():
                    self._publish(self.pipeline.receive_batch(batch), None)
                self._note_failures()
                await asyncio.sleep(0)
                continue
            if len(self.intake):
                chunk = self.intake.take(CHUNK)
                self.counters["datagrams"] += len(chunk.payloads)
                self.counters["bytes"] += sum(map(len, chunk.payloads))
                published = self.pipeline.feed(chunk.payloads, chunk.t_capture, self.clock())
                self._publish(published, chunk.received)
                self._note_failures()
                if self.lossless:
                    await self._wait_for_broker()
                await asyncio.sleep(0)
                continue
            if len(self.inbox):
                continue
            if self.sources_done.is_set() or self.stopping.is_set():
                break
            try:
                await asyncio.wait_for(self._next_arrival(), idle)
            except TimeoutError:
                for batch in self.remote.due():  # held for ordering, now due
                    self._publish(self.pipeline.receive_batch(batch), None)
                self._publish(self.pipeline.tick(self.clock()), None)
                self._note_failures()
        for batch in self.remote.flush():
            self._publish(self.pipeline.receive_batch(batch), None)
        self._publish(self.pipeline.flush(), None)

    def _handle_inbound(self) -> None:
        """A few inbound messages, each on its own: one that raises is logged with its
        topic and serial and counted, and the next is handled."""
        counters = self.inbox.counters
        for topic, payload in self.inbox.take(INBOUND_CHUNK):
            try:
                self.inbound(topic, payload)
                counters["handled"] += 1
            except Exception as exc:  # noqa: BLE001 - one message must not stop the task
                counters["handler-errors"] += 1
                n = counters["handler-errors"]
                serial = serial_of(payload)
                if n <= 10 or n % 1000 == 0:  # bounded: a flood of faults is no log flood
                    log.error("inbound AIDC on %s (serial %s) not handled (%d so far): %s",
                              topic, serial, n, one_line(exc), exc_info=n == 1)
                self.last_inbound_error = f"{topic} serial {serial}: {one_line(exc)}"
        self._note_failures()

    async def _inbound_while_draining(self, sink: asyncio.Task[None]) -> None:
        """While the outbox drains, a peer's answers are still handled (its last AOC gets
        its LAM, which the drain then sends), until the sink has drained and closes
        (``MqttSink.closing``: an answer made later could not go out)."""
        while not sink.done() and not (self.sink is not None and self.sink.closing):
            if len(self.inbox):
                self._handle_inbound()
                await asyncio.sleep(0)
                continue
            arrival = asyncio.ensure_future(self.inbox.arrived.wait())
            try:
                await asyncio.wait([sink, arrival], return_when=asyncio.FIRST_COMPLETED)
            finally:
                arrival.cancel()

    def _note_failures(self) -> None:
        """The pipeline's own failures (its store, say) are logged once each; /health
        lists them while they last."""
        failures = self.pipeline.failures
        if failures or self._failures_logged:
            for name, reason in failures.items():
                if name not in self._failures_logged:
                    log.error("pipeline: %s failed: %s", name, reason)
            self._failures_logged = set(failures)

    async def _wait_for_broker(self) -> None:
        """Replay never drops: while more than ``REPLAY_BACKLOG`` QoS 0 messages (or half
        of a lane's limit, if smaller) or half of the QoS 1 lane's limit wait, wait; with no
        broker for ``broker_wait_s``, give up (``gave_up``) and stop."""
        outbox, sink = self.outbox, self.sink
        if outbox is None or sink is None:
            return
        backlog = min(REPLAY_BACKLOG, outbox.limit * BACKPRESSURE)
        while (len(outbox) - len(outbox.reliable) > backlog
               or len(outbox.reliable) > outbox.reliable_limit * BACKPRESSURE):
            if self.stopping.is_set():
                return
            down = sink.down_since
            if down is not None and time.monotonic() - down > self.broker_wait_s:
                self.gave_up = f"no broker at {sink.where} for {self.broker_wait_s:g} s"
                log.error("replay: giving up: %s", self.gave_up)
                self.stopping.set()
                return
            # Woken as soon as the sink has sent a chunk: a 2 ms sleep here left the
            # replay idle for most of each wait once the sink had drained (issue 16).  The
            # timeout keeps the checks above going while nothing is sent.
            sink.progress.clear()
            with suppress(TimeoutError):
                async with asyncio.timeout(BROKER_POLL_S):
                    await sink.progress.wait()

    async def _next_arrival(self) -> None:
        waits = [asyncio.ensure_future(e.wait())
                 for e in (self.intake.arrived, self.inbox.arrived, self.sources_done,
                           self.stopping, self.remote.inbox.arrived)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def is_active(self) -> bool:
        """Not one of a redundant pair, or the one that holds the lease and has taken over
        (its handoff restored from the store: until then what it made is the standby's)."""
        return self.shared is None or (self.was_active and self.shared.active())

    def _publish(self, published: list[Published], received: Sequence[float] | None) -> None:
        if not published:
            return
        if not self.is_active():
            self.counters["standby-withheld"] += len(published)  # the active one publishes
            self._feed_picture(published)
            return
        self.counters["batches"] += len(published)
        if self.out is not None:
            self.counters["messages-written"] += write_messages(self.out, published)
        if self.on_publish is not None:
            self.on_publish(published)
        self._feed_picture(published)
        if self.outbox is not None and self.sink is not None:
            # A fused state that a later batch of this call replaces would be coalesced in
            # the outbox unsent: it is not made (``superseded_states``), only counted.
            skips, skipped = superseded_states(published)
            if skipped:
                self.outbox.counters.update(queued=skipped, coalesced=skipped)
            for batch, skip in zip(published, skips, strict=True):
                self.outbox.put(self.topics.outbound(batch, _received_at(batch, received),
                                                     skip))
            self.sink.notify()

    def inbound(self, topic: str, payload: bytes) -> None:
        """A peer's AIDC message from the broker: through the handoff, answers out; or
        flight plan messages, on file."""
        if topic == self.plan_topic:
            self.pipeline.receive_plans(payload, self.clock(), topic)
            return
        self._publish(self.pipeline.receive_aidc(payload, self._aidc_clock(), topic=topic),
                      None)

    def _aidc_clock(self) -> float:
        """The time an inbound AIDC message is handled at: the clock, or the handoff's data
        clock where that is ahead (data faster than the wall clock, as from ``simulate
        --speed 5``).  The handoff times its LAMs on the data's time: an answer stamped by a
        wall clock minutes behind was taken for long unacknowledged at the next picture and
        sent again at once."""
        now = self.clock()
        handoff = self.pipeline.handoff
        return max(now, handoff.clock) if handoff is not None else now

    # -- status and metrics ------------------------------------------------------------------

    def status_counters(self) -> dict[str, int | float]:
        counts: Counter[str] = Counter()
        for feed in self.inputs:  # datagrams and bytes per input are in the metrics
            counts["socket-errors"] += feed.counters["socket-errors"]
        counts.update(self.intake.counters)
        counts.update({f"aidc-inbound-{k}": v for k, v in self.inbox.counters.items()})
        counts.update({k.replace("/", "-"): v for k, v in self.supervisor.counters.items()})
        counts.update(self.pipeline.counters())
        counts.update(self.counters)
        counts.update(self.remote.status_counters())
        if self.outbox is not None and self.sink is not None:
            counts.update({f"mqtt-{k}": v for k, v in self.outbox.counters.items()})
            counts.update({f"mqtt-{k}": v for k, v in self.sink.counters.items()})
            counts["mqtt-outbox"] = len(self.outbox)
        drops = self.kernel_drops()
        if drops is not None:
            counts["kernel-drops"] = drops
        if self.web is not None and self.picture is not None:
            counts.update({f"web-{k}": v for k, v in self.web.counters.items()})
            counts.update({f"web-{k}": v for k, v in self.picture.counters.items()
                           if k.endswith("dropped")})
        out: dict[str, int | float] = dict(sorted(counts.items()))
        for radar, values in _registration(self.pipeline.registration()).items():
            out.update({f"registration-{radar}-{k.replace('_', '-')}": v
                        for k, v in values.items()})
        out["uptime-s"] = round(time.time() - self.started, 1)
        if self.shared is not None:
            out["lease-active"] = int(self.shared.active())
            out["lease-epoch"] = self.shared.epoch()
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
        registration = _registration(self.pipeline.registration())
        for key, doc in _REGISTRATION_GAUGES.items():
            snap.gauges[f"gateway_registration_{key}"] = (
                doc, "radar", {radar: float(v[key]) for radar, v in registration.items()})
        health: dict[str, object] = {"gateway": self.config.gateway.id,
                                     "uptime_s": round(time.time() - self.started, 1)}
        now = time.time()
        health["inputs"] = {str(f.url): (None if f.last is None else round(now - f.last, 3))
                            for f in self.inputs}
        if registration:
            health["registration"] = registration
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
            # which node of the broker (the one being tried while disconnected)
            health["mqtt_node"] = self.sink.where
            health["mqtt_failovers"] = self.sink.counters["failovers"]
            snap.gauges["gateway_mqtt_node"] = (
                "1 for the broker node connected to (one of [mqtt] urls)", "node",
                {self.sink.where: float(self.sink.connected)})
            snap.healthy = self.sink.connected
            inbound = {"received": self.sink.counters["received"],
                       "redelivered": self.sink.counters["redelivered"],
                       "skipped-retained": self.sink.counters["inbound-retained"],
                       "dropped-oversize": self.sink.counters["inbound-oversize"],
                       "not-taken": self.sink.counters["inbound-errors"],
                       "refused-at-stop": self.sink.counters["inbound-at-stop"],
                       **self.inbox.counters}
            snap.counters["gateway_aidc_inbound"] = (
                "Inbound AIDC messages by outcome: received (of them redelivered: MQTT DUP); "
                "then handled, handler-errors, "
                "dropped-full (inbound queue full), left-at-stop; skipped-retained, "
                "dropped-oversize, not-taken, refused-at-stop", "outcome", inbound)
            snap.gauges["gateway_aidc_inbound_queue"] = (
                "Inbound AIDC messages waiting for the pipeline", "", {"": len(self.inbox)})
            if self.inbox.counters["handler-errors"]:
                health["inbound_errors"] = {"count": self.inbox.counters["handler-errors"],
                                            "last": self.last_inbound_error}
        if self.web is not None and self.picture is not None:
            web = self.web.counters
            snap.counters["gateway_web_clients_dropped"] = (
                "Web map clients disconnected because they fell [web] client_queue updates "
                "behind", "", {"": web["clients-dropped"]})
            snap.counters["gateway_web_clients_refused"] = (
                "Web map event streams refused (503): [web] max_clients reached", "",
                {"": web["clients-refused"]})
            snap.counters["gateway_web_events_sent"] = (
                "Server-sent events written to web map clients", "", {"": web["events-sent"]})
            snap.counters["gateway_web_picture_dropped"] = (
                "What the web map's bounded picture let go: tracks (max_tracks), plots "
                "(max_plots), log entries, sources, gone ids", "what",
                {k: v for k, v in self.picture.counters.items() if k.endswith("dropped")})
            snap.gauges["gateway_web_clients"] = ("Web map clients connected", "",
                                                  {"": float(len(self.web.clients))})
            snap.gauges["gateway_web_tracks"] = ("Live tracks on the web map", "",
                                                 {"": float(len(self.picture.tracks))})
            health["web"] = {"url": self.web.url, "clients": len(self.web.clients),
                             "clients_dropped": web["clients-dropped"],
                             "events_sent": web["events-sent"],
                             "tracks": len(self.picture.tracks)}
        if self.remote:
            self.remote.add_metrics(snap, health)
        if self.shared is not None:
            active = self.shared.active()
            health["role"] = "active" if active else "standby"
            health["epoch"] = self.shared.epoch()
            if self.takeover_ids is not None:
                health["takeover_ids"] = self.takeover_ids
            snap.gauges["gateway_lease_active"] = (
                "1 while this process of a redundant pair holds the lease (publishes)", "",
                {"": float(active)})
            snap.gauges["gateway_lease_epoch"] = (
                "The lease's epoch this process holds or last held (0: never)", "",
                {"": float(self.shared.epoch())})
            if not active and self.sink is not None:  # not connected by design
                health["mqtt"] = "not connected (standby)"
                snap.healthy = True
        failures = self.failures()
        snap.counters["gateway_task_failures"] = (
            "Failures of the service's tasks (each logged with its traceback)", "task",
            {k.partition("/")[2]: v for k, v in self.supervisor.counters.items()
             if k.startswith("failures/")})
        snap.counters["gateway_task_restarts"] = (
            "Restarts of failed tasks ([service] on_task_failure)", "task",
            {k.partition("/")[2]: v for k, v in self.supervisor.counters.items()
             if k.startswith("restarts/")})
        snap.gauges["gateway_failing"] = (
            "1 while something listed under failures on /health is failing", "",
            {"": float(bool(failures))})
        if failures:
            health["failures"] = failures
            snap.healthy = False
        health["status"] = "ok" if snap.healthy else "failing" if failures else "degraded"
        snap.health = health
        return snap

    def failures(self) -> dict[str, str]:
        """What is failing now, by name: tasks that are down, the pipeline's own failures
        (its store), a broker that refuses us; /health is 503 while there is any."""
        out = {f"task {name}": why for name, why in self.supervisor.failures.items()}
        out.update({f"pipeline {name}": why for name, why in self.pipeline.failures.items()})
        if self.sink is not None and self.sink.problem is not None:
            out["mqtt"] = self.sink.problem
        if self.supervisor.fatal is not None:
            out["stopping"] = self.supervisor.fatal
        if self.web_error is not None:
            out["web picture"] = self.web_error
        out.update(self.remote.failures())
        return out

    def undelivered_line(self, dropped: bool = True) -> str | None:
        """``undelivered: 12 aidc, 58 alerts (QoS 1); 4711 stream`` (QoS 1 first), or None
        when the broker got everything."""
        counts = self.undelivered(dropped)
        if not counts:
            return None
        reliable = [f"{counts.pop(k)} {k}" for k in ("aidc", "alerts", "reliable-dropped")
                    if k in counts]
        rest = [f"{n} {k}" for k, n in sorted(counts.items())]
        return "undelivered: " + "; ".join(
            part for part in (", ".join(reliable) + " (QoS 1)" if reliable else "",
                              ", ".join(rest)) if part)

    def undelivered(self, dropped: bool = True) -> Counter[str]:
        """What the broker did not get, by topic kind ("aidc", "alerts", "status",
        "fused", "stream"): still in the outbox, and (``dropped``) dropped from it."""
        out: Counter[str] = Counter()
        if self.outbox is None:
            return out
        prefix = self.topics.prefix + "/"
        for m in self.outbox.reliable:
            out[m.topic.removeprefix(prefix).partition("/")[0]] += 1
        for group in self.outbox.state.values():
            for m in group:
                out[m.topic.removeprefix(prefix).partition("/")[0]] += 1
        out["stream"] += len(self.outbox.stream)
        if not dropped:
            return +out
        counters = self.outbox.counters
        out["reliable-dropped"] += counters["dropped-reliable"]
        out["fused"] += counters["dropped-state"]
        out["stream"] += counters["dropped-stream"]
        return +out

    def _start_sink(self) -> None:
        if self.sink is not None:
            sink, stop = self.sink, self._sink_stop
            self.supervisor.start("mqtt", lambda: sink.run(stop))
            self.supervisor.start("status", self.report_status)

    async def _leadership(self) -> None:
        """A redundant pair's roles: take over when the lease is ours, exit when it is no
        longer (``Service`` says why fail-stop)."""
        shared = self.shared
        assert shared is not None
        while not self.stopping.is_set():
            if self.was_active:
                lost = shared.check()
                if lost is not None:
                    log.critical("lease: %s: this process was active and steps down: exiting "
                                 "now (status 4) without publishing anything more", lost)
                    for handler in logging.getLogger().handlers:
                        handler.flush()
                    sys.stderr.flush()
                    os._exit(4)
            elif shared.active():
                self._take_over(shared)
            try:
                await asyncio.wait_for(self.stopping.wait(), 0.05)
            except TimeoutError:
                pass

    def _take_over(self, shared: PostgresStore) -> None:
        """Active: the handoff's dialogues as the store has them (the standby's own were
        never published), the broker connection, the status."""
        self.was_active = True
        pipeline = self.pipeline
        if pipeline.handoff is not None:
            from gateway.handoff.build import handoff_from_config

            engine = handoff_from_config(self.config)
            assert engine is not None
            restored = shared.restore(engine)
            self._take_ids(shared)
            tracker = pipeline.tracker
            if restored and np.isfinite(tracker.now):
                engine.show(tracker.picture(), tracker.now)
                awaited = engine.expect({s.id for s in tracker.live_states()}, tracker.now,
                                        TRACK_AWAITED_S)
                if awaited:
                    log.warning("lease: takeover: %d tracks of open dialogues are not tracked "
                                "here: their dialogues end (MAC) unless they come within "
                                "%g s", awaited, TRACK_AWAITED_S)
            pipeline.handoff, pipeline.store = engine, shared
        else:
            restored = 0
        self.counters["lease-takeovers"] += 1
        log.warning("lease: active (epoch %d); %d dialogues restored from the store",
                    shared.epoch(), restored)
        self._start_sink()

    def _take_ids(self, shared: PostgresStore) -> None:
        """The old active's fused ids for this process's tracks, before anything is
        published (``Tracker.take_over``; the restored dialogues name those ids).  A store
        whose tracks cannot be read leaves every track unmatched (new ids), said and
        counted: the takeover goes on."""
        try:
            saved, ids = states(shared.live_tracks()), shared.identities()
        except (StoreError, ValueError) as exc:
            log.error("lease: the old active's tracks cannot be read: %s", exc)
            self.counters["takeover-unreadable"] += 1
            saved, ids = [], None
        matched = self.pipeline.tracker.take_over(saved, ids)
        by = dict(sorted(Counter(matched.by.values()).items()))
        self.takeover_ids = {"epoch": shared.epoch(), "renamed": len(matched.ids),
                             "unmatched": len(matched.unmatched),
                             "missing": len(matched.missing), "dropped": len(matched.dropped),
                             "by": by}
        log.warning("lease: takeover: %d tracks took the old active's ids (%s), %d new ids; "
                    "%d of its tracks not here, %d too old", len(matched.ids),
                    ", ".join(f"{n} by {k}" for k, n in by.items()) or "none",
                    len(matched.unmatched), len(matched.missing), len(matched.dropped))
        if matched.unmatched or matched.missing:
            log.info("lease: takeover: tracks given new ids (their ids as the standby): %s; "
                     "the old active's "
                     "ids not here (given back if their aircraft comes: the identity map): "
                     "%s", " ".join(matched.unmatched[:20]) or "none",
                     " ".join(matched.missing[:20]) or "none")

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
        if self.web is not None:
            try:
                await self.start_web()
            except OSError:
                self.close_inputs()
                await self.metrics.stop()
                raise
        supervisor = self.supervisor
        sink_stop = self._sink_stop = asyncio.Event()
        if self.web is not None:
            supervisor.start("web", self.web.run)
        if self.shared is not None:
            self.shared.start_lease()
            supervisor.start("lease", self._leadership)
        else:
            self._start_sink()
        for n, feed in enumerate(self.remote.feeds):
            supervisor.start(f"input{n}", functools.partial(feed.run, self.stopping))

        async def sources_finished() -> None:
            try:
                await asyncio.gather(*sources)
            finally:
                self.sources_done.set()

        watcher = asyncio.create_task(sources_finished(), name="sources") if sources else None
        try:
            await supervisor.start("pipeline", self.process)
        finally:
            self.close_inputs()
            for s in sources:
                s.cancel()
            self.stopping.set()  # status reporter and sources end
            sink_stop.set()
            await supervisor.cancel("status")
            await supervisor.cancel("web")
            if self.web is not None:
                await self.web.stop()
            mqtt = supervisor.tasks.get("mqtt")
            if mqtt is not None:  # bounded by the sink's own stop deadline
                await self._inbound_while_draining(mqtt)
                # received, never handled: their senders repeat them for want of a LAM
                self.inbox.counters["left-at-stop"] += len(self.inbox)
            await self.metrics.stop()
        if watcher is not None:
            await asyncio.gather(watcher, return_exceptions=True)
            if not watcher.cancelled() and watcher.exception() is not None:
                raise watcher.exception()  # type: ignore[misc]


def serial_of(payload: bytes) -> str:
    """The serial of an inbound AIDC payload for a log line, if it has one (hostile input:
    anything goes, nothing raises)."""
    try:
        serial = json.loads(payload[:4096]).get("serial")
    except (ValueError, AttributeError, RecursionError):
        return "unknown"
    return repr(serial)[:20] if serial is not None else "none"


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


_REGISTRATION_GAUGES = {
    "range_bias_m": "Estimated slant range bias of each radar, m (registration)",
    "range_gain": "Estimated range gain of each radar (registration)",
    "azimuth_bias_deg": "Estimated azimuth bias of each radar, degrees (registration)",
    "time_offset_s": "Estimated time-stamp offset of each radar, s (registration)",
    "range_bias_sigma_m": "One sigma of the range bias estimate, m",
    "range_gain_sigma": "One sigma of the range gain estimate",
    "azimuth_bias_sigma_deg": "One sigma of the azimuth bias estimate, degrees",
    "time_offset_sigma_s": "One sigma of the time offset estimate, s",
    "pairs": "Plot pairs behind each radar's registration (old ones counting less)",
    "established": "1 when the radar's plots are corrected with its registration",
}


def _received_at(batch: Published, received: Sequence[float] | None) -> float | None:
    """When the datagram that released the batch came in; None when no datagram of the
    call released it (a tick, the end of input, an inbound message) or its receipt time is
    not known."""
    i = batch.datagram
    if i is None or not received or not 0 <= i < len(received):
        return None
    return received[i]


def _registration(estimates: list[Estimate]) -> dict[str, dict[str, float]]:
    """Each radar's registration by ``sac-sic``, rounded for people (status, /health)."""
    out: dict[str, dict[str, float]] = {}
    for e in estimates:
        out[f"{e.sac}-{e.sic}"] = {
            "range_bias_m": round(e.range_bias_m, 2), "range_gain": round(e.range_gain, 8),
            "azimuth_bias_deg": round(e.azimuth_bias_deg, 5),
            "time_offset_s": round(e.time_offset_s, 4),
            "range_bias_sigma_m": round(e.range_bias_sigma_m, 2),
            "range_gain_sigma": round(e.range_gain_sigma, 8),
            "azimuth_bias_sigma_deg": round(e.azimuth_bias_sigma_deg, 5),
            "time_offset_sigma_s": round(e.time_offset_sigma_s, 4),
            "pairs": e.pairs, "established": int(e.established)}
    return out
