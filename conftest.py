"""Fixtures shared by tests/ and benchmarks/: a real Mosquitto broker on a free port, a
real three-node NATS cluster (``nats_cluster``), and a private PostgreSQL (``postgres``)
for the shared store of a redundant pair.

Tests never use the machine's broker on 1883: each gets its own, started here, so that
they can kill and restart it.  ``.ci/run`` installs the Debian package if it is missing.
"""

from __future__ import annotations

import os
import platform
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# tests/ holds the cluster's helper (tests import it as ``nats_cluster``, pytest putting
# tests/ on the path for them); the fixture below serves benchmarks/ too, so the path is
# made sure of here: one module, whatever other package named ``tests`` is installed.
sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))
from nats_cluster import NATS, NatsCluster  # noqa: E402

# epoll_wait, epoll_pwait, epoll_pwait2: where an idle Mosquitto (Linux) waits.
_EPOLL_WAITS = {"x86_64": {232, 281, 441}, "aarch64": {22, 441}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    """One mosquitto process on 127.0.0.1:port; ``kill`` and ``start`` again at will."""

    def __init__(self, directory: Path, port: int | None = None,
                 listener: str = "allow_anonymous true\n", *, persistence: bool = False,
                 autosave: str = "", max_queued_messages: int = 100_000,
                 password_file: Path | None = None, acl_file: Path | None = None,
                 extra: str = "", config: str | None = None) -> None:
        """``listener``: more configuration for the listener (TLS files, password file).
        ``persistence``: keep sessions and queued messages in ``store/`` across restarts,
        saved as ``autosave`` says (e.g. "autosave_interval 1\nautosave_on_changes true\n";
        Mosquitto's default: every 1800 s).  ``password_file``, ``acl_file``: the
        listener's, with anonymous clients refused.  ``extra``: more global lines.
        ``config``: the whole configuration instead, a template with ``{port}``,
        ``{directory}`` and ``{user}`` (a shipped example, tried as it is)."""
        self.port = port or _free_port()
        self.directory = directory
        self.store = directory / "store"
        self.conf = directory / "mosquitto.conf"
        # Started as root, mosquitto drops to the user "mosquitto", who cannot read the
        # test's files (pytest's temporary directories are private): stay who we are.
        user = "user root\n" if os.geteuid() == 0 else ""
        if config is not None:
            self.store.mkdir(exist_ok=True)
            self.conf.write_text(config.format(port=self.port, directory=directory,
                                               user=user))
        else:
            if password_file is not None or acl_file is not None:
                listener = "allow_anonymous false\n" if listener.startswith(
                    "allow_anonymous true") else listener
            if password_file is not None:
                listener += f"password_file {password_file}\n"
            if acl_file is not None:
                listener += f"acl_file {acl_file}\n"
            store = "persistence false\n"
            if persistence:
                self.store.mkdir(exist_ok=True)
                store = f"persistence true\npersistence_location {self.store}/\n{autosave}"
            self.conf.write_text(f"{user}per_listener_settings true\n"
                                 f"listener {self.port} 127.0.0.1\n{listener}{store}"
                                 f"max_queued_messages {max_queued_messages}\n{extra}")
        self.log = directory / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not start: {self.log.read_text()[-500:]}")

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no goodbye to the clients, as when a broker host dies."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
            self.proc = None

    def kill_between_saves(self) -> None:
        """SIGKILL at a moment when the broker has saved everything it acknowledged.

        Mosquitto writes a PUBACK as it handles the PUBLISH and saves its store only at
        the end of that turn of its main loop, so a SIGKILL can fall between the two and
        lose an acknowledged message (tests/test_broker.py measures that window).  Here
        the broker is stopped (SIGSTOP) and killed only if it is waiting in epoll, where
        the previous turn's save is complete; otherwise it goes on (SIGCONT) and we look
        again.  Messages sent to it meanwhile stay unread, unacknowledged: in flight."""
        if self.proc is None:
            return
        waits = _EPOLL_WAITS.get(platform.machine())
        if waits is None:
            pytest.skip(f"epoll_wait's syscall number on {platform.machine()} is not known")
        pid = self.proc.pid
        while True:
            os.kill(pid, signal.SIGSTOP)
            while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
                time.sleep(0.0005)  # the pace of looking: the stop takes effect at once
            call = Path(f"/proc/{pid}/syscall").read_text().split()[0]
            if call.isdigit() and int(call) in waits:
                self.kill()
                return
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.001)  # let it finish its turn of the loop

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None


@pytest.fixture
def free_port() -> Callable[[], int]:
    """A TCP port nobody listens on (at the time of asking)."""
    return _free_port


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Make brokers (not started) with their own directory: ``factory(listener=...)``."""
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    made: list[Mosquitto] = []

    def make(**kw: Any) -> Mosquitto:
        directory = tmp_path / f"broker{len(made)}"
        directory.mkdir()
        made.append(Mosquitto(directory, **kw))
        return made[-1]

    try:
        yield make
    finally:
        for broker in made:
            broker.stop()


@pytest.fixture
def mosquitto(broker_factory: Callable[..., Mosquitto]) -> Mosquitto:
    """A running broker of this test's own, anonymous, on a free port."""
    broker = broker_factory()
    broker.start()
    return broker


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """A running three-node NATS cluster (JetStream, MQTT on each node) of this test's own
    (tests/nats_cluster.py)."""
    if NATS is None:
        pytest.skip("nats-server is not installed (apt-get install nats-server)")
    cluster = NatsCluster(tmp_path, binary=NATS)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


PG_BIN = Path("/usr/lib/postgresql/15/bin")


class Postgres:
    """A private PostgreSQL cluster on 127.0.0.1:port, run as the ``postgres`` user (it
    refuses to run as root) from a data folder of its own; ``url`` reaches it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True,
                       capture_output=True, timeout=60)

    def start(self) -> None:
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                          "--auth=trust", "--no-sync", "-E", "UTF8")
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-s",
                          "-l", str(self.dir / "log"), "-o",
                          f"-p {self.port} -h 127.0.0.1 -k {self.dir} -c fsync=off",
                          "start")

    def stop(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
                        str(self.data), "-m", "immediate", "-s", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    """A running PostgreSQL of this test's own (Debian's postgresql 15; ``.ci/run``
    installs it), on a free port, removed afterwards."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL 15 is not installed ({PG_BIN}; apt-get install postgresql)")
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("a private PostgreSQL needs root (to run it as the postgres user)")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user (apt-get install postgresql)")
    server = Postgres(_free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
