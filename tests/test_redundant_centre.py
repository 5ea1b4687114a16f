"""A redundant pair of ``run`` processes: one private PostgreSQL (the lease and the shared
store), one real Mosquitto, the simulator's multicast on loopback feeding both.  The
active one is SIGKILLed: the standby takes over within 5 s and publishes; the active one
is frozen (SIGSTOP): the standby takes over, and the thawed one finds its lease lost and
exits (status 4) without publishing anything more.

``GATEWAY_TAKEOVERS=N`` repeats the SIGKILL takeover N times in one session (the figures
in docs/deployment.md); the takeover times go to stdout (``pytest -s``)."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from test_service_live import http, live_config
from waiting import wait_until

GROUP = "udp://239.255.77.9:23991?iface=127.0.0.1"
STATUS = "surv/v1/status/border-gw-1"


class Heard:
    """Every message on ``surv/v1/#``, with when it came (monotonic)."""

    def __init__(self, port: int) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[float, str, bytes]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="listener")
        self.client.on_message = self._on
        self.client.on_connect = lambda c, *a: c.subscribe("surv/v1/#")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on(self, _c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((time.monotonic(), m.topic, bytes(m.payload)))

    def since(self, t: float) -> list[tuple[float, str, bytes]]:
        with self.lock:
            return [m for m in self.messages if m[0] >= t]

    def online(self, since: float) -> list[tuple[float, int]]:
        """(when, epoch) of each 'online' status since then."""
        out = []
        for when, topic, payload in self.since(since):
            if topic == STATUS and payload:
                status = json.loads(payload)
                if status.get("state") == "online":
                    out.append((when, int(status["counters"]["lease-epoch"])))
        return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Pair:
    def __init__(self, tmp_path: Path, broker: Any, db: Any,
                 free_port: Callable[[], int]) -> None:
        self.tmp, self.broker = tmp_path, broker
        self.configs = []
        for name in "ab":
            path, port = live_config(tmp_path / f"{name}.toml", free_port(),
                                     f'[[input]]\nurl = "{GROUP}"\n')
            path.write_text(path.read_text() + f'\n[store]\nurl = "{db.url}"\n')
            self.configs.append((path, port))
        self.procs: list[subprocess.Popen[bytes] | None] = [None, None]
        self.runs = 0

    def start(self, i: int) -> subprocess.Popen[bytes]:
        path, _ = self.configs[i]
        self.runs += 1
        out = self.tmp / f"{'ab'[i]}{self.runs}.jsonl"
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "run", "--config", str(path), "--broker",
             self.broker.url, "--out", str(out)],
            stdout=subprocess.DEVNULL, stderr=open(self.tmp / f"{out.stem}.log", "wb"))
        proc.out = out  # type: ignore[attr-defined]
        self.procs[i] = proc
        return proc

    def role(self, i: int) -> str | None:
        proc = self.procs[i]
        assert proc is not None and proc.poll() is None, "the process ended"
        try:
            return str(http(self.configs[i][1], "/health")[1].get("role"))
        except OSError:
            return None

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def pair(tmp_path: Path, mosquitto: Any, postgres: Any,
         free_port: Callable[[], int]) -> Iterator[tuple[Pair, Heard]]:
    pair = Pair(tmp_path, mosquitto, postgres, free_port)
    heard = Heard(mosquitto.port)
    sim = None
    try:
        pair.start(0)
        assert wait_until(lambda: pair.role(0) == "active", 30, interval=0.1)
        pair.start(1)
        assert wait_until(lambda: pair.role(1) == "standby", 30, interval=0.1)
        sim = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "simulate", "--scenario", "border",
             "--duration", "3600", "--seed", "5", "--out", str(tmp_path / "live.pcap"),
             "--live", GROUP, "--speed", "5"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)
        yield pair, heard
    finally:
        if sim is not None:
            sim.kill()
            sim.wait(10)
        heard.close()
        pair.stop()


def _take_over(pair: Pair, heard: Heard, dead: int, stop: signal.Signals) -> float:
    """Signal the active process ``dead``; the seconds until the other's first 'online'
    status with a newer epoch reached the broker's subscriber."""
    alive = 1 - dead
    proc = pair.procs[dead]
    assert proc is not None
    before = max((e for _, e in heard.online(0.0)), default=0)
    t0 = time.monotonic()
    proc.send_signal(stop)
    assert wait_until(lambda: any(e > before for _, e in heard.online(t0)), 10, interval=0.02), \
        "the standby did not take over"
    took = min(w for w, e in heard.online(t0) if e > before) - t0
    assert pair.role(alive) == "active"
    # and it publishes the picture, not only its status
    t1 = time.monotonic()
    assert wait_until(lambda: any("/fused/" in t or "/tracks/" in t
                                  for _, t, _ in heard.since(t1)), 10, interval=0.05)
    return took


@pytest.mark.slow
def test_sigkill_the_active_and_the_standby_takes_over_within_5_s(
        pair: tuple[Pair, Heard]) -> None:
    p, heard = pair
    times = []
    active = 0
    for _ in range(int(os.environ.get("GATEWAY_TAKEOVERS", "2"))):
        times.append(_take_over(p, heard, active, signal.SIGKILL))
        p.procs[active].wait(10)  # type: ignore[union-attr]
        p.start(active)  # restarted: the standby now
        assert wait_until(lambda a=active: p.role(a) == "standby", 30, interval=0.1)
        active = 1 - active
    print(f"\ntakeover after SIGKILL, {len(times)} runs: median "
          f"{statistics.median(times):.2f} s, worst {max(times):.2f} s: "
          + " ".join(f"{t:.2f}" for t in times))
    assert max(times) < 5.0


@pytest.mark.slow
def test_a_frozen_active_is_fenced_after_the_takeover_and_steps_down(
        pair: tuple[Pair, Heard]) -> None:
    p, heard = pair
    a = p.procs[0]
    assert a is not None
    took = _take_over(p, heard, 0, signal.SIGSTOP)
    print(f"\ntakeover after SIGSTOP: {took:.2f} s")
    assert took < 5.0
    written = a.out.stat().st_size  # type: ignore[attr-defined]
    thawed = time.monotonic()
    a.send_signal(signal.SIGCONT)
    assert a.wait(10) == 4  # it found its lease lost and stepped down
    log = (p.tmp / f"{a.out.stem}.log").read_text()  # type: ignore[attr-defined]
    assert "steps down" in log
    # nothing more published by it: its --out holds exactly what it published, and no
    # status of its epoch came after the thaw
    assert a.out.stat().st_size == written  # type: ignore[attr-defined]
    assert all(e >= 2 for _, e in heard.online(thawed))
    assert p.role(1) == "active"
    t = time.monotonic()
    assert wait_until(lambda: any("/fused/" in tp for _, tp, _ in heard.since(t)), 10)
