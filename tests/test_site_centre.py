"""Site and centre (docs/deployment.md): two site gateways (`replay --broker`, association
off, each with half of the border's radars and one SDPS) publish plots and tracks into a
real Mosquitto; a centre (`run` with `mqtt://` inputs, association and handoff on) fuses
them.  Its picture is compared, flight by flight, with one process that replays the same
capture through the whole border configuration."""

from __future__ import annotations

import bisect
import gzip
import json
import math
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import IO, Any

import paho.mqtt.publish as publish
import pytest
from waiting import wait_until

from gateway.config.reference import toml_value

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "captures" / "border-10min.pcap.gz"
AIRSPACE = ROOT / "captures" / "border-airspace.geojson"
SLICE_S = 180.0  # of the capture's 600 s: enough for tracks to confirm, coast and end
SPEED = 20  # the sites' replay speed: the centre must run on the data's clock at it
HOLD_S = 30.0  # data seconds: 1.5 s of wall time at 20x, for a machine loaded by other work
START_S = 4.0  # wall seconds from starting the sites to their first datagram's time


def slice_capture(out: Path, seconds: float) -> None:
    """The first ``seconds`` of the capture (classic pcap, little-endian, microseconds)."""
    with gzip.open(CAPTURE, "rb") as f, out.open("wb") as w:
        head = f.read(24)
        assert head[:4] == b"\xd4\xc3\xb2\xa1", "the capture's pcap flavour changed"
        w.write(head)
        t0 = None
        while len(record := f.read(16)) == 16:
            sec, usec, incl, _orig = struct.unpack("<IIII", record)
            body = f.read(incl)
            t = sec + usec / 1e6
            t0 = t if t0 is None else t0
            if t - t0 > seconds:
                break
            w.write(record + body)


def _table(name: str, values: dict[str, Any], many: bool = False) -> str:
    head = f"[[{name}]]" if many else f"[{name}]"
    return "\n".join([head, *(f"{k} = {toml_value(v)}" for k, v in values.items())]) + "\n\n"


def write_config(path: Path, gateway: str, *, sacs: set[int] | None, extra: str = "") -> None:
    """The border configuration with only the radars and SDPS of ``sacs`` (None: all),
    no UDP input, no [mqtt], no [handoff]; ``extra`` appended."""
    border = tomllib.loads((ROOT / "captures" / "border.toml").read_text())
    text = _table("gateway", {"id": gateway})
    for key, name in (("radar", "radar"), ("sdps", "sdps")):
        for site in border[key]:
            if sacs is None or site["sac"] in sacs:
                text += _table(name, site, many=True)
    text += _table("normalize", border["normalize"])
    path.write_text(text + extra)


def handoff(database: str = ":memory:") -> str:
    border = tomllib.loads((ROOT / "captures" / "border.toml").read_text())
    return _table("handoff", {**border["handoff"], "airspace": str(AIRSPACE),
                              "database": database})


def read_fused(path: Path) -> list[dict[str, Any]]:
    out = []
    with path.open() as f:
        for line in f:
            m = json.loads(line)
            if m["kind"] == "fused":
                out.append(m)
    return out


def flights(fused: list[dict[str, Any]]) -> dict[str, list[tuple[float, float, float]]]:
    """Confirmed updates by flight (Mode S address, else callsign): (t, lat, lon)."""
    out: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for m in fused:
        key = m["icao24"] or m["callsign"]
        if m["state"] == "confirmed" and key and m["lat"] is not None and not m["extrapolated"]:
            out[key].append((m["t"], m["lat"], m["lon"]))
    return out


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat = math.radians((a[0] + b[0]) / 2)
    dy = (a[0] - b[0]) * 111_195.0
    dx = (a[1] - b[1]) * 111_195.0 * math.cos(lat)
    return math.hypot(dx, dy)


class Lines:
    """A process's stderr, read on a thread; ``wait_for`` a line matching a pattern."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            with self.cond:
                self.lines.append(raw.decode(errors="replace"))
                self.cond.notify_all()

    def count(self, pattern: str) -> int:
        with self.cond:
            return sum(1 for line in self.lines if re.search(pattern, line))

    def wait_for(self, pattern: str, n: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: sum(
                1 for line in self.lines if re.search(pattern, line)) >= n, timeout)

    def text(self) -> str:
        with self.cond:
            return "".join(self.lines)


def health_of(url: str) -> dict[str, Any]:
    """The centre's /health body (503 while an input is down: the body says why)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return dict(json.load(r))
    except urllib.error.HTTPError as exc:
        return dict(json.load(exc))


def accepted(health: str) -> int:
    """The centre's count of batches taken."""
    return int(health_of(health).get("remote_batches", {}).get("accepted", 0))


def skipped(health: str) -> dict[str, int]:
    return dict(health_of(health).get("remote_batches", {}).get("skipped", {}))


PLOT = json.dumps({"kind": "plot", "v": 1, "t": 1.0e9, "src": {"sac": 0, "sic": 101, "cat": 48},
                   "lat": 25.0, "lon": -100.0, "rho_nm": 1.0, "theta_deg": 1.0, "fl": None,
                   "mode3a": None, "icao24": None, "callsign": None, "track_number": None,
                   "gs_kt": None, "hdg_deg": None, "detection": "psr", "flags": []})


