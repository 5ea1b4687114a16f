"""The handoff's state in PostgreSQL, shared by a redundant pair (``[store] url``).

The same state as ``sqlite.SqliteStore`` (its rows and their JSON), keyed by the gateway
id so that several gateways may share one database, plus the lease row (``lease.Lease``
says why a lease with a fencing epoch).  Every save checks, in its own transaction, that
this process holds the live lease of its epoch (``SELECT ... FOR SHARE``: a takeover's
update waits for the save's commit, and a save after a takeover finds no row), so a
stale leader's write is refused (``Fenced``).

Every session sets TCP keepalives (a peer that is gone is noticed in seconds, not the
kernel's 2 hours), ``tcp_user_timeout`` (unacknowledged writes), a connect timeout and a
statement timeout: no call blocks for long on a database or network that is gone.  The
lease is renewed by a thread of its own, on its own session, so that a long pipeline call
neither loses nor keeps the lease by accident.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from gateway.associate.identity import Identities
from gateway.associate.takeover import states
from gateway.handoff.dialogue import Heard, Link, Pending
from gateway.handoff.engine import Handoff
from gateway.handoff.state import Saved
from gateway.store import StoreError
from gateway.store.lease import Lease
from gateway.store.sqlite import _flight, _flight_json, state_row

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS gateway_lease (
    gateway TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT NULL CHECK (epoch > 0),
    expires_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS gateway_flights (
    gateway TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (gateway, key));
CREATE TABLE IF NOT EXISTS gateway_state (
    gateway TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (gateway, name));
"""
# Take a lapsed lease (epoch + 1) or renew our own live one; no row: another holds it.
ACQUIRE = """
INSERT INTO gateway_lease AS l (gateway, holder, epoch, expires_at)
VALUES (%(gateway)s, %(holder)s, 1, clock_timestamp() + make_interval(secs => %(lease_s)s))
ON CONFLICT (gateway) DO UPDATE SET
    holder = EXCLUDED.holder,
    epoch = CASE WHEN l.holder = EXCLUDED.holder AND l.epoch = %(mine)s
                 AND l.expires_at > clock_timestamp() THEN l.epoch ELSE l.epoch + 1 END,
    expires_at = EXCLUDED.expires_at
WHERE (l.holder = EXCLUDED.holder AND l.epoch = %(mine)s AND l.expires_at > clock_timestamp())
   OR l.expires_at <= clock_timestamp()
RETURNING epoch
"""
FENCE = """
SELECT epoch FROM gateway_lease WHERE gateway = %s AND holder = %s AND epoch = %s
AND expires_at > clock_timestamp() FOR SHARE
"""

RELEASE = """
UPDATE gateway_lease SET expires_at = clock_timestamp()
WHERE gateway = %s AND holder = %s AND epoch = %s
"""


class Fenced(StoreError):
    """A write refused: this process does not hold the live lease of its epoch."""


