"""``run``: the live gateway as a process, joined to the simulator's multicast on loopback,
publishing to a real Mosquitto; its shutdown, last will, metrics and health endpoint."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.subscribe as subscribe
import pytest
from waiting import wait_until

from gateway.ingest import read_datagrams
from gateway.sim.scenario import BORDER

ROOT = Path(__file__).resolve().parent.parent
BORDER_TOML = (ROOT / "captures" / "border.toml").read_text()


def live_config(path: Path, port: int, inputs: str | None = None) -> tuple[Path, int]:
    """The shipped border config, with a free metrics port; the simulator runs 10 times
    faster than real time, so its data are "early" on the wall clock: widen that window."""
    text = BORDER_TOML.replace("max_early_s = 5.0", "max_early_s = 43200.0").replace(
        'airspace = "border-airspace.geojson"',
        f'airspace = "{ROOT / "captures" / "border-airspace.geojson"}"')
    if inputs is not None:
        head, _, tail = text.partition("[[input]]")
        text = head + inputs + "\n[mqtt]" + tail.partition("[mqtt]")[2]
    path.write_text(text + f"\n[metrics]\nport = {port}\n")
    return path, port


def start_run(config: Path, broker: str, out: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "run", "--config", str(config),
                             "--broker", broker, "--out", str(out), "--log-format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc


def wait_listening(proc: subprocess.Popen[bytes], port: int) -> None:
    """Until /health answers that the broker is connected (the gateway's inputs are open
    before its health endpoint is)."""
    def up() -> bool:
        assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
        try:
            return bool(http(port, "/health")[1].get("mqtt") == "connected")
        except OSError:
            return False

    assert wait_until(up, 30, interval=0.1), "run did not come up"


def wait_received(port: int, pcap: Path, timeout: float = 30) -> None:
    """Until the gateway has read every datagram of ``pcap`` off its sockets (what it has
    read, SIGTERM still puts through the pipeline); a datagram lost never comes, and the
    caller's assertions then say how many are missing."""
    expected = sum(1 for _ in read_datagrams(pcap))
    wait_until(lambda: metric(http(port, "/metrics")[1], "gateway_input_datagrams_total")
               >= expected, timeout)


def http(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    return status, (json.loads(body) if path == "/health" else body.decode())


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))


def stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err.decode()


def simulate_live(tmp_path: Path, live: str, duration: int = 60) -> Path:
    pcap = tmp_path / "live.pcap"
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "simulate", "--scenario",
                           "border", "--duration", str(duration), "--seed", "5", "--out",
                           str(pcap), "--live", live, "--speed", "10"],
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return pcap


def replay(pcap: Path, config: Path, out: Path) -> list[dict[str, Any]]:
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "replay", str(pcap),
                           "--config", str(config), "--out", str(out)],
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.mark.slow
def test_run_joins_every_site_and_loses_nothing(mosquitto: Any, tmp_path: Path,
                                                free_port: Callable[[], int]) -> None:
    """Ten multicast groups (eight radars, two SDPS) as in the field; the simulator sends at
    ten times the scenario's rate.  Every datagram is received; each source's plots and
    tracks are exactly those a replay of the same capture makes."""
    config, port = live_config(tmp_path / "gw.toml", free_port())
    out = tmp_path / "live.jsonl"
    proc = start_run(config, mosquitto.url, out)
    try:
        wait_listening(proc, port)
        pcap = simulate_live(tmp_path, "sites?iface=127.0.0.1")
        wait_received(port, pcap)
        status, metrics = http(port, "/metrics")
        assert status == 200
        assert http(port, "/health")[0] == 200
    finally:
        code, err = stop(proc)
    assert code == 0, err
    replayed = replay(pcap, config, tmp_path / "replay.jsonl")
    datagrams = metric(metrics, "gateway_input_datagrams_total")
    assert datagrams == sum(1 for _ in read_datagrams(pcap)) > 2000
    assert metric(metrics, "gateway_input_dropped_total") == 0
    assert metric(metrics, "gateway_kernel_receive_buffer_errors_total") == 0
    live = [json.loads(line) for line in out.read_text().splitlines()]
    for kind in ("plot", "track"):
        for site in (*BORDER.radars, *BORDER.sdps):
            def mine(m: dict[str, Any], site: Any = site, kind: str = kind) -> bool:
                return m["kind"] == kind and (m["src"]["sac"], m["src"]["sic"]) == (
                    site.sac, site.sic)
            assert [m for m in live if mine(m)] == [m for m in replayed if mine(m)]
    assert sum(m["kind"] == "plot" for m in live) > 5000
    assert '"offline"' in err or "stopping" in err  # the JSON log says what it did


