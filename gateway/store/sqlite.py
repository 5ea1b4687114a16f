"""The handoff's state in an SQLite file (the embedded default store).

What is kept is ``state.Saved``: every flight's dialogue (one row each, its serials in it),
each link's next serial and the messages still awaiting their LAM, the peers' recent
serials (to recognise a message sent again) and the data clock; not the tracks (``Saved``
says why).  Written in one transaction after every call that changed any of it, before the
caller publishes what the call returned (``HandoffStore`` says why).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gateway.handoff.dialogue import Dialogue, Heard, Link, Pending, Role, State
from gateway.handoff.engine import Handoff
from gateway.handoff.state import Flight, Saved
from gateway.store import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS flights (key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, data TEXT NOT NULL);
"""
NO_CLOCK = -1e300  # JSON has no -infinity: the clock of an engine that has seen no data


def _flight_json(f: Flight) -> str:
    data = asdict(f)
    data["dialogue"] = {"role": f.dialogue.role.name, "state": f.dialogue.state.name,
                        "proposer": f.dialogue.proposer.name if f.dialogue.proposer else None}
    return json.dumps(data)


def _flight(data: dict[str, Any]) -> Flight:
    d = data.pop("dialogue")
    dialogue = Dialogue(Role[d["role"]], State[d["state"]],
                        Role[d["proposer"]] if d["proposer"] else None)
    serials = [(int(serial), float(t)) for serial, t in data.pop("serials", [])]
    return Flight(**data, dialogue=dialogue, serials=serials)


class SqliteStore:
    """``HandoffStore`` in one SQLite file (WAL: durable across a process crash)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across a process crash
            self.db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            self.db.close()
            raise StoreError(f"{self.path}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def restore(self, engine: Handoff) -> int:
        try:
            saved = self._read()
        except (sqlite3.Error, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(f"{self.path}: not the handoff's state ({exc!r})") from None
        return engine.restore(saved)

    def _read(self) -> Saved:
        rows = [json.loads(text) for (text,) in self.db.execute("SELECT data FROM flights")]
        # rows written before a flight kept its serials: the old table of (peer, serial)
        # -> flight key has them
        legacy = {data["key"] for data in rows if "serials" not in data}
        flights = {f.key: f for f in map(_flight, rows)}
        state = {name: json.loads(data) for name, data in
                 self.db.execute("SELECT name, data FROM state")}
        for _, serial, key in state.get("by_serial", []):
            if key in legacy:
                flights[key].serials.append((int(serial), flights[key].last_sent))
        links = {}
        for peer, link in state.get("links", {}).items():
            pending = {int(k): Pending(**v) for k, v in link.pop("pending").items()}
            links[peer] = Link(**link, pending=pending)
        return Saved(flights=list(flights.values()), removed=[], links=links,
                     seen={peer: Heard.from_json(v) for peer, v in state.get("seen", {}).items()},
                     clock=float(state.get("clock", -float("inf"))))

    def save(self, engine: Handoff) -> None:
        saved = engine.unsaved()
        state: dict[str, Any] = {
            "links": {peer: asdict(link) for peer, link in saved.links.items()},
            "seen": {peer: heard.to_json() for peer, heard in saved.seen.items()},
            "clock": max(saved.clock, NO_CLOCK),
        }
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO flights (key, data) VALUES (?, ?)",
                                [(f.key, _flight_json(f)) for f in saved.flights])
            self.db.executemany("DELETE FROM flights WHERE key = ?",
                                [(key,) for key in saved.removed])
            self.db.executemany("INSERT OR REPLACE INTO state (name, data) VALUES (?, ?)",
                                [(name, json.dumps(value)) for name, value in state.items()])
