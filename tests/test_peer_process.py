"""``peer`` in its own process over a real Mosquitto, against ``replay`` of the shipped border
capture with the gateway's handoff: both directions of the border, the data clock, and a
kill -9 of either side mid-dialogue (each restarted with the same store)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import paho.mqtt.client as mqtt
import pytest

from gateway.commands.peer import neighbour_engine
from gateway.config import loads
from gateway.decoder import iter_chunks
from gateway.handoff.neighbour import Neighbour
from gateway.ingest import read_datagrams
from gateway.messages import Aidc, encode
from gateway.pipeline import Pipeline
from gateway.publish.batch import Kind, Published

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "captures" / "border-10min.pcap.gz"
GATEWAY_UNITS = ("MMTY", "MMZT")


def config_text(database: Path) -> str:
    text = (ROOT / "captures" / "border.toml").read_text()
    airspace = ROOT / "captures" / "border-airspace.geojson"
    return text.replace('airspace = "border-airspace.geojson"',
                        f'airspace = "{airspace}"\ndatabase = "{database}"')


class Recorder:
    """Every AIDC message on the broker, in arrival order, and the Mode S addresses each
    fused id was seen with in the pictures; ``until`` waits for AIDC that makes a condition
    true (each arrival wakes the waiter)."""

    def __init__(self, port: int) -> None:
        self.messages: list[dict[str, Any]] = []
        self.addresses: dict[str, set[str]] = defaultdict(set)
        self.lock = threading.Condition()
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, *a: c.subscribe(
            [("surv/v1/aidc/#", 1), ("surv/v1/picture", 0)])
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        if message.topic == "surv/v1/picture":
            for m in json.loads(message.payload):
                if m.get("icao24"):
                    self.addresses[m["id"]].add(m["icao24"])
            return
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
    """Every message of either side has had its answer at the link level: LAM, or LRM
    (``check_exchange`` holds the refusals to the reference's)."""
    lams = {(m["from"], m["ref"]) for m in messages if m["msg"] in ("LAM", "LRM")}
    return all((m["to"], m["serial"]) in lams for m in messages
               if m["msg"] not in ("LAM", "LRM"))


def sequences(messages: list[dict[str, Any]],
              key: Callable[[dict[str, Any]], tuple[str, str, str]] | None = None,
              ) -> dict[tuple[str, str, str], list[str]]:
    """Dialogue messages per dialogue (``key``, default ``dialogue_key``), each serial once
    (a message sent again is the same message), CDN exchanges apart (their timing may
    differ by a cycle)."""
    key_of = key or dialogue_key
    seen: set[tuple[str, str, int]] = set()
    cdn: set[tuple[str, int]] = set()
    out: dict[tuple[str, str, str], list[str]] = defaultdict(list)
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
        out[key_of(m)].append(m["msg"])
    return dict(out)


def dialogue_key(m: dict[str, Any]) -> tuple[str, str, str]:
    """(callsign, peer unit, transferring unit) of a dialogue message: a flight handed to
    KZAB and later offered back by KZAB is two dialogues, not one."""
    peer = m["to"] if m["from"] in GATEWAY_UNITS else m["from"]
    transferring = m["to"] if m["msg"] in ("ACP", "REJ", "AOC") else m["from"]
    return (m["callsign"], peer, transferring)


pytestmark = pytest.mark.slow
PEER_UNITS = "KZAB,KZHU,KZLA"
START, END = 1779868800.0, 1779869400.0  # the capture's data time (UTC, 27 May 2026)
TAIL_S = 120.0  # dialogues going on this close to the capture's end may be cut short
# The gateway answers on its replay clock (the capture's time paced by the wall clock), which
# runs ahead of its data when a loaded machine cannot keep the pace: at 10x on this 2-core
# machine shared by other test runs it answered 500 s of data time late; 5x leaves room.
SPEED = "5"


def _as_dict(m: Aidc) -> dict[str, Any]:
    return json.loads(json.dumps({"from": m.from_, "to": m.to, "serial": m.serial, "t": m.t,
                                  "msg": m.msg, "ref": m.ref, "callsign": m.callsign,
                                  "text": m.text}))


@dataclass
class Reference:
    """The dialogues of an uninterrupted in-process run (``sequences``), and the data time
    of each one's first and last message."""

    dialogues: dict[tuple[str, str, str], list[str]]
    first: dict[tuple[str, str, str], float]
    last: dict[tuple[str, str, str], float]
    refused: set[tuple[str, str, str]]  # dialogues with a message refused (LRM)

    def matches(self, got: list[dict[str, Any]]) -> bool:
        return not self.differences(got)

    def differences(self, got: list[dict[str, Any]]) -> list[str]:
        """How a run over the broker differs from the reference: every dialogue the
        reference ended more than ``TAIL_S`` before the capture's end must be the same;
        one still going then may be cut shorter (over MQTT at 10x an answer comes seconds
        of data time later, and the gateway stops at the capture's end), never different."""
        out = []
        seen = sequences(got)
        skip = self.refused | refused(got)
        for key, msgs in self.dialogues.items():
            mine = seen.get(key, [])
            if key in skip:
                continue
            if self.last[key] < END - TAIL_S:
                if mine != msgs:
                    out.append(f"{key}: {mine} instead of {msgs}")
            elif mine != msgs[:len(mine)]:
                out.append(f"{key}: {mine} is not the start of {msgs}")
        for key, mine in seen.items():
            if key not in self.dialogues:
                out.append(f"{key}: {mine} not in the reference")
        return out


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The same capture through the gateway's pipeline and the neighbour in-process,
    uninterrupted, each answering the other at once on the capture's clock."""
    folder = tmp_path_factory.mktemp("reference")
    config = loads(config_text(folder / "ref.sqlite"), str(folder / "ref.toml"))
    pipeline = Pipeline(config)
    neighbour = Neighbour(neighbour_engine(config, PEER_UNITS.split(",")))
    log: list[dict[str, Any]] = []

    def route(published: list[Published]) -> None:
        queue = list(published)
        while queue:
            batch = queue.pop(0)
            if batch.kind is Kind.PICTURE:
                made = [m for m in neighbour.picture(batch.messages) if isinstance(m, Aidc)]
            elif batch.kind is Kind.AIDC:
                made = []
                for m in batch.messages:
                    log.append(_as_dict(m))
                    made += [r for r in neighbour.receive(m, (m.from_, m.to))
                             if isinstance(r, Aidc)]
            else:
                continue
            for m in made:
                log.append(_as_dict(m))
                queue += pipeline.receive_aidc(encode(m), m.t)

    datagrams = ((d.payload, d.t_capture) for d in read_datagrams(CAPTURE))
    for payloads, times in iter_chunks(datagrams, 64):
        route(pipeline.feed(payloads, times))
    route(pipeline.flush())
    first: dict[tuple[str, str, str], float] = {}
    last: dict[tuple[str, str, str], float] = {}
    for m in log:
        if m["callsign"] and m["msg"] not in ("LAM", "LRM"):
            key = dialogue_key(m)
            first.setdefault(key, m["t"])
            last[key] = m["t"]
    (folder / "aidc.json").write_text(json.dumps(log))
    assert all(SQUAWK_CHANGED.match(_remark(m)) for m in log if m["msg"] == "LRM"), log
    return Reference(sequences(log), first, last, refused(log))


# The one refusal the engine makes of this traffic: a TOC (or an offer) whose SSR code is
# not the one the accepting side first heard for the flight; the simulated flights change
# code near the border, and whether the TOC goes out before or after the change depends on
# how late the answers come (a known limit of the accepting side, see the report).
SQUAWK_CHANGED = re.compile(r"^SSR CODE [0-7]{4} IS NOT [0-7]{4}$")


def _remark(m: dict[str, Any]) -> str:
    return str(m["text"]).partition("-RMK/")[2].rstrip(")")


def refused(log: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """The dialogues (``dialogue_key``) with a message refused by LRM."""
    out = set()
    for i, lrm in enumerate(log):
        if lrm["msg"] != "LRM":
            continue
        for m in reversed(log[:i]):
            if (m["from"], m["to"], m["serial"]) == (lrm["to"], lrm["from"], lrm["ref"]):
                if m["callsign"]:
                    out.add(dialogue_key(m))
                break
    return out


def _peer_side(key: tuple[str, str, str]) -> bool:
    """Is this dialogue a transfer from a peer's unit?"""
    return key[2] not in GATEWAY_UNITS


def check_exchange(got: list[dict[str, Any]], expected: Reference) -> None:
    """What a run over the broker must show: the reference's dialogues, every message
    acknowledged (or refused as in the reference), no serial given twice, data time
    throughout."""
    assert not expected.differences(got), expected.differences(got)
    assert acknowledged(got)
    # refused: only a changed SSR code (as in the reference), in at most a few dialogues
    assert all(SQUAWK_CHANGED.match(_remark(m)) for m in got if m["msg"] == "LRM"), got
    assert len(refused(got)) <= len(expected.refused) + 3
    texts: dict[tuple[str, str, int], str] = {}
    for m in got:
        assert texts.setdefault((m["from"], m["to"], m["serial"]), m["text"]) == m["text"], m
        if m["from"] not in GATEWAY_UNITS:  # the peer's clock is the capture's, never the wall's
            assert START <= m["t"] <= END + 60, m
    # both directions: the peer's transfers into the gateway's units, each in order
    # (ABI, EST or CPL, ACP, TOC, AOC), and the gateway's into the peer's
    for peer_side in (True, False):
        done = {k: v for k, v in sequences(got).items() if _peer_side(k) is peer_side
                and v[-1] == "AOC"}
        assert len(done) >= 5, (peer_side, done)
        for key, msgs in done.items():
            assert [x for x in msgs if x != "ABI"] in (["EST", "ACP", "TOC", "AOC"],
                                                       ["CPL", "ACP", "TOC", "AOC"]), (key, msgs)
            assert msgs.count("ABI") <= 1 and msgs.index("AOC") == len(msgs) - 1


class Side:
    """One process of the test (``replay`` or ``peer``), its stderr read to the end."""

    def __init__(self, args: list[str], ready: str = "") -> None:
        self.args = args
        self.ready = ready
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", *self.args],
                                     stderr=subprocess.PIPE)
        self.log = Announced(self.proc, self.ready or "\0")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.log.join()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(30)
        self.log.join()
        return code

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self.log.join()
        return code

    def text(self) -> str:
        return "".join(self.log.lines)[-3000:]


def start(mosquitto: Any, tmp_path: Path) -> tuple[Recorder, Side, list[str]]:
    database = tmp_path / "handoff.sqlite"
    config = tmp_path / "gw.toml"
    config.write_text(config_text(database))
    recorder = Recorder(mosquitto.port)
    assert recorder.ready.wait(10)
    peer = Side(["peer", "--config", str(config), "--unit", PEER_UNITS, "--broker",
                 mosquitto.url, "--store", str(tmp_path / "peer.sqlite"), "--log-level",
                 "info"], ready="subscribed to")
    assert peer.log.seen.wait(30), peer.text()
    replay = ["replay", str(CAPTURE), "--config", str(config), "--broker", mosquitto.url,
              "--speed", SPEED]
    return recorder, peer, replay


def finish(recorder: Recorder, peer: Side, expected: Reference, tmp_path: Path,
           broker: Any) -> list[dict[str, Any]]:
    # the last answers: wait for them (the recorder may lag on a busy machine), not a time
    recorder.until(lambda got: acknowledged(got) and expected.matches(got), 60)
    assert peer.stop() == 0, peer.text()
    # every picture reached the peer: none too large for it or for what it told the broker
    assert "inbound-oversize" not in peer.text()
    assert "Dropping too large" not in broker.log.read_text()
    recorder.stop()
    # kept beside the test's other files, for a failure to be looked into
    (tmp_path / "aidc.json").write_text(json.dumps(recorder.messages))
    return recorder.messages


def test_both_directions_over_mosquitto(mosquitto: Any, tmp_path: Path,
                  expected: Reference) -> None:
    recorder, peer, replay = start(mosquitto, tmp_path)
    try:
        gateway = Side(replay)
        assert gateway.wait(600) == 0, gateway.text()
        got = finish(recorder, peer, expected, tmp_path, mosquitto)
    finally:
        peer.stop()
    check_exchange(got, expected)
    # the peer's summary names what it did
    assert "aidc-sent-TOC=" in peer.text() and "aidc-received-AOC=" in peer.text()


def _mid_dialogue(got: list[dict[str, Any]]) -> bool:
    """Offers made both ways, transfers to come."""
    by: defaultdict[tuple[bool, str], int] = defaultdict(int)
    for m in got:
        by[(m["from"] in GATEWAY_UNITS, m["msg"])] += 1
    return by[(True, "EST")] >= 6 and by[(False, "EST")] >= 4 and by[(False, "TOC")] >= 1


def test_kill_9_of_the_gateway_mid_dialogue(mosquitto: Any, tmp_path: Path,
                  expected: Reference) -> None:
    recorder, peer, replay = start(mosquitto, tmp_path)
    try:
        first = Side(replay)
        assert recorder.until(_mid_dialogue, 120)
        first.kill()
        second = Side(replay)  # the same store: the dialogues and the fused ids go on
        assert second.wait(600) == 0, second.text()
        got = finish(recorder, peer, expected, tmp_path, mosquitto)
    finally:
        peer.stop()
    check_exchange(got, expected)
    # no fused id given to two aircraft: the restarted gateway's ids did not start again
    assert recorder.addresses and all(len(a) == 1 for a in recorder.addresses.values())


def test_kill_9_of_the_peer_mid_dialogue(mosquitto: Any, tmp_path: Path,
                  expected: Reference) -> None:
    recorder, peer, replay = start(mosquitto, tmp_path)
    try:
        gateway = Side(replay)
        assert recorder.until(_mid_dialogue, 120)
        peer.kill()
        peer.start()  # the same store; the broker kept what was sent to it meanwhile
        assert peer.log.seen.wait(30), peer.text()
        assert gateway.wait(600) == 0, gateway.text()
        got = finish(recorder, peer, expected, tmp_path, mosquitto)
    finally:
        peer.stop()
    check_exchange(got, expected)
    assert "dialogues restored" in peer.text()
