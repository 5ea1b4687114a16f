"""Stores that fail well, through the real ``replay`` command: a store that cannot be used
is one line naming the file and exit 2 at start; one that fails while running suspends
the handoff (nothing published that is not stored), keeps what it holds, and the run
ends with exit 1 naming the failure, or resumes when the store works again; a stored
clock ahead of the data is reported and, beyond ``clock_margin_s``, gives way."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import pytest
from waiting import wait_until

from gateway.config import loads
from gateway.handoff.engine import Handoff
from gateway.handoff.state import Flight
from gateway.messages import Aidc, encode
from gateway.pipeline import Pipeline
from gateway.store import StoreError
from gateway.store.memory import MemoryStore
from gateway.store.sqlite import APPLICATION_ID, VERSION, SqliteStore, _flight_json

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "captures" / "border-10min.pcap.gz"
SMALL = ROOT / "captures" / "decoder-sample.pcap"
T_START = 1779868800.0  # the border capture's first second (10 minutes long)
MAIN_SCHEMA = """
CREATE TABLE IF NOT EXISTS flights (key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, data TEXT NOT NULL);
"""  # the layout the gateway wrote before it marked its files (version 0)


def write_config(tmp_path: Path, database: str | Path, extra: str = "") -> Path:
    text = (ROOT / "captures" / "border.toml").read_text()
    airspace = ROOT / "captures" / "border-airspace.geojson"
    path = tmp_path / "gw.toml"
    path.write_text(text.replace('airspace = "border-airspace.geojson"',
                                 f'airspace = "{airspace}"\ndatabase = "{database}"\n{extra}'))
    return path


def run_config(tmp_path: Path, database: Path, metrics_port: int) -> Path:
    """The border config for ``run``: its inputs, no broker (``--out`` is the sink)."""
    path = write_config(tmp_path, database)
    text = path.read_text().replace('[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n'
                                    'topic_prefix = "surv/v1"\n', "")
    path.write_text(text + f"\n[metrics]\nport = {metrics_port}\n")
    return path


def closed(database: Path) -> bool:
    """SQLite removes the WAL file when the last connection closes (checkpointed): a
    process that ends without closing its store leaves it behind."""
    return database.exists() and not Path(f"{database}-wal").exists()


def replay_args(config: Path, capture: Path = SMALL) -> list[str]:
    return [sys.executable, "-m", "gateway.cli", "replay", str(capture), "--config",
            str(config), "--out", str(config.parent / "out.jsonl"), "--speed", "max"]


def replay(config: Path, capture: Path = SMALL,
           *more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*replay_args(config, capture), *more], capture_output=True,
                          text=True, timeout=600)


def refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2 and one line holding every word."""
    assert result.returncode == 2, result.stderr[-3000:]
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("asterix-gateway: [handoff] database ") or "database" in err, err
    for word in words:
        assert word in err, (word, err)
    return err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def handoff_lines(path: Path) -> list[str]:
    """What the handoff published (AIDC and alerts), in a stable order."""
    with open(path) as f:
        return sorted(line for line in f if line.startswith(('{"kind":"aidc"',
                                                             '{"kind":"alert"')))


# -- opening: one line, exit 2, nothing written to a file that is not ours ---------------------

def test_a_foreign_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        c.execute("INSERT INTO users VALUES (1, 'ana')")
    c.close()
    before = digest(db)
    refused(replay(write_config(tmp_path, db)), str(db), "not the handoff's store",
            "tables users")
    assert digest(db) == before
    with sqlite3.connect(db) as c:
        assert [n for (n,) in c.execute("SELECT name FROM sqlite_master")] == ["users"]
    c.close()


def test_another_applications_file_with_our_tables_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    c = sqlite3.connect(db)
    c.executescript(MAIN_SCHEMA + "PRAGMA application_id = 4660;")
    c.close()
    before = digest(db)
    refused(replay(write_config(tmp_path, db)),
            "another application's database (application_id 0x1234)")
    assert digest(db) == before


def test_a_store_of_a_newer_layout_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    c = sqlite3.connect(db)
    c.executescript(MAIN_SCHEMA + f"PRAGMA application_id = {APPLICATION_ID};"
                    f"PRAGMA user_version = {VERSION + 1};")
    c.close()
    refused(replay(write_config(tmp_path, db)), "newer gateway",
            f"layout version {VERSION + 1}; this one knows up to {VERSION}")


