"""The handoff store kept in the process: the interface's reference, for tests.

It keeps copies, never the engine's own objects, so an engine restored from it shares
nothing with the one that saved (as after a real restart).
"""

from __future__ import annotations

import copy
from typing import Any

from gateway.handoff.dialogue import Heard, Link
from gateway.handoff.engine import Handoff
from gateway.handoff.state import Flight, Saved


class MemoryStore:
    """``HandoffStore`` in a dict; ``saves`` counts the transactions, ``closed`` is set by
    ``close`` (tests check both)."""

    def __init__(self) -> None:
        self.flights: dict[str, Flight] = {}
        self.links: dict[str, Link] = {}
        self.seen: dict[str, Heard] = {}
        self.clock = -float("inf")
        self.ids: dict[str, Any] | None = None
        self._ids_next: dict[str, Any] | None = None
        self.tracks: dict[str, Any] | None = None
        self._tracks_next: dict[str, Any] | None = None
        self.saves = 0
        self.closed = False

    def restore(self, engine: Handoff) -> int:
        return engine.restore(copy.deepcopy(Saved(
            flights=list(self.flights.values()), removed=[], links=self.links,
            seen=self.seen, clock=self.clock)))

    def save(self, engine: Handoff) -> None:
        saved = copy.deepcopy(engine.unsaved())
        self.flights.update((f.key, f) for f in saved.flights)
        for key in saved.removed:
            self.flights.pop(key, None)
        self.links, self.seen = saved.links, saved.seen
        self.clock = saved.clock
        if self._ids_next is not None:
            self.ids, self._ids_next = self._ids_next, None
        if self._tracks_next is not None:
            self.tracks, self._tracks_next = self._tracks_next, None
        self.saves += 1

    def identities(self) -> dict[str, Any] | None:
        return copy.deepcopy(self.ids)

    def keep_identities(self, data: dict[str, Any]) -> None:
        self._ids_next = copy.deepcopy(data)

    def live_tracks(self) -> dict[str, Any] | None:
        return copy.deepcopy(self.tracks)

    def keep_tracks(self, data: dict[str, Any]) -> None:
        self._tracks_next = copy.deepcopy(data)

    def close(self) -> None:
        self.closed = True
