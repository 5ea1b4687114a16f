"""deploy/ (docs/deployment.md, "Deployment"): the example configurations load with the
gateway's own loader and fit together (the sites publish where the centre reads, the
centre publishes elsewhere, on the cluster the NATS configuration makes); the systemd units
are valid (``systemd-analyze verify``) and start commands the gateway has; the NATS
configuration is one nats-server accepts; the Containerfile copies what exists.  And, slow:
a site from deploy/config/site.toml feeds a centre from deploy/config/centre.toml (with its
PostgreSQL store) through a real broker, and the centre publishes fused tracks."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import tomllib
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from nats_cluster import NATS, NatsCluster
from test_site_centre import Lines, _table, gateway, health_of, slice_capture
from waiting import wait_until

from gateway.cli import parser
from gateway.config import Config, load
from gateway.config.values import parse_input_url, parse_mqtt_url, topic_matches
from gateway.publish.topics import Topics

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
AIRSPACE = ROOT / "captures" / "border-airspace.geojson"
INSTALLED = "/opt/asterix-gateway/bin/asterix-gateway"  # the units' and the image's
UNITS = {"asterix-gateway-site@.service": "site-mx", "asterix-gateway-centre.service": None}
NATS_DROP_IN = DEPLOY / "systemd" / "nats-server.service.d" / "asterix-gateway.conf"
PACKAGED_NATS_UNIT = Path("/lib/systemd/system/nats-server.service")  # Debian's
NATS_ENV = {"NATS_SERVER_NAME": "broker-a", "GATEWAY_SITE_PASSWORD": "site-secret",
            "GATEWAY_CENTRE_PASSWORD": "centre-secret", "GATEWAY_PEER_PASSWORD": "peer-secret"}


def load_example(name: str, directory: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """An example as it is installed: in one folder with the airspace it names, the
    password its ``password_env`` names in the environment (the unit's EnvironmentFile)."""
    shutil.copy(DEPLOY / "config" / name, directory / name)
    shutil.copy(AIRSPACE, directory / AIRSPACE.name)
    monkeypatch.setenv("GATEWAY_MQTT_PASSWORD", "secret")
    return load(directory / name)


def nats_conf() -> str:
    return (DEPLOY / "nats" / "cluster.conf").read_text()


def test_the_site_publishes_where_the_centre_reads_and_the_centre_elsewhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = load_example("site.toml", tmp_path, monkeypatch)
    centre = load_example("centre.toml", tmp_path, monkeypatch)
    assert site.mqtt is not None and centre.mqtt is not None
    assert site.gateway.id != centre.gateway.id

    # the site: decode and normalise only, its radars' feeds in, no coordination
    assert not site.associate.enabled and site.handoff is None and site.store.url is None
    assert all(i.url.startswith("udp://") for i in site.inputs)
    assert len(site.inputs) == len(site.radars) + len(site.sdps)
    # the centre: association and handoff on, a shared store (the redundant pair)
    assert centre.associate.enabled and centre.handoff is not None
    assert (centre.store.url or "").startswith("postgresql://")

    # every topic the site publishes its plots and tracks on is read by one centre input
    filters = [parse_input_url(i.url) for i in centre.inputs]
    site_topics = Topics(site.mqtt.topic_prefix, site.gateway.id)
    published = [site_topics.source("plots", (r.sac, r.sic)) for r in site.radars] + [
        site_topics.source("tracks", (s.sac, s.sic)) for s in site.sdps]
    for topic in published:
        assert any(topic_matches(f.filter, topic) for f in filters), topic  # type: ignore[union-attr]
    # ... and none of the centre's own topics is (it must never read back what it publishes)
    centre_topics = Topics(centre.mqtt.topic_prefix, centre.gateway.id)
    assert centre.mqtt.topic_prefix != site.mqtt.topic_prefix
    for topic in (centre_topics.picture, centre_topics.fused("centre-T000001"),
                  centre_topics.source("plots", (0, 101)), centre_topics.alerts):
        assert not any(topic_matches(f.filter, topic) for f in filters), topic  # type: ignore[union-attr]

    # the centre knows every source of the site, placed the same
    for mine, theirs in ((site.radars, centre.radars), (site.sdps, centre.sdps)):
        by_code = {(x.sac, x.sic): x for x in theirs}
        for entry in mine:
            assert by_code[(entry.sac, entry.sic)] == entry

    # one broker cluster: both publish to its nodes, the centre's inputs fail over between
    # the same nodes, the nodes are the cluster's routes, and the users are the cluster's
    assert site.mqtt.urls == centre.mqtt.urls and len(site.mqtt.urls) == 3
    assert site.mqtt.protocol == centre.mqtt.protocol == "3.1.1"  # NATS's MQTT
    nodes = {parse_mqtt_url(u) for u in site.mqtt.urls}
    assert all(set(f.brokers) == nodes for f in filters)  # type: ignore[union-attr]
    routes = re.findall(r"nats-route://([^:\s]+):\d+", nats_conf())
    assert sorted(routes) == sorted(n.host for n in nodes)
    mqtt_port = int(re.search(r"mqtt \{[^}]*listen: [^:]+:(\d+)", nats_conf()).group(1))  # type: ignore[union-attr]
    assert {n.port for n in nodes} == {mqtt_port}
    users = re.findall(r"\{ user: (\w+), password: \$(\w+) \}", nats_conf())
    assert {site.mqtt.username, centre.mqtt.username} <= {u for u, _ in users}


def unit(path: Path) -> configparser.ConfigParser:
    """A unit file's keys (the last of a repeated key, as systemd reads most)."""
    ini = configparser.ConfigParser(strict=False, interpolation=None)
    ini.optionxform = str  # type: ignore[assignment,method-assign]
    ini.read_string(path.read_text())
    return ini


@pytest.mark.parametrize("name", sorted(UNITS))
def test_the_units_run_the_installed_gateway_with_commands_it_has(name: str) -> None:
    service = unit(DEPLOY / "systemd" / name)["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == INSTALLED
    args = parser().parse_args(argv[1:])  # exits (SystemExit 2) on a command or option it lacks
    assert args.command == "run"
    instance = "%i" if name.endswith("@.service") else "centre"
    assert args.config == f"/etc/asterix-gateway/{instance}.toml"
    # a centre that loses its lease exits with status 4 by design: systemd brings it back
    assert service["Restart"] == "always"
    assert "4" not in service.get("RestartPreventExitStatus", "").split()
    assert service["RestartPreventExitStatus"].split() == ["2"]  # a bad configuration
    assert service["User"] == "asterix-gateway" and service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict" and service["CapabilityBoundingSet"] == ""
    assert "EnvironmentFile" in service


def verify(unit_file: Path) -> None:
    done = subprocess.run(["systemd-analyze", "verify", str(unit_file)], capture_output=True,
                          text=True, timeout=60)
    # unknown keys and bad values are warnings on stderr, with status 0: none allowed
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr + done.stdout


@pytest.mark.parametrize("name", sorted(UNITS))
def test_systemd_analyze_verifies_the_units(name: str, tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd-analyze (the structured check above still ran)")
    entry = shutil.which("asterix-gateway") or str(Path(sys.executable).parent
                                                  / "asterix-gateway")
    if not os.access(entry, os.X_OK):
        pytest.skip("the asterix-gateway entry point is not installed here")
    # verify wants the program to exist: this machine's installed entry point stands in
    instance = UNITS[name]
    copy = tmp_path / (name.replace("@.", f"@{instance}.") if instance else name)
    copy.write_text((DEPLOY / "systemd" / name).read_text().replace(INSTALLED, entry))
    verify(copy)


def test_the_nats_drop_in_runs_the_cluster_configuration(tmp_path: Path) -> None:
    service = unit(NATS_DROP_IN)["Service"]
    assert shlex.split(service["ExecStart"]) == ["/usr/sbin/nats-server", "-c",
                                                 "/etc/nats/cluster.conf"]
    assert re.search(r"^ExecStart=$", NATS_DROP_IN.read_text(), re.M)  # the packaged one cleared
    assert service["StateDirectory"] == "nats"  # cluster.conf's store_dir
    assert 'store_dir: "/var/lib/nats"' in nats_conf()
    if shutil.which("systemd-analyze") is None or not PACKAGED_NATS_UNIT.exists():
        pytest.skip("no systemd-analyze or no Debian nats-server unit to apply it to")
    # verify reads drop-ins from the unit's own folder
    shutil.copy(PACKAGED_NATS_UNIT, tmp_path / PACKAGED_NATS_UNIT.name)
    (tmp_path / "nats-server.service.d").mkdir()
    shutil.copy(NATS_DROP_IN, tmp_path / "nats-server.service.d" / NATS_DROP_IN.name)
    verify(tmp_path / PACKAGED_NATS_UNIT.name)


def test_nats_server_accepts_the_cluster_configuration() -> None:
    text = nats_conf()
    # what tests/nats_cluster.py's clusters have, and the deployment needs
    assert re.search(r"mqtt \{[^}]*stream_replicas: 3", text)
    assert re.search(r"^jetstream \{", text, re.M) and re.search(r"^cluster \{", text, re.M)
    if NATS is None:
        pytest.skip("nats-server is not installed (apt-get install nats-server)")
    conf = str(DEPLOY / "nats" / "cluster.conf")
    env = {**os.environ, **NATS_ENV}
    done = subprocess.run([NATS, "-t", "-c", conf], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    # the node's name comes from the environment (the drop-in's EnvironmentFile)
    env.pop("NATS_SERVER_NAME")
    done = subprocess.run([NATS, "-t", "-c", conf], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode != 0 and "NATS_SERVER_NAME" in done.stderr


def deployed_node(cluster: NatsCluster, i: int) -> str:
    """deploy/nats/cluster.conf for node ``i`` of a cluster on this machine: its addresses
    and store rewritten, nothing else (each rewrite must find what it rewrites)."""
    text = nats_conf()
    for old, new in ((r"listen: 0\.0\.0\.0:4222", f"listen: 127.0.0.1:{cluster.client_ports[i]}"),
                     (r"listen: 0\.0\.0\.0:6222", f"listen: 127.0.0.1:{cluster.route_ports[i]}"),
                     (r"listen: 0\.0\.0\.0:1883", f"listen: 127.0.0.1:{cluster.mqtt_ports[i]}"),
                     (r'store_dir: "/var/lib/nats"', f'store_dir: "{cluster.store(i)}"'),
                     (r"routes: \[[^\]]*\]", f"routes: [{', '.join(cluster.routes)}]")):
        text, n = re.subn(old, new, text)
        assert n == 1, old
    return text


def connack(port: int, user: str, password: str) -> int:
    """The broker's answer to an MQTT 3.1.1 CONNECT (0: accepted)."""
    answered = threading.Event()
    code: list[int] = []

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        code.append(int(reason.value) if hasattr(reason, "value") else int(reason))
        answered.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"auth-{user}",
                         protocol=mqtt.MQTTv311)
    client.username_pw_set(user, password)
    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert answered.wait(30), "no CONNACK"
        return code[0]
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.slow
def test_three_nodes_of_the_shipped_nats_configuration_carry_a_site_to_the_centre(
        tmp_path: Path) -> None:
    """deploy/nats/cluster.conf on three nodes (addresses rewritten, names and passwords
    from the environment as the drop-in gives them): a cluster whose every node takes a
    QoS 1 message from the site user (JetStream up), refuses a wrong password, and carries
    what the site publishes on one node to the centre subscribed on another."""
    if NATS is None:
        pytest.skip("nats-server is not installed (apt-get install nats-server)")
    cluster = NatsCluster(tmp_path, binary=NATS, conf=deployed_node,
                          env=lambda i: {**NATS_ENV, "NATS_SERVER_NAME": f"broker-{'abc'[i]}"},
                          credentials=("site", NATS_ENV["GATEWAY_SITE_PASSWORD"]))
    try:
        cluster.start()
        port_a, port_c = cluster.mqtt_ports[0], cluster.mqtt_ports[2]
        assert connack(port_a, "site", "wrong") != 0
        assert connack(port_a, "nobody", NATS_ENV["GATEWAY_SITE_PASSWORD"]) != 0
        assert connack(port_c, "centre", NATS_ENV["GATEWAY_CENTRE_PASSWORD"]) == 0
        # the centre on node c subscribes to the sites' plots; the site publishes on node a
        got = threading.Event()
        centre = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="centre-view",
                             protocol=mqtt.MQTTv311)
        centre.username_pw_set("centre", NATS_ENV["GATEWAY_CENTRE_PASSWORD"])
        centre.on_connect = lambda c, *_: c.subscribe("site/v1/plots/#", qos=1)
        centre.on_message = lambda _c, _u, m: got.set() if m.topic == "site/v1/plots/0-101" \
            else None
        centre.connect("127.0.0.1", port_c)
        centre.loop_start()
        site = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="site-mx",
                           protocol=mqtt.MQTTv311)
        site.username_pw_set("site", NATS_ENV["GATEWAY_SITE_PASSWORD"])
        site.connect("127.0.0.1", port_a)
        site.loop_start()

        def delivered() -> bool:
            """One more QoS 1 publication on node a; whether one reached node c."""
            site.publish("site/v1/plots/0-101", b"[]", qos=1).wait_for_publish(5)
            return got.wait(0.5)

        try:
            # the subscription reaches node a over the route in its own time: publish until
            # one arrives, bounded
            assert wait_until(delivered, 60)
        finally:
            for client in (site, centre):
                client.disconnect()
                client.loop_stop()
    finally:
        cluster.stop()


def test_the_containerfile_copies_what_exists_and_runs_what_the_units_run() -> None:
    text = (DEPLOY / "container" / "Containerfile").read_text().replace("\\\n", " ")
    copies = [shlex.split(line)[1:] for line in text.splitlines()
              if line.startswith("COPY ") and "--from=" not in line]
    assert copies
    for *sources, _dest in copies:
        for source in sources:
            assert (ROOT / source).exists(), source  # the build context is the repository
    # the package data setup.py installs are all copied for the build
    copied = {s.rstrip("/") for *sources, _ in copies for s in sources}
    for needed in ("pyproject.toml", "setup.py", "ext", "gateway", "captures/__init__.py",
                   "captures/border-10min.pcap.gz", "deploy/config/site.toml",
                   "deploy/config/centre.toml"):
        assert needed in copied, needed
    assert re.search(r"^FROM \S*python:3\.1\d-slim-bookworm", text, re.M)
    entry = json.loads(re.search(r"^ENTRYPOINT (.*)$", text, re.M).group(1))  # type: ignore[union-attr]
    cmd = json.loads(re.search(r"^CMD (.*)$", text, re.M).group(1))  # type: ignore[union-attr]
    assert entry == [INSTALLED]
    args = parser().parse_args(cmd)
    assert args.command == "run" and args.config == "/etc/asterix-gateway/site.toml"


# -- a site into a centre, as deployed ---------------------------------------------------------

SLICE_S = 120.0  # of the capture: tracks start, confirm and are handed on
SPEED = 20


def dump(doc: dict[str, Any]) -> str:
    """A configuration back to TOML (the tables the examples have)."""
    text = ""
    for name, value in doc.items():
        if isinstance(value, list):
            text += "".join(_table(name, v, many=True) for v in value)
        else:
            text += _table(name, value)
    return text


def rewritten(name: str, directory: Path, change: Any) -> Path:
    """deploy/config/NAME with ``change(doc)`` applied, in ``directory`` with the airspace."""
    doc = tomllib.loads((DEPLOY / "config" / name).read_text())
    change(doc)
    path = directory / name
    path.write_text(dump(doc))
    shutil.copy(AIRSPACE, directory / AIRSPACE.name)
    return path


class Fused:
    """Fused track states on a broker: the ids seen confirmed under a filter."""

    def __init__(self, port: int, filter_: str) -> None:
        self.confirmed: set[str] = set()
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="deploy-view")
        self.client.on_connect = lambda c, *_: c.subscribe(filter_)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _message(self, _c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        if m.payload and json.loads(m.payload).get("state") == "confirmed":
            with self.lock:
                self.confirmed.add(m.topic.rsplit("/", 1)[1])

    def count(self) -> int:
        with self.lock:
            return len(self.confirmed)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.slow
def test_a_site_from_the_example_feeds_a_centre_from_the_example(
        tmp_path: Path, mosquitto: Any, postgres: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/config/site.toml and centre.toml, only the addresses changed (a private
    Mosquitto and PostgreSQL, free ports, loopback): the site replays the first 120 s of
    the capture at 20x, the centre takes the lease and publishes fused tracks."""
    capture = tmp_path / "slice.pcap"
    slice_capture(capture, SLICE_S)
    node = mosquitto.url

    def centre_change(doc: dict[str, Any]) -> None:
        for entry in doc["input"]:  # the same filters, on this broker
            entry["url"] = f"{node}/{parse_input_url(entry['url']).filter}"  # type: ignore[union-attr]
        doc["mqtt"]["urls"] = [node]
        doc["store"]["url"] = postgres.url
        doc["metrics"].update(host="127.0.0.1", port=0)
        doc["web"].update(host="127.0.0.1", port=0)

    def site_change(doc: dict[str, Any]) -> None:
        doc["mqtt"]["urls"] = [node]
        doc["metrics"].update(host="127.0.0.1", port=0)

    for role in ("centre", "site"):
        (tmp_path / role).mkdir()
    centre_conf = rewritten("centre.toml", tmp_path / "centre", centre_change)
    site_conf = rewritten("site.toml", tmp_path / "site", site_change)
    # the password the examples take from the environment (Mosquitto here is anonymous)
    monkeypatch.setenv("GATEWAY_MQTT_PASSWORD", "secret")
    view = Fused(mosquitto.port, "centre/v1/fused/+")
    proc = gateway("run", "--config", str(centre_conf), "--log-level", "info")
    assert proc.stderr is not None
    log = Lines(proc.stderr)
    try:
        assert view.subscribed.wait(30)
        assert log.wait_for(r"connected and subscribed", 1, 90), log.text()[-3000:]
        found = re.search(r"metrics on (http://[^/]+)/metrics", log.text())
        assert found, log.text()[-3000:]
        health = found.group(1) + "/health"
        assert wait_until(lambda: health_of(health).get("role") == "active", 30), (
            health_of(health))
        site = gateway("replay", str(capture), "--config", str(site_conf),
                       "--speed", str(SPEED))
        _, err = site.communicate(timeout=180)
        assert site.returncode == 0, err.decode()[-2000:]
        published = int(re.findall(r"\bbatches=(\d+)", err.decode())[-1])
        assert published > 100
        # every batch the site published reaches the centre (QoS 0, one local broker)
        assert wait_until(lambda: int(health_of(health).get("remote_batches", {}).get(
            "accepted", 0)) >= published, 60), (health_of(health), published)
        # ... and the centre's fused tracks reach a subscriber on the broker
        assert wait_until(lambda: view.count() >= 50, 60), view.count()
    finally:
        view.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, log.text()[-3000:]
    assert log.count("remote batch skipped") == 0, log.text()[-3000:]
    print(f"site batches {published}, fused tracks confirmed at the subscriber {view.count()}")


def test_the_diagram_draws_every_tier_with_the_documented_figures(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "deployment.svg"
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "diagrams" / "deployment.py"),
                           str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    svg = out.read_text()
    for label in ("site gateway A", "broker-a", "broker-b", "broker-c", "centre (active)",
                  "centre (standby)", "PostgreSQL", "peers (AIDC)", "web map"):
        assert label in svg, label
    doc = (ROOT / "docs" / "deployment.md").read_text()
    assert "](deployment.svg)" in doc and (ROOT / "docs" / "deployment.svg").exists()
    # the capacity the boxes show is the table's
    script = (ROOT / "docs" / "diagrams" / "deployment.py").read_text()
    radars = re.findall(r"(\d+) radars of 100 plots/s", script)
    assert len(radars) == 2
    for n in radars:
        assert f"**{n} radars**" in doc, n
    messages = re.search(r"([\d,]+) messages/s through it", script).group(1)  # type: ignore[union-attr]
    assert f"**{messages}**" in doc, messages