def test_a_damaged_store_is_one_line(tmp_path: Path) -> None:
    """The damage is in an index that reading the state never uses: before, the store
    opened, was restored and used (exit 0) until a save touched the index."""
    db = tmp_path / "h.sqlite"
    store = SqliteStore(db)
    flights = [Flight(f"k{n}", f"T{n}", "MMTY", "KZHU", f"AAL{n}", None, "ZZZZZ", 0.0, None)
               for n in range(200)]
    store.db.executemany("INSERT INTO flights VALUES (?, ?)",
                         [(f.key, _flight_json(f)) for f in flights])
    page, = store.db.execute("SELECT rootpage FROM sqlite_master "
                             "WHERE name = 'sqlite_autoindex_flights_1'").fetchone()
    store.close()
    data = bytearray(db.read_bytes())
    data[(page - 1) * 4096 + 8:(page - 1) * 4096 + 72] = b"\xff" * 64
    db.write_bytes(bytes(data))
    err = refused(replay(write_config(tmp_path, db)), str(db))
    assert "damaged database" in err or "malformed" in err, err


def test_the_layout_main_wrote_is_recognised_and_migrated(tmp_path: Path) -> None:
    """Version 0: the same tables, no application_id, no version; a clock stored in it."""
    db = tmp_path / "h.sqlite"
    c = sqlite3.connect(db)
    c.executescript(MAIN_SCHEMA + "PRAGMA journal_mode=WAL;")
    c.execute("INSERT INTO state VALUES ('clock', '1.5')")
    c.commit()
    c.close()
    result = replay(write_config(tmp_path, db))
    assert result.returncode == 0, result.stderr[-3000:]
    c = sqlite3.connect(db)
    assert c.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
    assert c.execute("PRAGMA user_version").fetchone() == (VERSION,)
    # the stored clock survived the migration (the replay may have moved it on since: a
    # Mode S track is confirmed at its first plot, so the sample's tracks reach the engine)
    clock, = c.execute("SELECT data FROM state WHERE name = 'clock'").fetchone()
    assert float(clock) >= 1.5
    c.close()
    SqliteStore(db).close()  # and opened again as the current version


def test_an_empty_database_setting_is_an_error(tmp_path: Path) -> None:
    result = replay(write_config(tmp_path, ""))
    assert result.returncode == 2, result.stderr[-3000:]
    err = result.stderr.strip()
    assert "\n" not in err and "'database'" in err and ":memory:" in err, err


