"""kill -9 of the gateway in the middle of its dialogues, and a restart: over a real
Mosquitto, with the simulated peers in their own process, every dialogue ends as in a run
that was never interrupted, no message is repeated (only sent again under its serial, as
AIDC allows) and none is lost."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import paho.mqtt.client as mqtt
import pytest
from test_handoff_scenario import run

from gateway.config import loads
from gateway.handoff.peer import Peer
from gateway.ingest import read_datagrams
from gateway.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "captures" / "border-10min.pcap.gz"
GATEWAY_UNITS = ("MMTY", "MMZT")


def config_text(database: Path) -> str:
    text = (ROOT / "captures" / "border.toml").read_text()
    airspace = ROOT / "captures" / "border-airspace.geojson"
    return text.replace('airspace = "border-airspace.geojson"',
                        f'airspace = "{airspace}"\ndatabase = "{database}"')


class Recorder:
    """Every AIDC message on the broker, in arrival order; ``until`` waits for one that
    makes a condition true (each arrival wakes the waiter)."""

    def __init__(self, port: int) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Condition()
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *a: c.subscribe("surv/v1/aidc/#", qos=1)
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        with self.lock:
            self.messages.append(json.loads(message.payload))
            self.lock.notify_all()

    def until(self, condition: Callable[[list[dict[str, Any]]], bool], timeout: float) -> bool:
        """True once ``condition(messages)`` holds, False after ``timeout`` seconds."""
        with self.lock:
            return self.lock.wait_for(lambda: condition(self.messages), timeout)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Announced:
    """Reads a process's stderr to the end (so that it never blocks on a full pipe) and
    sets ``seen`` when a line contains ``text``."""

    def __init__(self, proc: subprocess.Popen[bytes], text: str) -> None:
        self.lines: list[str] = []
        self.seen = threading.Event()
        self._text = text
        self._thread = threading.Thread(target=self._read, args=(proc.stderr,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace")
            self.lines.append(line)
            if self._text in line:
                self.seen.set()

    def join(self) -> None:
        self._thread.join(10)


def acknowledged(messages: list[dict[str, Any]]) -> bool:
    """Every message of either side has had its LAM."""
    lams = {(m["from"], m["ref"]) for m in messages if m["msg"] == "LAM"}
    return all((m["to"], m["serial"]) in lams for m in messages
               if m["msg"] not in ("LAM", "LRM"))


def sequences(messages: list[dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    """Dialogue messages per (callsign, peer), each serial once (a message sent again is
    the same message), CDN exchanges apart (their timing may differ by a cycle)."""
    seen: set[tuple[str, str, int]] = set()
    cdn: set[tuple[str, int]] = set()
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for m in messages:
        key = (m["from"], m["to"], m["serial"])
        if key in seen or m["msg"] in ("LAM", "LRM") or not m["callsign"]:
            continue
        seen.add(key)
        if m["msg"] == "CDN":
            cdn.add((m["from"], m["serial"]))
            continue
        if m["msg"] == "ACP" and (m["to"], m["ref"]) in cdn:
            continue
        peer = m["to"] if m["from"] in GATEWAY_UNITS else m["from"]
        out[(m["callsign"], peer)].append(m["msg"])
    return dict(out)


def reference(database: Path) -> dict[tuple[str, str], list[str]]:
    """The same capture through the same pipeline in-process, uninterrupted."""
    config = loads(config_text(database), str(database.parent / "ref.toml"))
    pipeline = Pipeline(config)
    peers = {u: Peer(u) for u in config.handoff.peers}  # type: ignore[union-attr]
    log: list[tuple[str, Any]] = []
    run(pipeline, iter(read_datagrams(CAPTURE)), peers, log)
    messages = [json.loads(json.dumps({"from": m.from_, "to": m.to, "serial": m.serial,
                                       "msg": m.msg, "ref": m.ref, "callsign": m.callsign}))
                for way, m in log if way in ("out", "in")]
    return sequences(messages)


@pytest.mark.slow
def test_kill_9_mid_dialogue_then_restart(mosquitto: Any, tmp_path: Path) -> None:
    expected = reference(tmp_path / "ref.sqlite")
    database = tmp_path / "handoff.sqlite"
    config = tmp_path / "gw.toml"
    config.write_text(config_text(database))
    recorder = Recorder(mosquitto.port)
    assert recorder.ready.wait(10)
    peer = subprocess.Popen([sys.executable, "-m", "gateway.cli", "peer", "--config",
                             str(config), "--unit", "KZAB,KZHU,KZLA", "--broker",
                             mosquitto.url, "--log-level", "info", "--lam-timeout", "2"],
                            stderr=subprocess.PIPE)
    peer_log = Announced(peer, "answering on")  # logged once its subscriptions are made
    # 10x real time: the peer answers on the wall clock, so at 30x a loaded machine's second
    # of delay was half a minute of data time, enough for a flight to reach its COP before
    # its ACP came back (measured: MAC instead of TOC under load, at 30x only)
    replay = [sys.executable, "-m", "gateway.cli", "replay", str(CAPTURE), "--config",
              str(config), "--broker", mosquitto.url, "--speed", "10"]
    try:
        assert peer_log.seen.wait(30), "the peers did not subscribe"
        first = subprocess.Popen(replay, stderr=subprocess.PIPE)
        # mid-dialogue: offers made, transfers to come
        recorder.until(lambda got: sum(m["msg"] == "EST" for m in got) >= 12
                       and sum(m["msg"] == "TOC" for m in got) >= 2, 60)
        with recorder.lock:
            kinds = [m["msg"] for m in recorder.messages]
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        with recorder.lock:
            before = len(recorder.messages)
        assert 0 < before and kinds.count("AOC") < 15  # killed, not finished
        second = subprocess.run(replay, capture_output=True, timeout=300)
        assert second.returncode == 0, second.stderr.decode()[-2000:]
        # the last answers: every dialogue at its end and every message acknowledged (the
        # recorder may lag behind the broker on a busy machine: wait for it, not a time)
        recorder.until(lambda got: acknowledged(got) and sequences(got) == expected, 60)
    finally:
        peer.send_signal(signal.SIGTERM)
        peer.wait(10)
        peer_log.join()
        recorder.stop()
    got = recorder.messages
    assert sequences(got) == expected
    # nothing lost: every message of either side was acknowledged
    lams = {(m["from"], m["ref"]) for m in got if m["msg"] == "LAM"}
    for m in got:
        if m["msg"] not in ("LAM", "LRM"):
            assert (m["to"], m["serial"]) in lams, m
    assert not any(m["msg"] == "LRM" for m in got)
    # nothing repeated: one serial, one text
    texts: dict[tuple[str, str, int], str] = {}
    for m in got:
        assert texts.setdefault((m["from"], m["to"], m["serial"]), m["text"]) == m["text"]
