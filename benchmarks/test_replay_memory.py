"""Memory of a one-hour replay of the border scenario at ``--speed max``, into a file and
into a real Mosquitto (issue 16's aim: peak RSS <= 250 MB, growth from data-minute 10 to 60
under 5 %).

The replay runs as its own process (benchmarks/replay_memory.py: the real ``replay``
command, its RSS sampled every second against the replay's data time), so the figures are
those of a gateway, not of the test run.  ``extra_info``: RSS at data-minutes 0, 10, 30 and
60, the peak, and the growth from minute 10 to 60.

Run with ``pytest benchmarks/test_replay_memory.py --benchmark-enable``; in the normal test
run (benchmarks disabled) each replays one minute instead and checks only that nothing was
lost.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "captures" / "border.toml"
SAMPLER = ROOT / "benchmarks" / "replay_memory.py"
MB = 1 << 20

# Counts the plots a subscriber gets until the gateway says offline (a retained status
# from an earlier run is skipped); prints it as JSON.
SUBSCRIBER = """
import json, sys
import paho.mqtt.client as mqtt
counts = {"plots": 0}
def on_connect(c, u, f, rc, p=None):
    c.subscribe("surv/v1/#", qos=1)
def on_subscribe(c, u, mid, rc, p=None):
    print("ready", flush=True)
def on_message(c, u, m):
    if m.retain:
        return
    if "/plots/" in m.topic:
        counts["plots"] += len(json.loads(m.payload))
    elif "/status/" in m.topic and b'"offline"' in m.payload:
        print(json.dumps(counts), flush=True)
        c.disconnect()
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
c.connect("127.0.0.1", int(sys.argv[1]))
c.loop_forever()
"""


def capture(tmp_path: Path, seconds: int) -> Path:
    out = tmp_path / "border.pcap"
    subprocess.run([sys.executable, "-m", "gateway.cli", "simulate", "--scenario", "border",
                    "--duration", str(seconds), "--seed", "1", "--out", str(out)],
                   check=True, cwd=ROOT, capture_output=True)
    return out


def replay(pcap: Path, sink: list[str]) -> dict[str, Any]:
    """The replay command in a process of its own; its samples and the plots it made."""
    done = subprocess.run([sys.executable, str(SAMPLER), "--interval", "1", "--",
                           "replay", str(pcap), "--config", str(CONFIG), *sink],
                          check=True, cwd=ROOT, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    summary = done.stderr.strip().splitlines()[-1]  # "replay: ... plots=N ..."
    result["plots"] = int(summary.split(" plots=")[1].split()[0])
    return result


def curve(samples: list[dict[str, float]]) -> dict[str, float]:
    """RSS in MB at data-minutes 0, 10, 30, 60 (the last sample while replaying), the
    peak, and the growth from minute 10 to 60 in percent."""
    running = samples[:-1]  # the last is taken after the replay ended

    def at(minute: int) -> float:
        later = [s["rss"] for s in running if s["data_s"] >= minute * 60]
        return (later[0] if later else running[-1]["rss"]) / MB

    out = {f"rss_min{m}_mb": round(at(m), 1) for m in (0, 10, 30)}
    out["rss_min60_mb"] = round(running[-1]["rss"] / MB, 1)
    out["peak_rss_mb"] = round(max(s["rss"] for s in samples) / MB, 1)
    out["growth_10_60_pct"] = round(100 * (out["rss_min60_mb"] / out["rss_min10_mb"] - 1), 1)
    return out


def seconds_of(benchmark: Any) -> int:
    return 60 if benchmark.disabled else 3600


def test_replay_hour_into_file_memory(benchmark: Any, tmp_path: Path) -> None:
    pcap = capture(tmp_path, seconds_of(benchmark))
    out = tmp_path / "replay.jsonl"
    result = benchmark.pedantic(replay, args=(pcap, ["--out", str(out)]),
                                rounds=1, iterations=1)
    assert result["status"] == 0
    written = sum(1 for line in out.open("rb") if b'"kind":"plot"' in line)
    assert written == result["plots"] > 0
    if not benchmark.disabled:
        benchmark.extra_info.update(curve(result["samples"]), plots=result["plots"])
        print(f"\n{benchmark.name}: {benchmark.extra_info}")


def test_replay_hour_into_mosquitto_memory(benchmark: Any, tmp_path: Path,
                                           mosquitto: Any) -> None:
    pcap = capture(tmp_path, seconds_of(benchmark))
    sub = subprocess.Popen([sys.executable, "-c", SUBSCRIBER, str(mosquitto.port)],
                           stdout=subprocess.PIPE, text=True)
    try:
        assert sub.stdout is not None and sub.stdout.readline().strip() == "ready"
        result = benchmark.pedantic(replay, args=(pcap, ["--broker", mosquitto.url]),
                                    rounds=1, iterations=1)
        got = json.loads(sub.stdout.readline())
    finally:
        sub.kill()
        sub.wait()
    assert result["status"] == 0
    assert got["plots"] == result["plots"] > 0  # every plot reached the subscriber
    if not benchmark.disabled:
        benchmark.extra_info.update(curve(result["samples"]), plots=result["plots"])
        print(f"\n{benchmark.name}: {benchmark.extra_info}")
