"""A real three-node NATS cluster on free ports, with JetStream and an MQTT listener on
each node: the clustered broker that `[mqtt] urls` fails over between.

Debian's nats-server (2.9.10 here) speaks MQTT 3.1.1 only.  Its MQTT sessions and
retained messages live in JetStream streams, replicated to every node (``stream_replicas:
3``: left out, the streams come up with fewer replicas and a node's death can take a
session with it).  A node is ready for MQTT only once the cluster has a JetStream
meta-leader and the MQTT streams exist, seconds after the processes start: ``start``
waits for that by connecting with MQTT and having a QoS 1 message acknowledged, bounded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt

READY_TIMEOUT_S = 60.0  # a 3-node cluster was ready in 2-15 s here
# Debian installs it in /usr/sbin, which a user's PATH may not have.
NATS = shutil.which("nats-server") or ("/usr/sbin/nats-server"
                                       if os.path.exists("/usr/sbin/nats-server") else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsCluster:
    """Three nats-server processes; ``kill(i)`` SIGKILLs node ``i``, ``stop`` ends all."""

    def __init__(self, directory: Path, nodes: int = 3, binary: str = "nats-server", *,
                 conf: Callable[[NatsCluster, int], str] | None = None,
                 env: Callable[[int], dict[str, str]] | None = None,
                 credentials: tuple[str, str] | None = None) -> None:
        """``conf``: node ``i``'s configuration instead of this module's (a shipped file
        with its addresses rewritten: the ports are the attributes below); ``env``: more
        environment for node ``i``'s process; ``credentials``: the MQTT user and password
        the readiness probe connects with."""
        self.directory = directory
        self.binary = binary
        self.client_ports = [free_port() for _ in range(nodes)]
        self.route_ports = [free_port() for _ in range(nodes)]
        self.mqtt_ports = [free_port() for _ in range(nodes)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * nodes
        self.env = env
        self.credentials = credentials
        self.confs = []
        for i in range(nodes):
            path = directory / f"n{i}.conf"
            path.write_text(conf(self, i) if conf is not None else self._conf(i))
            self.confs.append(path)

    @property
    def routes(self) -> list[str]:
        return [f"nats-route://127.0.0.1:{p}" for p in self.route_ports]

    def store(self, i: int) -> Path:
        return self.directory / f"store{i}"

    def _conf(self, i: int) -> str:
        return (f"server_name: n{i}\n"
                f"listen: 127.0.0.1:{self.client_ports[i]}\n"
                f'jetstream {{ store_dir: "{self.store(i)}" }}\n'
                f"cluster {{ name: gw-test, listen: 127.0.0.1:{self.route_ports[i]}, "
                f"routes: [{', '.join(self.routes)}] }}\n"
                f"mqtt {{ listen: 127.0.0.1:{self.mqtt_ports[i]}, "
                f"stream_replicas: {len(self.route_ports)} }}\n")

    @property
    def urls(self) -> list[str]:
        return [f"mqtt://127.0.0.1:{p}" for p in self.mqtt_ports]

    def log(self, i: int) -> Path:
        return self.directory / f"n{i}.log"

    def start(self) -> float:
        """Start every node; wait until each takes a QoS 1 message.  Seconds it took."""
        began = time.monotonic()
        for i, conf in enumerate(self.confs):
            with open(self.log(i), "ab") as log:
                env = {**os.environ, **self.env(i)} if self.env is not None else None
                self.procs[i] = subprocess.Popen([self.binary, "-c", str(conf)], env=env,
                                                 stdout=log, stderr=subprocess.STDOUT)
        for i in range(len(self.confs)):
            self.wait_ready(i, began + READY_TIMEOUT_S)
        return time.monotonic() - began

    def wait_ready(self, i: int, deadline: float) -> None:
        while True:
            proc = self.procs[i]
            if proc is None or proc.poll() is not None:
                raise RuntimeError(f"nats-server node {i} exited: "
                                   f"{self.log(i).read_text()[-800:]}")
            if _takes_qos1(self.mqtt_ports[i], self.credentials):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"nats-server node {i} not ready for MQTT in "
                                   f"{READY_TIMEOUT_S:g} s: {self.log(i).read_text()[-800:]}")
            time.sleep(0.2)  # the pace of asking again

    def kill(self, i: int) -> None:
        """SIGKILL: no goodbye to clients or routes, as when a node's host dies."""
        proc = self.procs[i]
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(5)
            self.procs[i] = None

    def stop(self) -> None:
        for i, proc in enumerate(self.procs):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
                self.procs[i] = None


def _takes_qos1(port: int, credentials: tuple[str, str] | None = None) -> bool:
    """One MQTT 3.1.1 connection that gets a QoS 1 message acknowledged within 3 s."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"ready-{port}",
                         protocol=mqtt.MQTTv311)
    if credentials is not None:
        client.username_pw_set(*credentials)
    try:
        client.connect("127.0.0.1", port, keepalive=10)
    except OSError:
        return False
    client.loop_start()
    try:
        info = client.publish("ready/probe", b"", qos=1)
        info.wait_for_publish(3.0)
        return info.is_published()
    except (RuntimeError, ValueError):
        return False
    finally:
        client.disconnect()
        client.loop_stop()