def gateway(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


@pytest.mark.slow
def test_two_sites_and_a_centre_give_the_picture_of_one_process(
        tmp_path: Path, mosquitto: Any) -> None:
    capture = tmp_path / "slice.pcap"
    slice_capture(capture, SLICE_S)

    # one process: the whole border, association and handoff
    whole = tmp_path / "whole.toml"
    write_config(whole, "whole", sacs=None, extra=handoff())
    reference = tmp_path / "whole.jsonl"
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "replay", str(capture),
                           "--config", str(whole), "--speed", "max", "--out", str(reference)],
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]

    # a centre under a prefix of its own, reading both sites' plots and tracks
    sites_prefix = "site/v1"
    centre = tmp_path / "centre.toml"
    inputs = "".join(_table("input", {"url": f"{mosquitto.url}/{sites_prefix}/{kind}/#"},
                            many=True) for kind in ("plots", "tracks"))
    write_config(centre, "centre", sacs=None, extra=inputs + _table(
        "mqtt", {"url": mosquitto.url, "topic_prefix": "centre/v1"})
        + _table("metrics", {"port": 0}) + _table("service", {"remote_hold_s": HOLD_S})
        + handoff())
    centre_out = tmp_path / "centre.jsonl"
    proc = gateway("run", "--config", str(centre), "--out", str(centre_out),
                   "--log-level", "info")
    assert proc.stderr is not None
    log = Lines(proc.stderr)
    try:
        assert log.wait_for(r"connected and subscribed", 1, 30), log.text()[-3000:]
        found = re.search(r"metrics on (http://[^/]+)/metrics", log.text())
        assert found, log.text()[-3000:]
        base = found.group(1)
        # hostile payloads first: counted, logged in one line each, skipped
        bad_source = json.dumps([{**json.loads(PLOT), "src": {"sac": 9, "sic": 9, "cat": 48}}])
        publish.multiple([(f"{sites_prefix}/plots/0-101", b"{not json", 0, False),
                          (f"{sites_prefix}/plots/9-9", bad_source.encode(), 0, False)],
                         hostname="127.0.0.1", port=mosquitto.port)
        assert wait_until(lambda: skipped(base + "/health") == {
            "malformed": 1, "unknown-source": 1}, 30), skipped(base + "/health")
        # two sites, association off, no handoff: MX radars and SDPS, US radars and SDPS
        sites = []
        at = time.time() + START_S  # both replays keep one schedule (replay --at)
        for n, sac in enumerate((0, 1)):
            config = tmp_path / f"site{n}.toml"
            write_config(config, f"site{n}", sacs={sac}, extra=_table(
                "associate", {"enabled": False}) + _table(
                "mqtt", {"url": mosquitto.url, "topic_prefix": sites_prefix}))
            sites.append(gateway("replay", str(capture), "--config", str(config),
                                 "--speed", str(SPEED), "--at", f"{at:.3f}"))
        published = 0
        for site in sites:
            _, err = site.communicate(timeout=120)
            assert site.returncode == 0, err.decode()[-2000:]
            published += int(re.findall(r"\bbatches=(\d+)", err.decode())[-1])
        # everything the sites published reaches the centre (QoS 0, one broker, no loss)
        health = base + "/health"
        assert wait_until(lambda: accepted(health) >= published, 60), (
            accepted(health), published)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, log.text()[-3000:]
    text = log.text()
    print(text.splitlines()[-1][:3000])
    assert log.count("remote batch skipped") == 2, text[-3000:]
    counts = dict(re.findall(r"\b(remote-[a-z-]+)=(\d+)", text.splitlines()[-1]))
    assert counts["remote-batches-accepted"] == str(published)
    # nothing but the sites' batches and the two hostile ones: never its own publications
    assert counts["remote-received"] == str(published + 2), counts

    ours, theirs = flights(read_fused(centre_out)), flights(read_fused(reference))
    assert len(theirs) > 100
    common = set(ours) & set(theirs)
    only_one = set(theirs) - set(ours)
    only_centre = set(ours) - set(theirs)
    # positions at matching times: each confirmed centre update against the one process's
    # track of the same flight, interpolated to the update's time (between updates at most
    # 30 s apart); the update counts compare directly
    errors: list[float] = []
    outside = 0
    for key in common:
        times = [t for t, _, _ in theirs[key]]
        for t, lat, lon in ours[key]:
            i = bisect.bisect_left(times, t)
            if i < len(times) and times[i] == t:  # an update at the same time
                errors.append(metres((lat, lon), theirs[key][i][1:]))
                continue
            if i == 0 or i == len(times) or times[i] - times[i - 1] > 30.0:
                outside += 1
                continue
            (t0, lat0, lon0), (t1, lat1, lon1) = theirs[key][i - 1], theirs[key][i]
            f = (t - t0) / (t1 - t0)
            errors.append(metres((lat, lon), (lat0 + f * (lat1 - lat0), lon0 + f * (lon1 - lon0))))
    errors.sort()
    median, p95, p99 = (errors[int(len(errors) * q)] for q in (0.5, 0.95, 0.99))
    n_ours, n_theirs = sum(map(len, ours.values())), sum(map(len, theirs.values()))
    print(f"flights: one process {len(theirs)}, centre {len(ours)}, common {len(common)}; "
          f"confirmed updates: one process {n_theirs}, centre {n_ours}, compared "
          f"{len(errors)}, outside the other's track {outside}; position difference median "
          f"{median:.1f} m, 95th percentile {p95:.1f} m, 99th {p99:.1f} m, "
          f"max {errors[-1]:.1f} m")
    assert len(common) >= 0.97 * len(theirs), sorted(only_one)[:20]
    assert len(only_centre) <= 0.03 * len(theirs), sorted(only_centre)[:20]
    assert abs(n_ours - n_theirs) <= 0.02 * n_theirs
    assert len(errors) >= 0.95 * n_ours
    assert median < 10.0 and p95 < 100.0 and p99 < 500.0
