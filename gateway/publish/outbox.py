"""The bounded outbox between the pipeline and a broker that may be slow or gone (sans-IO).

Three lanes, because the three kinds of traffic deserve different treatment when the
broker cannot keep up:

- ``reliable`` (QoS 1: aidc, alerts, status): kept until the broker acknowledged them, sent
  again after a reconnect; only beyond ``reliable_limit`` is the oldest dropped, and counted.
- ``state`` (``fused/{id}``, ``status/{gateway}``: retained): only the latest state of each
  key matters, so a newer state replaces an unsent older one (counted as coalesced; an
  older state is never sent after a newer one).  A state keeps its QoS.
- ``stream`` (QoS 0: plots, tracks, picture): first in, first out; beyond ``limit``
  the oldest is dropped and counted, as a live feed should (fresh data beats stale data).

Memory is bounded by the limits whatever the broker does.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import Iterable

from gateway.publish.topics import Outbound


class Outbox:
    def __init__(self, limit: int, reliable_limit: int) -> None:
        self.limit = limit
        self.reliable_limit = reliable_limit
        self.reliable: deque[Outbound] = deque()
        self.state: OrderedDict[str, list[Outbound]] = OrderedDict()
        self.stream: deque[Outbound] = deque()
        self.counters: Counter[str] = Counter()
        self._state_messages = 0

    def __len__(self) -> int:
        return len(self.reliable) + self._state_messages + len(self.stream)

    def fill(self) -> float:
        """How full the unreliable lanes are, 0..1: replay waits when this is high."""
        return max(len(self.stream), len(self.state)) / self.limit

    def put(self, messages: Iterable[Outbound]) -> None:
        """Queue messages; those sharing a key within one call form one state (an ended
        track's last update and the empty payload that clears it).  The lanes' limits are
        applied once the call's messages are in (the oldest dropped, as one at a time
        would), and the counters counted once a call: a replay at ``max`` queues ~140,000
        messages, and a Counter update each was a third of this method (issue 16)."""
        fresh: dict[str, list[Outbound]] = {}
        stream, reliable = self.stream, self.reliable
        queued = 0
        for m in messages:
            queued += 1
            key = m.key
            if key is not None:
                group = fresh.get(key)
                if group is None:
                    fresh[key] = [m]
                else:
                    group.append(m)
            elif m.qos > 0:
                reliable.append(m)
            else:
                stream.append(m)
        counters = self.counters
        counters["queued"] += queued
        if len(reliable) > self.reliable_limit:
            counters["dropped-reliable"] += len(reliable) - self.reliable_limit
            while len(reliable) > self.reliable_limit:
                reliable.popleft()
        if len(stream) > self.limit:
            counters["dropped-stream"] += len(stream) - self.limit
            while len(stream) > self.limit:
                stream.popleft()
        state = self.state
        for key, group in fresh.items():
            old = state.get(key)
            if old is not None:
                counters["coalesced"] += len(old)
                self._state_messages -= len(old)
            state[key] = group  # an existing key keeps its place in line
            self._state_messages += len(group)
        while len(state) > self.limit:
            _, group = state.popitem(last=False)
            self._state_messages -= len(group)
            counters["dropped-state"] += len(group)

    def reliable_head(self, n: int) -> list[Outbound]:
        """The oldest unacknowledged QoS 1 messages, left in place until ``acknowledge``."""
        return [self.reliable[i] for i in range(min(n, len(self.reliable)))]

    def acknowledge(self, sent: Iterable[Outbound]) -> None:
        """The broker has these; each is removed if still queued (a burst may have pushed
        it out meanwhile)."""
        for m in sent:
            if self.reliable and self.reliable[0] is m:
                self.reliable.popleft()
            else:
                try:
                    self.reliable.remove(m)
                except ValueError:
                    pass

    def take(self, n: int) -> list[Outbound]:
        """Up to ``n`` messages to send now, shared fairly between stream and state."""
        out: list[Outbound] = []
        half = max(n // 2, 1)
        while self.stream and len(out) < half:
            out.append(self.stream.popleft())
        while self.state and len(out) < n:
            _, group = self.state.popitem(last=False)
            self._state_messages -= len(group)
            out.extend(group)
        while self.stream and len(out) < n:
            out.append(self.stream.popleft())
        return out

    def give_back(self, messages: list[Outbound]) -> None:
        """Messages taken but not sent (the connection dropped): first in line again,
        unless a newer state of the same key arrived meanwhile or the lane is full."""
        groups: dict[str, list[Outbound]] = {}
        for m in reversed(messages):
            if m.key is None:
                if len(self.stream) < self.limit:
                    self.stream.appendleft(m)
                else:
                    self.counters["dropped-stream"] += 1
            else:
                groups.setdefault(m.key, []).insert(0, m)
        for key, group in groups.items():
            if key in self.state:
                self.counters["coalesced"] += len(group)
                continue
            self.state[key] = group
            self.state.move_to_end(key, last=False)
            self._state_messages += len(group)
