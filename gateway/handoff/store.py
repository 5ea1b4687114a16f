"""Dialogue state on disk (SQLite), so that a restart neither repeats nor loses a message.

What is kept: every flight's dialogue, each link's next serial and the messages still
awaiting their LAM, which of our serials belong to which flight, the peers' recent serials
(to recognise a message sent again) and the tracks already alerted.  Written in one
transaction after every call that changed any of it, before the caller publishes what
the call returned: a crash before the commit leaves the state as if the call never
happened (nothing of it was published); a crash after it leaves the messages recorded as
sent and awaiting LAM, so they are sent again, with the same serials, until acknowledged.

What is not kept: the per-track prediction counters (rebuilt within a few updates).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gateway.handoff.dialogue import Dialogue, Link, Pending, Role, State
from gateway.handoff.engine import Flight, Handoff

SCHEMA = """
CREATE TABLE IF NOT EXISTS flights (key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, data TEXT NOT NULL);
"""


def _flight_json(f: Flight) -> str:
    data = asdict(f)
    data["dialogue"] = {"role": f.dialogue.role.name, "state": f.dialogue.state.name,
                        "proposer": f.dialogue.proposer.name if f.dialogue.proposer else None}
    return json.dumps(data)


def _flight(text: str) -> Flight:
    data = json.loads(text)
    d = data.pop("dialogue")
    dialogue = Dialogue(Role[d["role"]], State[d["state"]],
                        Role[d["proposer"]] if d["proposer"] else None)
    return Flight(**data, dialogue=dialogue)


class Store:
    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across a process crash
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def restore(self, engine: Handoff) -> int:
        """Put the stored state into a fresh engine; returns how many flights."""
        for (text,) in self.db.execute("SELECT data FROM flights"):
            f = _flight(text)
            engine.flights[f.key] = f
            engine.by_track.setdefault(f.track_id, []).append(f.key)
        state = {name: json.loads(data) for name, data in
                 self.db.execute("SELECT name, data FROM state")}
        for peer, link in state.get("links", {}).items():
            pending = {int(k): Pending(**v) for k, v in link.pop("pending").items()}
            engine.links[peer] = Link(**link, pending=pending)
        engine.by_serial = {(peer, int(serial)): key
                            for peer, serial, key in state.get("by_serial", [])}
        engine.seen = {peer: list(v) for peer, v in state.get("seen", {}).items()}
        engine.alerted = set(state.get("alerted", []))
        engine.clock = engine.resume_after = float(state.get("clock", engine.clock))
        return len(engine.flights)

    def save(self, engine: Handoff) -> None:
        """The flights the last call changed and the link state, in one transaction."""
        links = {peer: asdict(link) for peer, link in engine.links.items()}
        state: dict[str, Any] = {
            "links": links,
            "by_serial": [[p, s, k] for (p, s), k in engine.by_serial.items()],
            "seen": engine.seen,
            "alerted": sorted(engine.alerted),
            "clock": engine.clock if engine.clock > -1e300 else -1e300,
        }
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR REPLACE INTO flights (key, data) VALUES (?, ?)",
                [(key, _flight_json(engine.flights[key])) for key in engine.changed
                 if key in engine.flights])
            self.db.executemany("DELETE FROM flights WHERE key = ?",
                                [(key,) for key in engine.removed])
            self.db.executemany("INSERT OR REPLACE INTO state (name, data) VALUES (?, ?)",
                                [(name, json.dumps(value)) for name, value in state.items()])
