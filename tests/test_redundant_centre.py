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
PICTURE = "surv/v1/picture"


class Heard:
    """Every message on ``surv/v1/#`` (or on ``topics``, each with its QoS), with when it
    came (monotonic)."""

    def __init__(self, port: int,
                 topics: tuple[tuple[str, int], ...] = (("surv/v1/#", 0),)) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[float, str, bytes]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="listener")
        self.client.on_message = self._on
        self.client.on_connect = lambda c, *a: c.subscribe(list(topics))
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


def _take_over(pair: Pair, heard: Heard, dead: int, stop: signal.Signals,
               ) -> tuple[float, float, float]:
    """Signal the active process ``dead``; the seconds until the other's first 'online'
    status with a newer epoch reached the broker's subscriber, when the signal was sent and
    when the new active's first picture came (monotonic)."""
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
    assert wait_until(lambda: any("/fused/" in t or "/tracks/" in t or t == PICTURE
                                  for _, t, _ in heard.since(t1)), 10, interval=0.05)
    resumed = min(w for w, t, _ in heard.since(t0) if t == PICTURE)
    return took, t0, resumed


def warm(port: int) -> bool:
    """Has this process confirmed tracks (a standby must track the sky to take it over, and
    an active one to show whether the aircraft keep their ids)."""
    try:
        text = http(port, "/metrics")[1]
    except OSError:
        return False
    line = 'gateway_pipeline_events_total{kind="track-confirmed"} '
    return sum(float(x.rsplit(" ", 1)[1]) for x in str(text).splitlines()
               if x.startswith(line)) >= 20


def aircraft_ids(heard: Heard, since: float, until: float) -> dict[str, list[str]]:
    """Each aircraft's fused ids in the pictures heard between ``since`` and ``until``, in
    order, repeats collapsed; an aircraft is its Mode S address, else its callsign, else
    its Mode-3/A code."""
    out: dict[str, list[str]] = {}
    for when, topic, payload in heard.since(since):
        if topic != PICTURE or when >= until:
            continue
        for m in json.loads(payload):
            key = (f"A{m['icao24']}" if m.get("icao24") else f"C{m['callsign']}"
                   if m.get("callsign") else f"M{m['mode3a']}" if m.get("mode3a") else None)
            if key is None or m.get("state") == "ended":
                continue
            ids = out.setdefault(key, [])
            if not ids or ids[-1] != m["id"]:
                ids.append(m["id"])
    return out


def ids_across(heard: Heard, killed: float, resumed: float, window: float = 10.0,
               ) -> tuple[int, list[str]]:
    """How many aircraft of the last ``window`` s of pictures before the kill were in the
    first ``window`` s after the takeover (the caller waits for those to pass), and which
    of them came back under another fused id.  A code seen under two ids before the kill
    (two aircraft squawking it) names no aircraft."""
    before = aircraft_ids(heard, killed - window, killed)
    after = aircraft_ids(heard, resumed, resumed + window)
    both = sorted(k for k in before.keys() & after.keys()
                  if k[0] == "A" or len(set(before[k])) == 1)
    return len(both), [f"{k}: {before[k][-1]} -> {after[k][0]}" for k in both
                       if before[k][-1] != after[k][0]]


@pytest.mark.slow
def test_sigkill_the_active_and_the_standby_takes_over_within_5_s(
        pair: tuple[Pair, Heard]) -> None:
    p, heard = pair
    times = []
    active = 0
    changed: list[str] = []
    for _ in range(int(os.environ.get("GATEWAY_TAKEOVERS", "2"))):
        assert all(wait_until(lambda i=i: warm(p.configs[i][1]), 120, interval=0.5)
                   for i in (0, 1))
        took, killed, resumed = _take_over(p, heard, active, signal.SIGKILL)
        times.append(took)
        wait_until(lambda r=resumed: time.monotonic() > r + 10.0, 15)  # the window to look at
        both, moved = ids_across(heard, killed, resumed)
        assert both > 10, "too few aircraft before and after to tell"
        changed += moved
        p.procs[active].wait(10)  # type: ignore[union-attr]
        p.start(active)  # restarted: the standby now
        assert wait_until(lambda a=active: p.role(a) == "standby", 30, interval=0.1)
        active = 1 - active
    print(f"\ntakeover after SIGKILL, {len(times)} runs: median "
          f"{statistics.median(times):.2f} s, worst {max(times):.2f} s: "
          + " ".join(f"{t:.2f}" for t in times))
    assert max(times) < 5.0
    assert not changed, changed  # every aircraft kept its fused id


@pytest.mark.slow
def test_a_frozen_active_is_fenced_after_the_takeover_and_steps_down(
        pair: tuple[Pair, Heard]) -> None:
    p, heard = pair
    a = p.procs[0]
    assert a is not None
    took, _, _ = _take_over(p, heard, 0, signal.SIGSTOP)
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