def connect(url: str, statement_timeout_ms: int) -> psycopg.Connection[Any]:
    """A session that notices a dead peer in seconds (keepalives, ``tcp_user_timeout``)
    and never waits long for an answer (connect and statement timeouts)."""
    try:
        return psycopg.connect(
            url, autocommit=True, connect_timeout=max(1, statement_timeout_ms // 1000),
            keepalives=1, keepalives_idle=1, keepalives_interval=1, keepalives_count=3,
            tcp_user_timeout=max(statement_timeout_ms, 1000),
            options=f"-c statement_timeout={statement_timeout_ms} "
                    f"-c idle_in_transaction_session_timeout={4 * statement_timeout_ms}")
    except psycopg.Error as exc:
        raise StoreError(f"{_safe(url)}: {_line(exc)}") from None


def _safe(url: str) -> str:
    """The URL without its password (it goes to logs and errors)."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{creds.partition(':')[0]}{at}{host}" if at else url


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


class PostgresStore:
    """``HandoffStore`` in PostgreSQL with a lease (``lease`` is its local view)."""

    def __init__(self, url: str, gateway: str, *, lease_s: float = 3.0, renew_s: float = 1.0,
                 statement_timeout_ms: int = 2000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url, self.gateway = url, gateway
        self.where = _safe(url)
        self.statement_timeout_ms = statement_timeout_ms
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
        self.lease = Lease(lease_s=lease_s, renew_s=renew_s)
        self.clock = clock
        self.lock = threading.Lock()  # the lease's view, between the thread and the loop
        self.db = connect(url, statement_timeout_ms)
        try:
            with self.db.transaction():
                self.db.execute("SELECT pg_advisory_xact_lock(hashtext('gateway_schema'))")
                for statement in filter(str.strip, SCHEMA.split(";")):
                    self.db.execute(statement)
            self._load()
            self.identities()
        except psycopg.Error as exc:
            self.db.close()
            raise StoreError(f"{self.where}: {_line(exc)}") from None
        self._ids_next: dict[str, Any] | None = None
        self._tracks_next: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lease_db: psycopg.Connection[Any] | None = None

    # -- the lease ---------------------------------------------------------------------------

    def start_lease(self) -> None:
        """Renew (or wait to take) the lease in a thread until ``close``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._renewing, name="lease", daemon=True)
            self._thread.start()

    def active(self) -> bool:
        with self.lock:
            return self.lease.active(self.clock())

    def epoch(self) -> int:
        with self.lock:
            return self.lease.epoch

    def check(self) -> str | None:
        with self.lock:
            return self.lease.check(self.clock())

    def renew_once(self) -> None:
        """One attempt to take or renew the lease (the thread's step; tests call it)."""
        sent = self.clock()
        with self.lock:
            mine = self.lease.held()
        try:
            if self._lease_db is None or self._lease_db.closed:
                self._lease_db = connect(self.url, self.statement_timeout_ms)
            row = self._lease_db.execute(ACQUIRE, {
                "gateway": self.gateway, "holder": self.holder, "mine": mine,
                "lease_s": self.lease.lease_s}).fetchone()
        except (psycopg.Error, StoreError) as exc:
            with self.lock:
                self.lease.failed(sent)
                n = self.lease.errors
            if n <= 10 or n % 100 == 0:
                log.warning("lease: no answer from %s (%d so far): %s", self.where, n,
                            _line(exc))
            if self._lease_db is not None:
                self._lease_db.close()
            return
        with self.lock:
            self.lease.answered(sent, None if row is None else int(row[0]))

    def _renewing(self) -> None:
        while not self._stop.is_set():
            with self.lock:
                wait = self.lease.next_attempt - self.clock()
            if wait > 0:
                self._stop.wait(min(wait, 0.05))
                continue
            self.renew_once()

    # -- the handoff store -------------------------------------------------------------------

    def restore(self, engine: Handoff) -> int:
        return engine.restore(self._load())

    def identities(self) -> dict[str, Any] | None:
        try:
            row = self.db.execute("SELECT data FROM gateway_state WHERE gateway = %s AND "
                                  "name = 'ids'", (self.gateway,)).fetchone()
            data = None if row is None else json.loads(row[0])
            Identities("").load(data)
        except (psycopg.Error, ValueError) as exc:
            raise StoreError(f"{self.where}: not the handoff's state ({_line(exc)})") from None
        return data

    def keep_identities(self, data: dict[str, Any]) -> None:
        self._ids_next = data

    def live_tracks(self) -> dict[str, Any] | None:
        try:
            row = self.db.execute("SELECT data FROM gateway_state WHERE gateway = %s AND "
                                  "name = 'tracks'", (self.gateway,)).fetchone()
            data = None if row is None else json.loads(row[0])
            states(data)
        except (psycopg.Error, ValueError) as exc:
            raise StoreError(f"{self.where}: not the handoff's state ({_line(exc)})") from None
        return data

    def keep_tracks(self, data: dict[str, Any]) -> None:
        self._tracks_next = data

    def _load(self) -> Saved:
        try:
            rows = [json.loads(text) for (text,) in self.db.execute(
                "SELECT data FROM gateway_flights WHERE gateway = %s", (self.gateway,))]
            state = {name: json.loads(data) for name, data in self.db.execute(
                "SELECT name, data FROM gateway_state WHERE gateway = %s", (self.gateway,))}
            links = {}
            for peer, link in state.get("links", {}).items():
                pending = {int(k): Pending(**v) for k, v in link.pop("pending").items()}
                links[peer] = Link(**link, pending=pending)
            return Saved(flights=[_flight(r) for r in rows], removed=[], links=links,
                         seen={peer: Heard.from_json(v)
                               for peer, v in state.get("seen", {}).items()},
                         clock=float(state.get("clock", -float("inf"))))
        except (psycopg.Error, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StoreError(f"{self.where}: not the handoff's state ({_line(exc)})") from None

    def save(self, engine: Handoff) -> None:
        """In one transaction that first checks the lease (``Fenced`` if not ours);
        ``StoreError`` (one line) when it cannot be written: nothing of it is kept."""
        saved = engine.unsaved()
        state = state_row(saved, self._ids_next, self._tracks_next)
        epoch = self.epoch()
        try:
            if self.db.closed:
                self.db = connect(self.url, self.statement_timeout_ms)
            with self.db.transaction():
                if self.db.execute(FENCE, (self.gateway, self.holder, epoch)).fetchone() is None:
                    raise Fenced(f"{self.where}: write refused: this process does not hold "
                                 f"the lease of epoch {epoch} (fenced)")
                with self.db.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO gateway_flights (gateway, key, data) VALUES (%s, %s, %s) "
                        "ON CONFLICT (gateway, key) DO UPDATE SET data = EXCLUDED.data",
                        [(self.gateway, f.key, _flight_json(f)) for f in saved.flights])
                    cur.executemany(
                        "DELETE FROM gateway_flights WHERE gateway = %s AND key = %s",
                        [(self.gateway, key) for key in saved.removed])
                    cur.executemany(
                        "INSERT INTO gateway_state (gateway, name, data) VALUES (%s, %s, %s) "
                        "ON CONFLICT (gateway, name) DO UPDATE SET data = EXCLUDED.data",
                        [(self.gateway, name, json.dumps(value))
                         for name, value in state.items()])
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: {_line(exc)}") from None
        self._ids_next = self._tracks_next = None

    def close(self) -> None:
        """Stop renewing; a lease still held is given up (lapsed now), so that the standby
        takes over at its next try rather than ``lease_s`` later (a graceful stop)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.active():
            try:
                self.db.execute(RELEASE, (self.gateway, self.holder, self.epoch()))
            except psycopg.Error as exc:
                log.warning("lease: not given up (it lapses by itself): %s", _line(exc))
        for db in (self.db, self._lease_db):
            if db is not None:
                db.close()
