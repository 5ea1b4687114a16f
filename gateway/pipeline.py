"""The whole gateway pipeline, sans-IO: datagrams in, everything to publish out.

decode -> normalise -> associate.  Each normalised batch (one antenna sector, one SDPS
cycle) is one association cycle; its fused updates go out as the cycle's ``picture`` (and
each as ``fused/{id}``).  The shell around it (replay, run) only moves bytes and time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from gateway.associate.build import tracker_from_config
from gateway.config import Config
from gateway.decoder import Decoder, Problems
from gateway.normalize.normalizer import Normalizer, Published

PICTURE = "picture"


class Pipeline:
    def __init__(self, config: Config) -> None:
        self.decoder = Decoder([34, 48, 62, 65])
        self.normalizer = Normalizer(config)
        self.tracker = tracker_from_config(config)
        self.problems = Problems()

    def feed(self, payloads: Sequence[bytes], t_capture: Sequence[float | None],
             now: float | None = None) -> list[Published]:
        """One chunk of datagrams; ``now`` stands in for records without capture time."""
        batches, problems = self.decoder.decode(payloads, t_capture)
        self.problems.add(problems)
        return self._associate(self.normalizer.feed(batches, now))

    def tick(self, now: float) -> list[Published]:
        """The clock moved on with no data: tracks coast and end on time."""
        return self._picture(self.tracker.tick(now))

    def flush(self) -> list[Published]:
        return self._associate(self.normalizer.flush())

    def counters(self) -> Counter[str]:
        return self.normalizer.counters + self.tracker.counters + self.problems.counts

    def _associate(self, published: list[Published]) -> list[Published]:
        out: list[Published] = []
        for batch in published:
            out.append(batch)
            out += self._picture(self.tracker.update(batch.messages))
        return out

    @staticmethod
    def _picture(fused: list) -> list[Published]:
        return [Published(PICTURE, fused)] if fused else []
