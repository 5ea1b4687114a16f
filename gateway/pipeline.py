"""The whole gateway pipeline, sans-IO: datagrams in, everything to publish out.

decode -> normalise -> associate.  Each normalised batch (one antenna sector, one SDPS
cycle) is one association cycle; its fused updates go out as the cycle's ``picture`` (and
each as ``fused/{id}``).  A site gateway (``[associate] enabled = false``) stops after
normalising; a centre enters at association with the batches sites published
(``receive_batch``), skipping decode and normalisation (docs/deployment.md).  The shell
around it (replay, run) only moves bytes and time, and hands it the store the handoff's
state is kept in (it opens no file itself).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import msgspec
import numpy as np

from gateway.associate.build import tracker_from_config
from gateway.associate.registration import Estimate
from gateway.associate.takeover import states_json
from gateway.config import Config
from gateway.decoder import Decoder, Problems
from gateway.flightplan.feed import plans_from_config
from gateway.handoff.build import handoff_from_config
from gateway.handoff.engine import Handoff, utc_text
from gateway.messages import Aidc, Alert, FlightPlan, Fused, MessageError, decode
from gateway.normalize.normalizer import Normalizer, SourceBatch
from gateway.publish.batch import Kind, Published
from gateway.publish.topics import Topics
from gateway.store import HandoffStore, StoreError

log = logging.getLogger(__name__)

HELD_MAX = 10_000  # messages held while the store fails (_handed)
# The live tracks go to the store with the next save after a track is given an id, and at
# least this often (data time): a redundant pair's process taking over gives its tracks the
# ids they were published with (``Tracker.take_over``).
TRACKS_SAVE_S = 1.0
# a source batch's kind ("plots", "tracks") as its published Kind: a dict look-up, where
# ``Kind(value)`` (the enum's call) cost some twenty times more, per batch (issue 16)
_KINDS: dict[str, Kind] = {k.value: k for k in Kind}


def _coordinated(handoff: Handoff, fused: list[Fused]) -> list[Fused]:
    """The fused updates with their flight's border dialogue, as the handoff sees it after
    this cycle, in ``fpl.coordination``; a track with a dialogue and no plan gets a plan
    of its callsign alone to carry it."""
    out = []
    tracks = handoff.tracks
    for m in fused:
        track = tracks.get(m.id)
        if track is None or not track.flights:  # most tracks: no dialogue, as they were
            out.append(m)
            continue
        c = handoff.coordination(m.id)
        if c is not None:
            plan = m.fpl or FlightPlan(callsign=m.callsign, dep=None, dst=None, cfl=None,
                                       type=None, wtc=None)
            m = msgspec.structs.replace(m, fpl=msgspec.structs.replace(plan, coordination=c))
        out.append(m)
    return out


class Pipeline:
    def __init__(self, config: Config, store: HandoffStore | None = None, *,
                 keep_tracks: bool = False) -> None:
        """``store``: where the handoff's dialogues are kept across restarts (restored from
        here, saved after every change); None keeps them in memory only.  The caller
        opens and closes it.  Unused without a [handoff] section.  ``keep_tracks``: the
        live tracks go with the saves too (``TRACKS_SAVE_S``), for a redundant pair's
        takeover only: one process has no use for them, and they multiply what a store
        writes (a small disk filled before the first flight was stored)."""
        self.keep_tracks = keep_tracks
        self.decoder = Decoder([34, 48, 62, 65])
        self.normalizer = Normalizer(config)
        self.tracker = tracker_from_config(config)
        self.associating = config.associate.enabled
        self.problems = Problems()
        self.fed = False  # has the tracker had a batch yet (ticks wait for it: tick)
        self.aidc_counters: Counter[str] = Counter()
        # what keeps the pipeline from working as it should (name -> one-line reason):
        # the service reports it (health, log); "handoff-store" while the store fails
        self.failures: dict[str, str] = {}
        self._held: list[Aidc | Alert] = []  # made while the store failed (_handed)
        self.topics = Topics.of(config.gateway.id, config.mqtt)
        self.handoff = handoff_from_config(config)
        self.plans = plans_from_config(config)  # [flightplans]: filed plans for fused tracks
        self.store = store if self.handoff is not None else None
        self.restored = 0  # dialogues found in the store
        self._tracks_saved = (-1, -np.inf)  # (tracker.named, tracker.now) at the last save
        if self.handoff is not None and self.store is not None:
            self.restored = self.store.restore(self.handoff)
            try:  # ids never handed out twice within the store (associate.identity)
                self.tracker.restore_identities(self.store.identities())
            except ValueError as exc:
                raise StoreError(f"the fused ids' state cannot be read: {exc}") from None
            if self.handoff.resume_after > -1e299:  # NO_CLOCK: it had seen no data
                log.info("handoff: the store's clock is %s: older data decides nothing, "
                         "unless it is more than clock_margin_s (%g s) behind it",
                         utc_text(self.handoff.resume_after), self.handoff.p.clock_margin_s)

    def feed(self, payloads: Sequence[bytes], t_capture: Sequence[float | None],
             now: float | None = None) -> list[Published]:
        """One chunk of datagrams; ``now`` stands in for records without capture time."""
        batches, problems = self.decoder.decode(payloads, t_capture)
        self.problems.add(problems)
        return self._associate(self.normalizer.feed(batches, now))

    def tick(self, now: float) -> list[Published]:
        """The clock moved on with no data: tracks coast and end on time, missing LAMs
        are sent again.  Before the tracker's first batch there is nothing to coast, and
        ticking would set its clock to the receive clock: the first batch, stamped a little
        earlier, would then be taken for late (live output differed from replay).  Datagrams
        that came but are still held by the normaliser (a sector not yet closed) do not
        count: their batch is the first."""
        if not self.fed or not self.associating:
            return []
        out = self._picture(self.tracker.tick(now))
        if self.handoff is not None:
            out += self._handed(self.handoff.tick(now))
        return out

    def receive_aidc(self, payload: bytes, now: float, *,
                     topic: str | None = None) -> list[Published]:
        """One inbound MQTT payload from a peer's ``aidc`` topic (hostile until parsed).

        ``topic``: the one it came on, whose units must be the envelope's (None: not known,
        as when a test hands a payload in).  Nothing raised while handling one message gets
        out of here (it would end the reader of every later one): the engine takes the
        message back (``Handoff.rollback``), it is counted (``aidc-handler-errors``) and
        refused with LRM if its sender is a configured peer.  A store that cannot save
        suspends the handoff instead (``_handed``)."""
        handoff = self.handoff
        if handoff is None:
            return []
        self.aidc_counters["aidc-inbound"] += 1
        try:
            message = decode(payload)
        except MessageError:
            self.aidc_counters["aidc-undecodable"] += 1
            return []
        if not isinstance(message, Aidc):
            self.aidc_counters["aidc-undecodable"] += 1
            return []
        via = None if topic is None else (self.topics.aidc_units(topic) or ("", ""))
        try:
            made = handoff.receive(message, now, via)
        except Exception as exc:  # a bug on hostile input: the engine rolled it back
            return self._not_handled(message, topic, exc, "cannot handle it", now)
        try:
            return self._handed(made)
        except Exception as exc:  # not a StoreError (_handed holds those): a store's bug
            handoff.rollback()
            self.failures["handoff-store"] = f"{type(exc).__name__}: {exc}"[:300]
            return self._not_handled(message, topic, exc, "cannot store it", now)

    def receive_plans(self, payload: bytes, now: float, topic: str) -> list[Published]:
        """One inbound MQTT payload of flight plan messages (hostile: ``PlanFeed``)."""
        if self.plans is not None:
            self.plans.receive(payload, now, topic)
        return []

    def _not_handled(self, message: Aidc, topic: str | None, exc: Exception, reason: str,
                     now: float) -> list[Published]:
        """A message whose handling failed: counted, logged (the first ten, then every
        thousandth: a failing store fails every message), and refused if it can be (the
        LRM goes out unsaved: it awaits nothing)."""
        self.aidc_counters["aidc-handler-errors"] += 1
        errors = self.aidc_counters["aidc-handler-errors"]
        if errors <= 10 or errors % 1000 == 0:
            log.error("AIDC from %s serial %d on %s: %s: %r (%d so far)", message.from_,
                      message.serial, topic, reason, exc, errors)
        if self.handoff is None:
            return []
        try:
            made = self.handoff.refuse(message, reason, now)
        except Exception:
            self.aidc_counters["aidc-refusal-errors"] += 1
            return []
        return [Published(Kind.AIDC, made)] if made else []

    def flush(self) -> list[Published]:
        return self._associate(self.normalizer.flush())

    def receive_batch(self, batch: SourceBatch) -> list[Published]:
        """One batch another gateway normalised and published (checked by
        ``gateway.remote.RemoteBatches``): one association cycle, as if this pipeline's
        normaliser had made it.  The batch itself is not published again (its site did)."""
        return self._associate([batch], republish=False)

    def counters(self) -> Counter[str]:
        counts = self.normalizer.counters + self.tracker.counters + self.problems.counts
        if self.handoff is not None:
            counts += self.handoff.counters + self.aidc_counters
        if self.plans is not None:
            counts += self.plans.all_counters()
        return counts

    def registration(self) -> list[Estimate]:
        """Each radar's registration as estimated now (none without registration)."""
        reg = self.tracker.registration
        return reg.estimates() if reg is not None else []

    def _associate(self, batches: list[SourceBatch], *,
                   republish: bool = True) -> list[Published]:
        """Each source's batch is published as it is (the topic table names it from its
        kind and source) and is one association cycle.  What the cycle makes (its picture,
        alerts, AIDC) was released by the same datagram as the batch."""
        out: list[Published] = []
        for batch in batches:
            if republish:
                out.append(Published(_KINDS[batch.kind], batch.messages, batch.source,
                                     batch.at, batch.datagram))
            if not self.associating:
                continue
            self.fed = True
            made = self._picture(self.tracker.update(batch.messages))
            for published in made:
                published.datagram = batch.datagram
            out += made
        return out + self._registration()

    def _registration(self) -> list[Published]:
        """Each radar's estimated biases, every ``registration_output_period_s`` of data
        time (none without registration)."""
        reg = self.tracker.registration
        if reg is None or not np.isfinite(self.tracker.data_now):
            return []
        made = reg.due(self.tracker.data_now)  # the data's clock: live and replay alike
        return [Published(Kind.REGISTRATION, list(made))] if made else []

    def _picture(self, fused: list[Fused]) -> list[Published]:
        """A cycle's fused updates, and what the handoff makes of them (at the data's time:
        replay and live decide alike)."""
        if not fused:
            return []
        alerts: list[Alert] = []
        if self.plans is not None:  # filed plans for tracks with none (docs/flightplans.md)
            fused, alerts = self.plans.attach(fused)
        out = [Published(Kind.PICTURE, fused)]
        if alerts:
            out.append(Published(Kind.ALERTS, alerts))
        if self.handoff is not None:
            t = max([m.t for m in fused])  # the data's own time, never the receive clock
            made = self.handoff.update(fused, t) + self.handoff.tick(t)
            out[0] = Published(Kind.PICTURE, _coordinated(self.handoff, fused))
            out += self._handed(made)
        return out

    def _handed(self, made: list[Aidc | Alert]) -> list[Published]:
        """Store the dialogue state first, then publish (``HandoffStore`` says why).

        A store that fails (full disk, read-only or removed file, locked database) keeps
        what it already holds; the handoff is then suspended: the engine goes on deciding,
        but nothing it makes is published while it cannot be stored.  The failure is
        logged once, counted (``store-failures``, each failed save) and kept in
        ``failures["handoff-store"]`` (the gateway is unhealthy).  Every later call tries
        again; the first save that succeeds writes everything unsaved (the engine keeps
        it until ``mark_saved``), publishes what was held, in order, and clears the
        failure.  At most ``HELD_MAX`` messages are held, the oldest dropped beyond it
        (``store-held-dropped``); the AIDC ones among those are still awaiting their LAM
        and are sent again by the LAM timer."""
        handoff = self.handoff
        if handoff is None:
            return []
        for text in handoff.notices:  # each once (the engine's _notice)
            log.warning("handoff: %s", text)
        handoff.notices.clear()
        tracker = self.tracker
        ids = tracker.identities
        tracks_due = self.keep_tracks and (
            tracker.named != self._tracks_saved[0]
            or tracker.now - self._tracks_saved[1] >= TRACKS_SAVE_S)
        if self.store is not None and (made or handoff.dirty or self._held or ids.unsaved
                                       or tracks_due):
            try:  # the ids' sequence and map go with every save: a new block before its ids
                self.store.keep_identities(tracker.identity_state())
                if self.keep_tracks:
                    self.store.keep_tracks(states_json(tracker.live_states()))
                self.store.save(handoff)
            except StoreError as exc:
                self.aidc_counters["store-failures"] += 1
                if "handoff-store" not in self.failures:
                    log.error("handoff: the store cannot save (%s): the handoff is suspended, "
                              "nothing is published until a save succeeds", exc)
                self.failures["handoff-store"] = str(exc)
                self._held.extend(made)
                if len(self._held) > HELD_MAX:
                    self.aidc_counters["store-held-dropped"] += len(self._held) - HELD_MAX
                    del self._held[:-HELD_MAX]
                return []
            ids.saved()
            self._tracks_saved = (tracker.named, tracker.now)
            if self._held:
                log.warning("handoff: the store saves again; %d messages held are published",
                            len(self._held))
                made, self._held = self._held + made, []
            self.failures.pop("handoff-store", None)
        if made or handoff.dirty:
            handoff.mark_saved()
        aidc = [m for m in made if isinstance(m, Aidc)]
        alerts = [m for m in made if isinstance(m, Alert)]
        return ([Published(Kind.AIDC, aidc)] if aidc else []) + (
            [Published(Kind.ALERTS, alerts)] if alerts else [])
