"""Fused track ids that survive a restart (sans-IO): the id sequence and the identity map.

Anything keyed by a fused id downstream (handoff dialogues, alerts, a display's labels)
takes a repeated id for the same flight.  So ids are never handed out twice within one
store: the sequence hands them out of a reserved block whose end is stored before any id
of it is published (``unsaved``: the caller saves first), and a restart goes on after the
stored end, so a crash between saves skips ids but never reuses one.

The identity map (Mode S address; the callsign when there is no address) -> the id last
given and the data time it was last seen lets a flight seen before a restart get its old
id back (``recall``), when it comes back within ``FORGET_S`` and no live track holds it.
Only entries restored from the store are recalled: within one run the tracker's own
re-acquisition (which also checks where the aircraft is) decides, as before.  The map is
bounded: entries not seen for ``FORGET_S`` of data time are forgotten, and beyond
``MAX_ENTRIES`` the oldest go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BLOCK", "FORGET_S", "MAX_ENTRIES", "Identities"]

BLOCK = 1000  # ids reserved (stored) at a time: one save per thousand new tracks
FORGET_S = 3600.0  # data time after which a flight's id is no longer given back
MAX_ENTRIES = 20_000  # the identity map's bound (oldest forgotten first)


@dataclass
class _Seen:
    label: str
    t: float
    restored: bool = False  # came from the store: may be recalled


@dataclass
class Identities:
    """The sequence (``issued``: ids handed out so far, ``reserved``: the end of the block
    in use, ``stored``: the end the store holds) and the identity map."""

    prefix: str
    digits: int = 6
    issued: int = 0
    reserved: int = 0
    stored: int = 0
    by_key: dict[str, _Seen] = field(default_factory=dict)
    forget_s: float = FORGET_S
    max_entries: int = MAX_ENTRIES

    @property
    def unsaved(self) -> bool:
        """A block was reserved that the store does not hold yet: save before publishing."""
        return self.reserved > self.stored

    def next_label(self, in_use: set[str]) -> str:
        """A new id, never handed out before in this store (wraps after 10**digits - 1,
        skipping ids in use)."""
        span = 10 ** self.digits - 1
        while True:
            self.issued += 1
            if self.issued > self.reserved:
                self.reserved = self.issued - 1 + BLOCK
            label = f"{self.prefix}{(self.issued - 1) % span + 1:0{self.digits}d}"
            if label not in in_use:
                return label

    @staticmethod
    def keys(address: int, callsign: str | None) -> list[str]:
        """The map's keys of one flight: its Mode S address, else its callsign."""
        if address >= 0:
            return [f"A{address:06X}"]
        return [f"C{callsign.strip()}"] if callsign and callsign.strip() else []

    def note(self, label: str, address: int, callsign: str | None, t: float) -> None:
        """The flight of this identity holds ``label`` at data time ``t``."""
        for key in self.keys(address, callsign):
            seen = self.by_key.get(key)
            if seen is not None and seen.label == label and not seen.restored and seen.t >= t:
                continue
            self.by_key.pop(key, None)  # re-inserted: insertion order is about age order
            self.by_key[key] = _Seen(label, t)

    def recall(self, address: int, callsign: str | None, t: float,
               in_use: set[str]) -> str | None:
        """The id this flight had before the restart, if it was seen within ``forget_s``
        of ``t`` and no live track holds it; the entry is then used up."""
        for key in self.keys(address, callsign):
            seen = self.by_key.get(key)
            if (seen is not None and seen.restored and abs(t - seen.t) <= self.forget_s
                    and seen.label not in in_use):
                del self.by_key[key]
                return seen.label
        return None

    def forget(self, now: float) -> int:
        """Drop entries not seen for ``forget_s`` before ``now``, then the oldest beyond
        ``max_entries``; how many went."""
        old = [k for k, s in self.by_key.items() if now - s.t > self.forget_s]
        for key in old:
            del self.by_key[key]
        extra = len(self.by_key) - self.max_entries
        if extra > 0:
            for key in sorted(self.by_key, key=lambda k: self.by_key[k].t)[:extra]:
                del self.by_key[key]
        return len(old) + max(extra, 0)

    def to_json(self) -> dict[str, Any]:
        """What the store keeps; the reserved block's end counts as issued."""
        return {"issued": max(self.reserved, self.issued),
                "map": {k: [s.label, s.t] for k, s in self.by_key.items()}}

    def saved(self) -> None:
        """The store now holds ``to_json()``."""
        self.stored = self.reserved

    def load(self, data: dict[str, Any] | None) -> None:
        """The stored state (None: nothing seen).  Hostile: what is not of the right
        shape raises ``ValueError`` (the store's one-line refusal)."""
        if data is None:
            return
        if not isinstance(data, dict):
            raise ValueError("ids: not an object")
        issued = data.get("issued", 0)
        entries = data.get("map", {})
        if (not isinstance(issued, int) or isinstance(issued, bool) or issued < 0
                or not isinstance(entries, dict)):
            raise ValueError("ids: bad sequence or map")
        self.issued = self.reserved = self.stored = max(self.issued, issued)
        for key, value in entries.items():
            if (not isinstance(key, str) or not isinstance(value, list) or len(value) != 2
                    or not isinstance(value[0], str)
                    or not isinstance(value[1], (int, float))):
                raise ValueError(f"ids: bad map entry {key!r}"[:80])
            self.by_key[key] = _Seen(value[0], float(value[1]), restored=True)
        if len(self.by_key) > self.max_entries:
            self.forget(max(s.t for s in self.by_key.values()))
