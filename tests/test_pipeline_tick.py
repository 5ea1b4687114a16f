"""The pipeline's clock before its first batch: datagrams the normaliser still holds (a
sector not yet closed) must not let a tick set the tracker's clock to the receive clock,
or the first batch, stamped earlier, is taken for late and a live run differs from the
replay of the same datagrams."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np

from gateway.config import load
from gateway.ingest import read_datagrams
from gateway.pipeline import Kind, Pipeline

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "captures" / "border-10min.pcap.gz"
CONFIG = load(ROOT / "captures" / "border.toml")
TICK_AFTER_S = 2.0  # a live tick, this long after the datagram's capture time


def _run(tick: bool, datagrams: int = 400) -> tuple[Pipeline, int]:
    """The first ``datagrams`` of the capture one by one; with ``tick``, a tick after each
    that released nothing to the tracker (as the live service's idle ticks would come),
    until the first batch; the number of such ticks."""
    pipeline = Pipeline(CONFIG)
    ticks = 0
    for d in islice(read_datagrams(CAPTURE), datagrams):
        out = pipeline.feed([d.payload], [d.t_capture])
        assert d.t_capture is not None
        if tick and not any(p.kind is Kind.PICTURE for p in out) and not pipeline.fed:
            pipeline.tick(d.t_capture + TICK_AFTER_S)
            ticks += 1
            assert pipeline.tracker.now == -np.inf  # nothing seen: the clock did not move
    return pipeline, ticks


def test_ticks_before_the_first_batch_leave_the_trackers_clock_alone() -> None:
    ticked, ticks = _run(tick=True)
    assert ticks > 0  # the capture's first datagrams are held by the normaliser
    assert ticked.fed
    quiet, _ = _run(tick=False)
    for name in ("late-measurement-used", "measurements", "track-started"):
        assert ticked.counters()[name] == quiet.counters()[name], name
