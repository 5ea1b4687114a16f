"""Other gateways' ``plot`` and ``track`` batches, as a centre takes them: hostile payloads
in, normalised source batches (or a count of why not) out, and the data's own clock.

A site gateway decodes and normalises its radars and publishes each sector or SDPS cycle
as one JSON array on ``plots/{sac}-{sic}`` or ``tracks/{sac}-{sic}``.  The centre hands
them to association as if its own normaliser had made them, so a batch must be exactly
what a normaliser makes: every element a ``plot`` (or ``track``) of the one source the
topic names, a source the centre's configuration knows (the tracker weighs it by its
``[[radar]]``/``[[sdps]]`` entry), not larger than ``MAX_BATCH_BYTES``, and not from the
future (a forged time would move the tracker's clock on and end every track).  Anything
else is counted by reason and skipped, never raised.

Sans-IO: the caller passes the wall clock in; nothing here reads a clock or a socket.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable

from gateway.messages import MessageError, Plot, Track, decode_batch
from gateway.normalize.normalizer import SourceBatch

# The largest batch payload taken.  An SDPS cycle of the border capture's ~370 aircraft is
# about 150 KB; 4 MiB leaves room for ten times the traffic and bounds what one message
# can cost.  (MQTT 5 brokers are told it when connecting, so they do not even send more.)
MAX_BATCH_BYTES = 4 << 20
# Messages in one batch at most (a radar's sector or an SDPS cycle holds hundreds).
MAX_BATCH_MESSAGES = 20_000

_SOURCE_LEVEL = re.compile(r"^(plots|tracks)/([0-9]{1,3})-([0-9]{1,3})$")
_KIND: dict[str, tuple[type[Plot] | type[Track], int]] = {"plots": (Plot, 48),
                                                         "tracks": (Track, 62)}

# Why a payload was skipped, for counters and the log: (counter name, what it means).
OUTCOMES = {
    "accepted": "taken into association",
    "oversize": f"larger than {MAX_BATCH_BYTES} bytes or {MAX_BATCH_MESSAGES} messages",
    "malformed": "not a JSON array of v1 messages (the log line says where)",
    "wrong-topic": "a topic that is not plots/{sac}-{sic} or tracks/{sac}-{sic}",
    "wrong-kind": "an element not of the topic's kind (plot on plots/, track on tracks/)",
    "wrong-source": "an element whose src is not the topic's source and category",
    "unknown-source": "a source with no [[radar]] or [[sdps]] in the configuration",
    "future": "a time ahead of the wall clock by more than [normalize] max_early_s",
    "empty": "an empty array",
}


class RemoteBatches:
    """Turns inbound payloads into ``SourceBatch``es; ``counters[outcome]`` counts each.

    ``radars``/``sdps``: the (sac, sic) the configuration knows.  ``max_early_s``: how far
    a time may be ahead of the wall clock (``[normalize] max_early_s``, as for datagrams).
    ``last_error``: the latest skipped payload's reason, one line (for /health and logs).
    """

    def __init__(self, radars: Iterable[tuple[int, int]], sdps: Iterable[tuple[int, int]],
                 max_early_s: float) -> None:
        self.known = {"plots": frozenset(radars), "tracks": frozenset(sdps)}
        self.max_early_s = max_early_s
        self.counters: Counter[str] = Counter()
        self.last_error: str | None = None

    def take(self, topic: str, payload: bytes, wall: float) -> SourceBatch | None:
        """One payload from ``topic`` (the part after the sites' prefix does not matter:
        the last two levels name kind and source), received at ``wall``."""
        batch, why = self._check(topic, payload, wall)
        if batch is None:
            self.counters[why[0]] += 1
            self.last_error = f"{why[0]} on {topic[:200]!r}: {why[1]}"
        else:
            self.counters["accepted"] += 1
        return batch

    def _check(self, topic: str, payload: bytes, wall: float
               ) -> tuple[SourceBatch | None, tuple[str, str]]:
        tail = "/".join(topic.split("/")[-2:])
        named = _SOURCE_LEVEL.match(tail)
        if named is None:
            return None, ("wrong-topic", "not plots/{sac}-{sic} or tracks/{sac}-{sic}")
        kind, sac, sic = named.group(1), int(named.group(2)), int(named.group(3))
        if len(payload) > MAX_BATCH_BYTES:
            return None, ("oversize", f"{len(payload)} bytes")
        try:
            messages = decode_batch(payload)
        except MessageError as exc:
            return None, ("malformed", str(exc))
        if len(messages) == 0:
            return None, ("empty", "no messages")
        if len(messages) > MAX_BATCH_MESSAGES:
            return None, ("oversize", f"{len(messages)} messages")
        cls, cat = _KIND[kind]
        latest = -math.inf
        for m in messages:
            if not isinstance(m, cls):
                return None, ("wrong-kind", f"a {type(m).__name__.lower()} on {kind}/")
            src = m.src
            if (src.sac, src.sic, src.cat) != (sac, sic, cat):
                return None, ("wrong-source", f"src {src.sac}-{src.sic} cat {src.cat}")
            latest = max(latest, m.t)
        if (sac, sic) not in self.known[kind]:
            return None, ("unknown-source", f"{sac}-{sic} is not configured")
        if latest > wall + self.max_early_s:
            return None, ("future", f"t {latest:.3f} is {latest - wall:.1f} s ahead")
        # mypy: the loop checked every element's class
        return SourceBatch(kind, (sac, sic), list(messages)), ("accepted", "")  # type: ignore[arg-type]


class DataClock:
    """The centre's clock is the data's: the newest time of any batch taken, running on
    at the wall clock's rate only while no batch comes.

    So sites replaying a capture at 20x give the centre a picture of 20x (tracks coast
    and end by the data's time, as in one process), and live sites give it real time.
    When every site is silent, tracks still coast and end, at real time from the last
    data.  The wall clock only measures elapsed time here, never sets the time of day.
    """

    def __init__(self) -> None:
        self.latest: float | None = None  # newest data time
        self._wall_at_latest = 0.0

    def saw(self, t: float, wall: float) -> None:
        """A batch whose newest time is ``t`` was taken at ``wall``."""
        if self.latest is None or t > self.latest:
            self.latest, self._wall_at_latest = t, wall

    def now(self, wall: float) -> float | None:
        """The data's time at ``wall``; None before any data."""
        if self.latest is None:
            return None
        return self.latest + max(0.0, wall - self._wall_at_latest)


class Reorder:
    """Batches from several sites, put back in the data's time order before association.

    Each site's batches come in order, but two sites' streams interleave as the network
    and their machines deliver them; one process would have associated them in the
    order of their data.  A batch is held until the data clock (the newest time taken
    from any site) is ``hold_s`` past its newest time, then released in time order (ties
    in arrival order), so a site up to ``hold_s`` behind another costs nothing.  It costs
    ``hold_s`` of delay (in the data's time).  At most ``limit`` batches are held: beyond
    it the oldest is released early (counted ``released-early``), never dropped.
    """

    def __init__(self, hold_s: float, limit: int) -> None:
        self.hold_s = hold_s
        self.limit = limit
        self._heap: list[tuple[float, int, SourceBatch]] = []
        self._seq = 0
        self.counters: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._heap)

    def put(self, batch: SourceBatch, t: float) -> list[SourceBatch]:
        """Hold ``batch`` (newest time ``t``); what must go now if the hold is full."""
        heapq.heappush(self._heap, (t, self._seq, batch))
        self._seq += 1
        out = []
        while len(self._heap) > self.limit:
            self.counters["released-early"] += 1
            out.append(heapq.heappop(self._heap)[2])
        return out

    def due(self, now: float | None) -> list[SourceBatch]:
        """The batches whose time is ``hold_s`` or more before ``now`` (the data clock),
        oldest first."""
        out: list[SourceBatch] = []
        if now is None:
            return out
        heap = self._heap
        while heap and heap[0][0] <= now - self.hold_s:
            out.append(heapq.heappop(heap)[2])
        return out

    def flush(self) -> list[SourceBatch]:
        """Everything held, oldest first (the end of the run)."""
        out = [b for _t, _n, b in sorted(self._heap)]
        self._heap.clear()
        return out
