"""Which node of a broker to connect to next, and how long to wait first.

Every MQTT client of the gateway that stays connected (the sink with its inbound AIDC
subscriptions, ``peer``'s, a centre's ``mqtt://`` inputs, the demo's view) holds one
connection at a time to one node of a broker: the only one of a single broker, or one of
a cluster's.  When a connection fails or drops, the next node is tried, round robin, after
a backoff (0.5 s, +-20 % jitter, so that the gateways a node dropped do not all come back
in the same instant; reset once connected).  The backoff doubles, up to 30 s, each time
every node has failed in a row (a whole round), not at each node: a cluster's node that
died, or one paused while the cluster elects, does not make the gateway wait longer for
the next node, which may well answer.  A *failover* is a connection made to a node other
than the last one connected to: counted, and said.

Sans-IO: no socket and no clock; the caller connects, and sleeps for the delay
``failed`` returns.  The jitter is drawn from ``uniform`` (``random.uniform`` unless a
test gives its own).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from gateway.config.values import MqttUrl

BACKOFF_MIN, BACKOFF_MAX = 0.5, 30.0
JITTER = 0.2  # +-20 %


class Nodes:
    """The nodes of one broker, the one to use now (``current``) and the backoff."""

    def __init__(self, brokers: Sequence[MqttUrl], *, backoff_min_s: float = BACKOFF_MIN,
                 backoff_max_s: float = BACKOFF_MAX,
                 uniform: Callable[[float, float], float] = random.uniform) -> None:
        if not brokers:
            raise ValueError("a broker has at least one node")
        self.brokers = tuple(brokers)
        self.index = 0  # of the node connected to, or to be tried next
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.backoff_s = backoff_min_s  # the next delay, before jitter
        self.failures = 0  # in a row, since the last connection
        self._uniform = uniform
        self._last: int | None = None  # the node of the last connection made

    def __len__(self) -> int:
        return len(self.brokers)

    @property
    def current(self) -> MqttUrl:
        return self.brokers[self.index]

    @property
    def where(self) -> str:
        """The current node's URL, as /health, /metrics and the log name it."""
        return str(self.current)

    @property
    def next_attempt(self) -> str:
        """What comes after a failure, for the log line (``failed`` has moved on)."""
        return f"trying {self.where}" if len(self.brokers) > 1 else "retrying"

    def connected(self) -> bool:
        """A connection to ``current`` was made: the backoff starts again from its minimum.
        True when it is a failover (the last connection was to another node): the caller
        counts it with its other connection events."""
        failover = self._last is not None and self._last != self.index
        self._last = self.index
        self.backoff_s = self.backoff_min_s
        self.failures = 0
        return failover

    def failed(self) -> float:
        """A connection to ``current`` failed or dropped: move to the next node.  Seconds
        to wait before connecting to it: the backoff, with jitter.  The backoff doubles
        (up to its maximum) for the next time when this failure ends a round of every
        node failing in a row."""
        self.index = (self.index + 1) % len(self.brokers)
        delay = self.backoff_s * self._uniform(1 - JITTER, 1 + JITTER)
        self.failures += 1
        if self.failures % len(self.brokers) == 0:
            self.backoff_s = min(self.backoff_s * 2, self.backoff_max_s)
        return delay
