"""The whole gateway pipeline, sans-IO: datagrams in, everything to publish out.

decode -> normalise -> associate.  Each normalised batch (one antenna sector, one SDPS
cycle) is one association cycle; its fused updates go out as the cycle's ``picture`` (and
each as ``fused/{id}``).  The shell around it (replay, run) only moves bytes and time,
and hands it the store the handoff's state is kept in (it opens no file itself).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from gateway.associate.build import tracker_from_config
from gateway.config import Config
from gateway.decoder import Decoder, Problems
from gateway.handoff.build import handoff_from_config
from gateway.messages import Aidc, Alert, Fused, MessageError, decode
from gateway.normalize.normalizer import Normalizer, SourceBatch
from gateway.publish.batch import Kind, Published
from gateway.store import HandoffStore


class Pipeline:
    def __init__(self, config: Config, store: HandoffStore | None = None) -> None:
        """``store``: where the handoff's dialogues are kept across restarts (restored from
        here, saved after every change); None keeps them in memory only.  The caller
        opens and closes it.  Unused without a [handoff] section."""
        self.decoder = Decoder([34, 48, 62, 65])
        self.normalizer = Normalizer(config)
        self.tracker = tracker_from_config(config)
        self.problems = Problems()
        self.fed = False  # has any datagram come yet
        self.aidc_counters: Counter[str] = Counter()
        self.handoff = handoff_from_config(config)
        self.store = store if self.handoff is not None else None
        self.restored = 0  # dialogues found in the store
        self.failures: dict[str, str] = {}  # what fails (its store, say) -> why, one line
        if self.handoff is not None and self.store is not None:
            self.restored = self.store.restore(self.handoff)

    def feed(self, payloads: Sequence[bytes], t_capture: Sequence[float | None],
             now: float | None = None) -> list[Published]:
        """One chunk of datagrams; ``now`` stands in for records without capture time."""
        self.fed = self.fed or bool(payloads)
        batches, problems = self.decoder.decode(payloads, t_capture)
        self.problems.add(problems)
        return self._associate(self.normalizer.feed(batches, now))

    def tick(self, now: float) -> list[Published]:
        """The clock moved on with no data: tracks coast and end on time, missing LAMs
        are sent again.  Before the first datagram there is nothing to coast, and ticking
        would set the tracker's clock to the receive clock: the first data, stamped a
        little earlier, would then be taken for late (live output differed from replay)."""
        if not self.fed:
            return []
        out = self._picture(self.tracker.tick(now))
        if self.handoff is not None:
            out += self._handed(self.handoff.tick(now))
        return out

    def receive_aidc(self, payload: bytes, now: float) -> list[Published]:
        """One inbound MQTT payload from a peer's ``aidc`` topic (hostile until parsed)."""
        if self.handoff is None:
            return []
        try:
            message = decode(payload)
        except MessageError:
            self.aidc_counters["aidc-undecodable"] += 1
            return []
        if not isinstance(message, Aidc):
            self.aidc_counters["aidc-undecodable"] += 1
            return []
        return self._handed(self.handoff.receive(message, now))

    def flush(self) -> list[Published]:
        return self._associate(self.normalizer.flush())

    def counters(self) -> Counter[str]:
        counts = self.normalizer.counters + self.tracker.counters + self.problems.counts
        if self.handoff is not None:
            counts += self.handoff.counters + self.aidc_counters
        return counts

    def _associate(self, batches: list[SourceBatch]) -> list[Published]:
        """Each source's batch is published as it is (the topic table names it from its
        kind and source) and is one association cycle."""
        out: list[Published] = []
        for batch in batches:
            out.append(Published(Kind(batch.kind), batch.messages, batch.source, batch.at))
            out += self._picture(self.tracker.update(batch.messages))
        return out

    def _picture(self, fused: list[Fused]) -> list[Published]:
        """A cycle's fused updates, and what the handoff makes of them (at the data's time:
        replay and live decide alike)."""
        if not fused:
            return []
        out = [Published(Kind.PICTURE, fused)]
        if self.handoff is not None:
            t = max(m.t for m in fused)  # the data's own time, never the receive clock
            made = self.handoff.update(fused, t) + self.handoff.tick(t)
            out += self._handed(made)
        return out

    def _handed(self, made: list[Aidc | Alert]) -> list[Published]:
        """Store the dialogue state first, then publish (``HandoffStore`` says why)."""
        handoff = self.handoff
        if handoff is not None and (made or handoff.dirty):
            if self.store is not None:
                self.store.save(handoff)
            handoff.mark_saved()
        aidc = [m for m in made if isinstance(m, Aidc)]
        alerts = [m for m in made if isinstance(m, Alert)]
        return ([Published(Kind.AIDC, aidc)] if aidc else []) + (
            [Published(Kind.ALERTS, alerts)] if alerts else [])
