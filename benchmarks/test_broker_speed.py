"""Capacity of the broker tier (docs/deployment.md, "Capacity"): messages a second through a
real three-node NATS cluster (JetStream, MQTT 3.1.1 listener on each node, as
deploy/nats/cluster.conf), the gateway's MQTT sink publishing to one node and a subscriber
on another node receiving them (the route between the nodes is on the way).

QoS 0 messages of one plot each, as sites publish plots and tracks (a real batch carries
many plots: a message a second per radar sector, so messages, not plots, are what the broker
counts).  Each round: 20,000 messages; with ``--benchmark-enable`` three rounds, the
median reported; in the smoke run one round of 2,000.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

from service_replay import sink_throughput

from gateway.config import MqttConfig

MESSAGES = 20_000
SMOKE_MESSAGES = 2_000

# Subscribes on one node; proves the subscription has reached the publishing node (probes
# sent there until one comes back); counts bench/plots/# until N or 20 s without one, then
# prints the count and the wall time of the last.
SUBSCRIBER = """
import json, sys, threading, time
import paho.mqtt.client as mqtt
port, probe_port, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
got = {"count": 0, "last": 0.0}
ready, done = threading.Event(), threading.Event()
def on_connect(c, u, f, rc, p=None):
    c.subscribe([("bench/plots/#", 0), ("bench/probe", 0)])
def on_message(c, u, m):
    if m.topic == "bench/probe":
        ready.set()
        return
    got["count"] += 1
    got["last"] = time.time()
    if got["count"] >= n:
        done.set()
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-sub",
                protocol=mqtt.MQTTv311)
c.on_connect, c.on_message = on_connect, on_message
c.connect("127.0.0.1", port)
c.loop_start()
probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-probe",
                    protocol=mqtt.MQTTv311)
probe.connect("127.0.0.1", probe_port)
probe.loop_start()
deadline = time.time() + 60
while not ready.wait(0.2) and time.time() < deadline:
    probe.publish("bench/probe", b"", qos=0)
probe.disconnect()
probe.loop_stop()
print("ready" if ready.is_set() else "not-ready", flush=True)
seen = -1
while not done.wait(20) and got["count"] != seen:
    seen = got["count"]
print(json.dumps(got), flush=True)
c.disconnect()
c.loop_stop()
"""


def through_cluster(cluster: Any, messages: int) -> dict[str, float]:
    """One round: the sink into node 0, the subscriber on node 2."""
    sub = subprocess.Popen([sys.executable, "-c", SUBSCRIBER, str(cluster.mqtt_ports[2]),
                            str(cluster.mqtt_ports[0]), str(messages)],
                           stdout=subprocess.PIPE, text=True)
    try:
        assert sub.stdout is not None and sub.stdout.readline().strip() == "ready"
        started: list[float] = []
        seconds = sink_throughput(
            MqttConfig(url=cluster.urls[0], protocol="3.1.1"), messages,
            on_start=lambda: started.append(time.time()))
        got = json.loads(sub.stdout.readline())
    finally:
        sub.kill()
        sub.wait()
    return {"sent_s": seconds, "received": got["count"],
            "through_s": got["last"] - started[0]}


def test_messages_through_a_three_node_nats_cluster(benchmark: Any, nats_cluster: Any,
                                                    against_the_peer: Any) -> None:
    messages = MESSAGES if benchmark.enabled else SMOKE_MESSAGES
    rounds: list[dict[str, float]] = []
    benchmark.pedantic(lambda: rounds.append(through_cluster(nats_cluster, messages)),
                       rounds=3 if benchmark.enabled else 1, iterations=1)
    for r in rounds:
        assert r["received"] == messages, rounds  # nothing lost on the way
    sent = [messages / r["sent_s"] for r in rounds]
    through = [messages / r["through_s"] for r in rounds]
    info = {"messages": messages, "into_node_per_s": round(statistics.median(sent)),
            "through_cluster_per_s": round(statistics.median(through)),
            "rounds_through_per_s": [round(x) for x in through]}
    benchmark.extra_info.update(against_the_peer(benchmark, info))
