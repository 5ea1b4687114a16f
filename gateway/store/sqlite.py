"""The handoff's state in an SQLite file (the embedded default store).

What is kept is ``state.Saved``: every flight's dialogue (one row each, its serials in it),
each link's next serial and the messages still awaiting their LAM, the peers' recent
serials (to recognise a message sent again) and the data clock, and the fused ids'
sequence and identity map (state row ``ids``; a file without it: nothing seen); not the
tracks (``Saved``
says why).  Written in one transaction after every call that changed any of it, before the
caller publishes what the call returned (``HandoffStore`` says why).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import msgspec

from gateway.associate.identity import Identities
from gateway.associate.takeover import states
from gateway.handoff.dialogue import Dialogue, Heard, Link, Pending, Role, State
from gateway.handoff.engine import Handoff
from gateway.handoff.state import Flight, Saved
from gateway.messages import FlightPlan
from gateway.store import StoreError

# Layout version 1: one row per flight, named JSON state rows.  A file is ours when its
# application_id says so; a file of version 0 (written before the id and the version were
# set) is recognised by its exact tables.  A newer version is refused: this gateway would
# misread it.  MIGRATIONS[n] takes an open transaction from version n to n + 1.
APPLICATION_ID = int.from_bytes(b"AXGW", "big")
VERSION = 1
TABLES = {"flights": ["key", "data"], "state": ["name", "data"]}
SCHEMA = """
CREATE TABLE flights (key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE state (name TEXT PRIMARY KEY, data TEXT NOT NULL);
"""
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    # version 0 had the same tables; it only lacked the marks set after each migration
    0: lambda db: None,
}
MEMORY = ":memory:"  # [handoff] database: no file, the dialogues in memory only
BUSY_TIMEOUT_S = 1.0  # another process writing: each save waits this long at most
NO_CLOCK = -1e300  # JSON has no -infinity: the clock of an engine that has seen no data


def _flight_json(f: Flight) -> str:
    data = asdict(f)
    data["dialogue"] = {"role": f.dialogue.role.name, "state": f.dialogue.state.name,
                        "proposer": f.dialogue.proposer.name if f.dialogue.proposer else None}
    data["plan"] = None if f.plan is None else msgspec.to_builtins(f.plan)
    return json.dumps(data)


def state_row(saved: Saved, ids_next: Any, tracks_next: Any = None) -> dict[str, Any]:
    """The engine's state beside its flights (links, what was heard, the clock), the
    fused ids' sequence and the live tracks (each when handed in), as every store keeps
    it."""
    state: dict[str, Any] = {
        "links": {peer: asdict(link) for peer, link in saved.links.items()},
        "seen": {peer: heard.to_json() for peer, heard in saved.seen.items()},
        "clock": max(saved.clock, NO_CLOCK),
    }
    if ids_next is not None:
        state["ids"] = ids_next
    if tracks_next is not None:
        state["tracks"] = tracks_next
    return state


def _flight(data: dict[str, Any]) -> Flight:
    """A stored row (one written before flights kept their plan has none: no plan)."""
    d = data.pop("dialogue")
    dialogue = Dialogue(Role[d["role"]], State[d["state"]],
                        Role[d["proposer"]] if d["proposer"] else None)
    serials = [(int(serial), float(t)) for serial, t in data.pop("serials", [])]
    plan = data.pop("plan", None)
    return Flight(**data, dialogue=dialogue, serials=serials,
                  plan=None if plan is None else msgspec.convert(plan, FlightPlan))


class SqliteStore:
    """``HandoffStore`` in one SQLite file (WAL: durable across a process crash).

    Opening checks, before anything is written, that the file is an intact database
    (``quick_check``) and ours (``application_id``, or version 0's exact tables) of a
    version this gateway knows, migrates an older version of ours, and writes once, so
    that a read-only file, a read-only folder or a full disk fail here, at start, and
    never extends someone else's database.  Every failure is a ``StoreError`` of one line
    naming the file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise StoreError(self._reason(exc)) from None
        try:
            self._open()
            self._load()  # rows it cannot read fail the start, not the first restore
            self.identities()
        except sqlite3.Error as exc:
            self.db.close()
            raise StoreError(self._reason(exc)) from None
        except StoreError:
            self.db.close()
            raise
        self._inode = self._identity()
        self._failed = False
        self._ids_next: dict[str, Any] | None = None
        self._tracks_next: dict[str, Any] | None = None

    def _reason(self, exc: BaseException) -> str:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, sqlite3.Error) and ("unable to open" in text
                                               or "readonly" in text):
            # SQLite says the same for a missing folder, a read-only one and a read-only
            # file (WAL needs its two files beside it): say which
            folder = os.path.dirname(os.path.abspath(self.path))
            if os.path.exists(self.path) and not os.access(self.path, os.W_OK):
                text += " (the file is read-only)"
            elif not os.access(folder, os.W_OK):
                text += f" ({folder} is missing or read-only)"
        return f"{self.path}: {text}"

    def _identity(self) -> tuple[int, int] | None:
        """The file's (device, inode): one removed or replaced while open is noticed."""
        if self.path == MEMORY:
            return None
        st = os.stat(self.path)
        return st.st_dev, st.st_ino

    def _open(self) -> None:
        db = self.db
        problems = [line for (row,) in db.execute("PRAGMA quick_check(5)")
                    for line in str(row).splitlines() if not line.startswith("***")]
        if problems != ["ok"]:
            raise StoreError(f"{self.path}: damaged database "
                             f"({'; '.join(problems[:2])[:160]}; {len(problems)} problems)")
        app, = db.execute("PRAGMA application_id").fetchone()
        version, = db.execute("PRAGMA user_version").fetchone()
        tables = {name: [c[1] for c in db.execute(f"PRAGMA table_info('{name}')")]
                  for (name,) in db.execute(
                      "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if app not in (0, APPLICATION_ID):
            raise StoreError(f"{self.path}: another application's database "
                             f"(application_id {app:#x}); not the handoff's store")
        if app == 0:
            if tables and (tables != TABLES or version != 0):
                raise StoreError(f"{self.path}: not the handoff's store (it has tables "
                                 f"{', '.join(sorted(tables))[:120]})")
            version = 0 if tables else -1  # -1: a new, empty file
        elif version > VERSION:
            raise StoreError(f"{self.path}: written by a newer gateway (layout version "
                             f"{version}; this one knows up to {VERSION})")
        elif tables != TABLES and version == VERSION:
            raise StoreError(f"{self.path}: the handoff's store without its tables "
                             f"({', '.join(sorted(tables)) or 'none'})")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across a process crash
        db.execute("BEGIN IMMEDIATE")
        try:
            if version < 0:
                for statement in filter(str.strip, SCHEMA.split(";")):
                    db.execute(statement)  # executescript would commit the transaction
                version = VERSION
            while version < VERSION:
                MIGRATIONS[version](db)
                version += 1
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {VERSION}")  # one write: unwritable fails now
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()

    def restore(self, engine: Handoff) -> int:
        return engine.restore(self._load())

    def identities(self) -> dict[str, Any] | None:
        try:
            row = self.db.execute("SELECT data FROM state WHERE name = 'ids'").fetchone()
            data = None if row is None else json.loads(row[0])
            Identities("").load(data)  # its shape checked here: a bad row fails the start
        except (sqlite3.Error, ValueError) as exc:
            raise StoreError(f"{self.path}: not the handoff's state ({exc!r})"[:300]) from None
        return data

    def keep_identities(self, data: dict[str, Any]) -> None:
        self._ids_next = data

    def live_tracks(self) -> dict[str, Any] | None:
        try:
            row = self.db.execute("SELECT data FROM state WHERE name = 'tracks'").fetchone()
            data = None if row is None else json.loads(row[0])
            states(data)
        except (sqlite3.Error, ValueError) as exc:
            raise StoreError(f"{self.path}: not the handoff's state ({exc!r})"[:300]) from None
        return data

    def keep_tracks(self, data: dict[str, Any]) -> None:
        self._tracks_next = data

    def _load(self) -> Saved:
        try:
            return self._read()
        except (sqlite3.Error, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(f"{self.path}: not the handoff's state ({exc!r})"[:300]) from None

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
        """``StoreError`` (one line) when it cannot be written: the transaction is rolled
        back, so what was stored before stays as it was.  A file removed or replaced
        while open is such a failure too (SQLite would go on writing to the removed one,
        and the state would be gone at the next start)."""
        try:
            if self._identity() != self._inode:
                raise StoreError(f"{self.path}: replaced while the gateway ran")
            self._write(engine)
        except FileNotFoundError:
            self._failing(True)
            raise StoreError(f"{self.path}: removed while the gateway ran") from None
        except (sqlite3.Error, OSError) as exc:
            self._failing(True)
            raise StoreError(self._reason(exc)) from None
        except StoreError:
            self._failing(True)
            raise
        self._failing(False)
        self._ids_next = self._tracks_next = None

    def _failing(self, failing: bool) -> None:
        """Once a save has failed, the next ones (the caller tries again at every call)
        do not wait for a lock: a locked store would otherwise hold the whole pipeline,
        the picture too, for ``BUSY_TIMEOUT_S`` at every call."""
        if failing != self._failed:
            self._failed = failing
            try:
                wait_ms = 0 if failing else int(BUSY_TIMEOUT_S * 1000)
                self.db.execute(f"PRAGMA busy_timeout = {wait_ms}")
            except sqlite3.Error:
                pass  # the next save says what is wrong

    def _write(self, engine: Handoff) -> None:
        saved = engine.unsaved()
        state = state_row(saved, self._ids_next, self._tracks_next)
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO flights (key, data) VALUES (?, ?)",
                                [(f.key, _flight_json(f)) for f in saved.flights])
            self.db.executemany("DELETE FROM flights WHERE key = ?",
                                [(key,) for key in saved.removed])
            self.db.executemany("INSERT OR REPLACE INTO state (name, data) VALUES (?, ?)",
                                [(name, json.dumps(value)) for name, value in state.items()])
