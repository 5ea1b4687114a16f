"""``asterix-gateway demo`` as users run it: the shipped capture through a real broker, and
a view made from what came back over MQTT (plain lines here: stdout is not a terminal)."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest
from test_messages import FUSED

from gateway.commands import demo as demo_command
from gateway.messages import Alert, Status, encode, encode_batch
from gateway.publish.topics import Topics

DEMO = [sys.executable, "-m", "gateway.cli", "demo"]
LINE = re.compile(r"^demo: tracks=(\d+) confirmed=(\d+) .* mqtt=(connected|disconnected)$")


def demo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DEMO, *args], capture_output=True, text=True, timeout=timeout)


def view_lines(stdout: str) -> list[tuple[int, int]]:
    """(tracks, confirmed) of each summary line the view printed."""
    return [(int(m[1]), int(m[2])) for m in map(LINE.match, stdout.splitlines()) if m]


def final_summary(stderr: str) -> dict[str, int]:
    last = [line for line in stderr.splitlines() if line.startswith("demo: ")][-1]
    return {k: int(v) for k, v in re.findall(r"([a-z0-9-]+)=(\d+)", last)}


def assert_clean_end(done: subprocess.CompletedProcess[str]) -> dict[str, int]:
    assert done.returncode == 0, done.stderr
    counts = final_summary(done.stderr)
    assert counts.get("mqtt-published", 0) > 0
    assert not [k for k in counts if k.startswith("mqtt-dropped")], counts
    return counts


@pytest.mark.slow
def test_embedded_broker_whole_capture() -> None:
    done = demo("--embedded", "--speed", "max", timeout=300)  # the peers play in it too
    counts = assert_clean_end(done)
    assert re.search(r"^  mosquitto_sub -h 127\.0\.0\.1 -p \d+ -t 'surv/v1/#' -v$",
                     done.stdout, re.M), done.stdout
    assert "surv/v1/fused/{id}" in done.stdout and "(embedded, amqtt, MQTT 3.1.1)" in done.stdout
    seen = view_lines(done.stdout)
    assert seen and max(tracks for tracks, _ in seen) > 0, done.stdout
    assert seen[-1][1] > 0  # confirmed tracks in the last view, received over MQTT
    assert counts["datagrams"] > 20_000  # the whole capture went through
    # both directions of the border, as seen over MQTT: the gateway's transfers into the
    # peers' units, and the peers' (the same engine, fed by the demo's picture) into its own
    handed = dict(re.findall(r"^demo: handoff .* \(offered by the (gateway|peer)\): .*"
                             r"AOC=(\d+)", done.stdout, re.M))
    assert set(handed) == {"gateway", "peer"}, done.stdout
    assert all(int(aoc) > 0 for aoc in handed.values()), done.stdout


def test_broker_that_does_not_answer_is_one_line_and_exit_2() -> None:
    done = demo("--broker", "mqtt://127.0.0.1:1", timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "asterix-gateway: --broker mqtt://127.0.0.1:1: no MQTT broker answers there"]


def test_missing_capture_is_one_line_and_exit_2() -> None:
    done = demo("--capture", "/nonexistent/border.pcap.gz", timeout=30)
    assert done.returncode == 2
    assert "no such file" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_ctrl_c_stops_cleanly() -> None:
    proc = subprocess.Popen([*DEMO, "--embedded", "--speed", "5"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, proc.kill)  # reading stdout below has no timeout
    watchdog.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the first view line: replay and view are running
            if LINE.match(line):
                break
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        watchdog.cancel()
        proc.kill()
    done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    counts = assert_clean_end(done)
    assert counts["datagrams"] < 20_000  # stopped early, not at the end of the capture


def test_found_broker_gets_mqtt5_and_duration_stops_it(mosquitto: Any) -> None:
    done = demo("--broker", mosquitto.url, "--speed", "10",
                "--duration", "3", timeout=60)
    assert_clean_end(done)
    assert f"{mosquitto.url} (found, MQTT 5)" in done.stdout
    assert any(tracks for tracks, _ in view_lines(done.stdout)), done.stdout


def test_broker_list_is_a_cluster_the_first_node_that_answers_used(mosquitto: Any) -> None:
    """`--broker A,B`: A does not answer, B does; the demo runs on B (the gateway, the
    view and the peers fail over from A, as for any cluster)."""
    done = demo("--broker", f"mqtt://127.0.0.1:1,{mosquitto.url}", "--speed", "10",
                "--duration", "3", timeout=60)
    assert_clean_end(done)
    assert f"mqtt://127.0.0.1:1, {mosquitto.url} (found, MQTT 5)" in done.stdout
    assert any(tracks for tracks, _ in view_lines(done.stdout)), done.stdout
    bad = demo("--broker", "mqtt://127.0.0.1:1,mqtt://127.0.0.1:1", timeout=30)
    assert bad.returncode == 2 and "distinct broker URLs" in bad.stderr


def test_embedded_takes_the_place_of_a_configs_urls(tmp_path: Path) -> None:
    """A config whose [mqtt] names a cluster's nodes: `--embedded` publishes to the
    embedded broker, not to them (its URL replaces the config's url or urls)."""
    root = Path(__file__).resolve().parent.parent / "captures"
    text = (root / "border.toml").read_text().replace(
        'url = "mqtt://127.0.0.1:1883"', 'urls = ["mqtt://127.0.0.1:1", "mqtt://127.0.0.1:2"]')
    assert "urls = [" in text
    (tmp_path / "border-airspace.geojson").write_bytes(
        (root / "border-airspace.geojson").read_bytes())
    (tmp_path / "border.toml").write_text(text)
    done = demo("--embedded", "--config", str(tmp_path / "border.toml"), "--speed", "10",
                "--duration", "3", timeout=60)
    assert_clean_end(done)
    assert "(embedded, amqtt, MQTT 3.1.1)" in done.stdout
    assert "127.0.0.1:1," not in done.stdout


def test_view_counts_and_skips_what_it_cannot_use() -> None:
    """The view's picture: garbage and wrong kinds are counted, ended tracks leave, the
    number of tracks is bounded, and a retained "offline" is not this run's end."""
    async def check() -> None:
        picture = demo_command.Picture(Topics("p", "gw", 60))
        for payload in (b"", b"not json", b"[1]", encode_batch([Alert(
                t=1.0, type="x", track_id=None, text="")])):
            picture.take("p/picture", payload)
        picture.take("p/alerts", encode(FUSED))
        picture.take("p/status/gw", 17)
        assert picture.counters["undecodable"] == 6 and not picture.tracks

        many = [msgspec.structs.replace(FUSED, id=f"T{i}") for i in range(
            demo_command.MAX_TRACKS + 10)]
        picture.take("p/picture", encode_batch(many))
        assert len(picture.tracks) == demo_command.MAX_TRACKS and "T0" not in picture.tracks
        ended = msgspec.structs.replace(many[-1], state="ended")
        picture.take("p/picture", encode_batch([ended]))
        assert many[-1].id not in picture.tracks

        offline = encode(Status(t=1.0, gateway="gw", state="offline", counters={}))
        picture.take("p/status/gw", offline, retained=True)
        assert not picture.offline.is_set()
        picture.take("p/status/gw", offline)
        assert picture.offline.is_set() and picture.status == {"gw": "offline"}

    asyncio.run(check())