@pytest.mark.slow
def test_run_from_one_group_publishes_exactly_what_replay_does(
        mosquitto: Any, tmp_path: Path, free_port: Callable[[], int]) -> None:
    """All sources through one group keep the capture's order, so the live gateway and a
    replay of what it received publish the same messages, fused picture included."""
    inputs = '[[input]]\nurl = "udp://239.255.77.2:23998?iface=127.0.0.1"\n'
    config, port = live_config(tmp_path / "gw.toml", free_port(), inputs)
    out = tmp_path / "live.jsonl"
    proc = start_run(config, mosquitto.url, out)
    try:
        wait_listening(proc, port)
        pcap = simulate_live(tmp_path, "udp://239.255.77.2:23998?iface=127.0.0.1", 40)
        wait_received(port, pcap)
    finally:
        code, err = stop(proc)
    assert code == 0, err
    replay(pcap, config, tmp_path / "replay.jsonl")
    # Every message the same and in the same order, but the registration estimates: they
    # are published on the data clock between batches, which a live socket splits otherwise
    # than a capture read (the same estimates, at other places in the stream).
    live, replayed = out.read_bytes().splitlines(), (tmp_path / "replay.jsonl").read_bytes(
        ).splitlines()

    def split(lines: list[bytes]) -> tuple[list[bytes], list[bytes]]:
        reg = [x for x in lines if x.startswith(b'{"kind":"registration"')]
        return [x for x in lines if not x.startswith(b'{"kind":"registration"')], reg

    (live_rest, live_reg), (rep_rest, rep_reg) = split(live), split(replayed)
    assert live_rest == rep_rest

    def published(reg: list[bytes]) -> list[float]:  # the times of the publications
        return sorted({json.loads(x)["t"] for x in reg})

    # on the same multiples of the period: the data's clock, from the data's start
    period = 60.0
    assert [t // period for t in published(live_reg)] == [
        t // period for t in published(rep_reg)]
    assert out.stat().st_size > 1_000_000


@pytest.mark.slow
def test_sigterm_publishes_offline_and_kill_leaves_the_last_will(
        mosquitto: Any, tmp_path: Path, free_port: Callable[[], int]) -> None:
    inputs = '[[input]]\nurl = "udp://239.255.77.3:23997?iface=127.0.0.1"\n'
    config, port = live_config(tmp_path / "gw.toml", free_port(), inputs)
    topic = "surv/v1/status/border-gw-1"

    def status() -> dict[str, Any]:
        m = subscribe.simple(topic, hostname="127.0.0.1", port=mosquitto.port, retained=True)
        return json.loads(m.payload)  # type: ignore[union-attr]

    proc = start_run(config, mosquitto.url, tmp_path / "a.jsonl")
    wait_listening(proc, port)
    assert status()["state"] == "online"
    code, _ = stop(proc)
    assert code == 0 and status()["state"] == "offline"

    proc = start_run(config, mosquitto.url, tmp_path / "b.jsonl")
    wait_listening(proc, port)
    assert status()["state"] == "online"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert status()["state"] == "offline"  # the broker published the will


@pytest.mark.parametrize("problem, text", [
    ("no-inputs", "no [[input]]"),
    ("bad-broker", "--broker"),
])
def test_run_refuses_bad_setups_in_one_line(tmp_path: Path, problem: str, text: str,
                                            free_port: Callable[[], int]) -> None:
    config = tmp_path / "gw.toml"
    args = ["--config", str(config)]
    if problem == "no-inputs":
        config.write_text('[gateway]\nid = "x"\n[mqtt]\nurl = "mqtt://127.0.0.1:1"\n')
    else:
        live_config(config, free_port())
        args += ["--broker", "http://example.org"]
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "run", *args],
                          capture_output=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and text in lines[0]