def test_in_memory_is_an_explicit_choice_with_a_warning(tmp_path: Path) -> None:
    result = replay(write_config(tmp_path, ":memory:"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "kept in memory only; a restart loses them" in result.stderr
    assert not (tmp_path / ":memory:").exists()


# -- unwritable and full, in a mount namespace of our own (root or not) ------------------------

def _namespaces() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs none /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


namespaces = pytest.mark.skipif(not _namespaces(),
                                reason="needs unshare -rm and tmpfs in a user namespace")


def in_namespace(script: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``script`` (sh) in a user and mount namespace of its own: it may mount tmpfs where
    it likes (its mounts vanish with it), as any user, with no privilege outside."""
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True,
                          text=True, timeout=timeout)


def seed_store(path: Path) -> None:
    """A store of the current layout, closed (its WAL checkpointed and removed)."""
    SqliteStore(path).close()


def sh(args: list[str]) -> str:
    return " ".join(f"'{a}'" for a in args)


def replay_on_tmpfs(tmp_path: Path, options: str,
                    then: str = "true") -> tuple[subprocess.CompletedProcess[str], Path]:
    """``replay`` with its store at ``disk/h.sqlite``, ``disk`` a tmpfs mounted with
    ``options``; ``then`` (sh, with ``{seed}``: a closed store, and ``{disk}``) prepares it."""
    seed, disk = tmp_path / "seed.sqlite", tmp_path / "disk"
    seed_store(seed)
    disk.mkdir()
    config = write_config(tmp_path, disk / "h.sqlite")
    result = in_namespace(f"mount -t tmpfs -o {options} none {disk} && "
                          f"{then.format(seed=seed, disk=disk)} && "
                          f"exec {sh(replay_args(config))}")
    return result, disk


@namespaces
def test_a_read_only_store_is_one_line_at_start(tmp_path: Path) -> None:
    """The file exists and reads well: before, the first save was a traceback."""
    result, disk = replay_on_tmpfs(
        tmp_path, "rw", "cp {seed} {disk}/h.sqlite && mount -o remount,ro {disk}")
    refused(result, f"{disk}/h.sqlite", "the file is read-only")


@namespaces
def test_a_store_in_a_read_only_folder_is_one_line_at_start(tmp_path: Path) -> None:
    result, disk = replay_on_tmpfs(tmp_path, "ro")
    refused(result, f"{disk}/h.sqlite", "unable to open database file",
            f"({disk} is missing or read-only)")


@namespaces
def test_a_store_on_a_full_disk_is_one_line_at_start(tmp_path: Path) -> None:
    result, disk = replay_on_tmpfs(
        tmp_path, "size=256k",
        "cp {seed} {disk}/h.sqlite && (dd if=/dev/zero of={disk}/fill bs=4k 2>/dev/null || true)")
    refused(result, f"{disk}/h.sqlite", "full")


# -- failing while running ---------------------------------------------------------------------

class Stderr:
    """A process's stderr read to the end in a thread (so that it never blocks)."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)

    def has(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def join(self) -> str:
        self._thread.join(30)
        return "".join(self.lines)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The handoff's output of an uninterrupted replay of the border capture."""
    where = tmp_path_factory.mktemp("reference")
    result = replay(write_config(where, where / "h.sqlite"), CAPTURE)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = handoff_lines(where / "out.jsonl")
    assert sum('"msg":"ABI"' in line for line in lines) >= 15
    return lines


@pytest.mark.slow
@namespaces
def test_a_disk_that_fills_while_running_keeps_what_was_stored(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    config = write_config(tmp_path, disk / "h.sqlite")
    check = (f"import sqlite3; c = sqlite3.connect('file:{disk}/h.sqlite?mode=ro', uri=True); "
             "print('CHECK', c.execute('PRAGMA quick_check').fetchone()[0], "
             "c.execute('SELECT count(*) FROM flights').fetchone()[0])")
    # 600 KiB of tmpfs, 300 of them filled: the store's WAL fills the rest within the run
    result = in_namespace(
        f"mount -t tmpfs -o size=600k none {disk} && "
        f"dd if=/dev/zero of={disk}/fill bs=4k count=75 2>/dev/null && "
        f"{sh(replay_args(config, CAPTURE))}; echo RC=$?; rm {disk}/fill; "
        f"{sys.executable} -c \"{check}\"")
    out, err = result.stdout, result.stderr
    assert "RC=1" in out, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert err.count("the store cannot save") == 1, err[-3000:]  # logged once
    assert "database or disk is full" in err
    assert "replay: ended with a failure: handoff-store: " in err
    assert "store-failures=" in err
    [check_line] = [line for line in out.splitlines() if line.startswith("CHECK")]
    _, integrity, flights = check_line.split()
    assert integrity == "ok" and int(flights) > 0  # what was stored before is kept


@pytest.mark.slow
def test_a_store_removed_while_running_fails_the_run(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    proc = subprocess.Popen(replay_args(write_config(tmp_path, db), CAPTURE),
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err = Stderr(proc.stderr)
    try:
        assert wait_until(lambda: (tmp_path / "out.jsonl").exists()
                          and (tmp_path / "out.jsonl").stat().st_size > 0, 120)
        db.unlink()
        assert proc.wait(600) == 1
    finally:
        proc.kill()
    text = err.join()
    assert "Traceback" not in text, text[-3000:]
    assert text.count("the store cannot save") == 1
    assert f"replay: ended with a failure: handoff-store: {db}: removed while the gateway ran" \
        in text
    published = handoff_lines(tmp_path / "out.jsonl")
    assert len(published) < 30  # the handoff was suspended: almost nothing went out


@pytest.mark.slow
def test_a_locked_store_suspends_the_handoff_until_it_saves_again(
        tmp_path: Path, reference: list[str]) -> None:
    """Another process holds the write lock for a while: nothing is published that is not
    stored; once the lock goes, everything held is published and the run ends as an
    uninterrupted one (the same AIDC messages and alerts), with exit 0."""
    db = tmp_path / "h.sqlite"
    proc = subprocess.Popen(replay_args(write_config(tmp_path, db), CAPTURE),
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err = Stderr(proc.stderr)
    out = tmp_path / "out.jsonl"
    locker = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        assert wait_until(lambda: out.exists() and out.stat().st_size > 0, 120)
        locker.execute("BEGIN IMMEDIATE")  # the write lock: every save fails now
        assert wait_until(lambda: err.has("the store cannot save"), 120), err.join()
        # what was published before the lock may still sit in the sink's buffer: once
        # later data is in the file, everything before it is too (the sink keeps order)
        size = out.stat().st_size
        assert wait_until(lambda: out.stat().st_size > size + 1_000_000, 120)
        held_from = len(handoff_lines(out))
        # the data goes on: a minute of it decided while nothing could be stored
        size = out.stat().st_size
        assert wait_until(lambda: out.stat().st_size > size + 5_000_000, 120)
        assert len(handoff_lines(out)) == held_from  # nothing published meanwhile
        locker.execute("ROLLBACK")
        assert proc.wait(600) == 0, err.join()[-3000:]
    finally:
        proc.kill()
        locker.close()
    text = err.join()
    assert "Traceback" not in text and text.count("the store cannot save") == 1
    assert "the store saves again" in text and "store-failures=" in text
    assert handoff_lines(out) == reference


# -- a stored clock ahead of the data ----------------------------------------------------------

def store_with_clock(path: Path, clock: float) -> None:
    store = SqliteStore(path)
    store.db.execute("INSERT INTO state VALUES ('clock', ?)", (json.dumps(clock),))
    store.close()


@pytest.mark.slow
def test_a_stored_clock_far_ahead_gives_way_to_the_data(tmp_path: Path,
                                                       reference: list[str]) -> None:
    """Before: 0 offers (every update was stale data).  The clock is two hours ahead,
    more than clock_margin_s (one hour): the data's time wins, the run is as a fresh one."""
    db = tmp_path / "h.sqlite"
    store_with_clock(db, T_START + 7200)
    result = replay(write_config(tmp_path, db), CAPTURE, "--log-level", "info")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("more than clock_margin_s (3600 s): the stored clock is "
                               "taken for wrong") == 1, result.stderr
    assert "the store's clock is 2026-05-27T10:00:00Z" in result.stderr
    assert "handoff-clock-reset=1" in result.stderr
    assert handoff_lines(tmp_path / "out.jsonl") == reference


@pytest.mark.slow
def test_a_stored_clock_within_the_margin_holds_and_is_reported(tmp_path: Path) -> None:
    """Four minutes ahead, within the margin (a replay started again after a restart): the
    data decides nothing until it passes the stored clock, and says so once."""
    db = tmp_path / "h.sqlite"
    store_with_clock(db, T_START + 240)
    result = replay(write_config(tmp_path, db), CAPTURE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("behind the stored clock (2026-05-27T08:04:00Z): it decides "
                               "nothing until it passes it") == 1, result.stderr
    assert "handoff-stale-data=" in result.stderr
    published = [json.loads(line) for line in handoff_lines(tmp_path / "out.jsonl")]
    assert published and min(m["t"] for m in published) > T_START + 240


# -- closed on every exit path -----------------------------------------------------------------

def test_run_closes_the_store_after_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "--config",
                             str(run_config(tmp_path, db, 0)), "--out",
                             str(tmp_path / "out.jsonl"), "--log-level", "info"],
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err = Stderr(proc.stderr)
    try:
        assert wait_until(lambda: err.has("running: 10 inputs") or proc.poll() is not None,
                          60), err.join()
        assert Path(f"{db}-wal").exists()  # open
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, err.join()[-3000:]
    finally:
        proc.kill()
    assert closed(db), err.join()[-3000:]


def test_run_closes_the_store_when_it_fails_to_start(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    with socket.socket() as busy:  # the metrics port is taken: run fails after opening
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = subprocess.run([sys.executable, "-m", "gateway.cli", "run", "--config",
                                 str(run_config(tmp_path, db, busy.getsockname()[1])),
                                 "--out", str(tmp_path / "out.jsonl")],
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "[metrics]" in result.stderr, result.stderr[-3000:]
    assert closed(db)


# -- the pipeline's side of a failing store, call by call --------------------------------------

def test_the_pipeline_holds_what_it_cannot_store_and_publishes_it_once_stored(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Flaky(MemoryStore):
        failing = True

        def save(self, engine: Handoff) -> None:
            if self.failing:
                raise StoreError("h.sqlite: database or disk is full")
            super().save(engine)

    store = Flaky()
    config = loads(write_config(tmp_path, tmp_path / "h.sqlite").read_text(),
                   str(tmp_path / "gw.toml"))
    pipeline = Pipeline(config, store)

    def garbage(serial: int) -> bytes:  # each is refused: an LRM to publish
        return encode(Aidc(t=T_START, msg="ACP", from_="KZHU", to="MMTY", serial=serial,
                           ref=None, track_id=None, callsign=None,
                           text=f"(ACPKZHU/MMTY{serial:03d}-GARBAGE"))

    caplog.set_level(logging.WARNING)
    assert pipeline.receive_aidc(garbage(1), T_START) == []
    assert pipeline.receive_aidc(garbage(2), T_START + 1) == []
    assert pipeline.failures == {"handoff-store": "h.sqlite: database or disk is full"}
    assert pipeline.counters()["store-failures"] == 2 and store.saves == 0
    assert sum("the store cannot save" in r.message for r in caplog.records) == 1
    store.failing = False
    [batch] = pipeline.receive_aidc(garbage(3), T_START + 2)
    assert [m.msg for m in batch.messages] == ["LRM"] * 3  # the two held, then the new one
    assert [m.serial for m in batch.messages] == [1, 2, 3]
    assert pipeline.failures == {} and store.saves == 1
    assert store.links["MMTY/KZHU"].next_serial == 4  # all three stored before they went out
