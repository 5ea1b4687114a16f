"""The web map of a real ``replay`` process: a browser's event stream shows the fused
picture the replay writes, and a browser that stops reading is dropped while the replay
writes every message it writes without the map."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

CAPTURE = Path("captures/border-10min.pcap.gz")
CONFIG = Path("captures/border.toml")
CONNECT_WAIT_S = 60.0  # for the process to listen: a bound, not a measured duration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def replay(out: Path, *extra: str, config: Path = CONFIG) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "replay", str(CAPTURE),
                             "--config", str(config), "--out", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def connect(proc: subprocess.Popen[bytes], port: int) -> socket.socket:
    """A TCP connection to the process's map, as soon as it listens."""
    deadline = time.monotonic() + CONNECT_WAIT_S
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except ConnectionRefusedError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.02)  # the pace of trying again


def fused_callsigns(out: Path, states: tuple[str, ...] = ("confirmed",)) -> set[str]:
    """The callsigns of the fused tracks written so far in ``states`` (empty: any); the
    last line may be half written while the replay runs."""
    callsigns = set()
    with open(out, "rb") as f:
        for line in f:
            try:
                m = json.loads(line)
            except ValueError:
                continue
            if (m.get("kind") == "fused" and m.get("callsign")
                    and (not states or m["state"] in states)):
                callsigns.add(m["callsign"])
    return callsigns


@pytest.mark.slow
def test_an_event_stream_shows_the_replayed_picture(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "out.jsonl"
    proc = replay(out, "--speed", "30", "--web", f"127.0.0.1:{port}")
    try:
        sock = connect(proc, port)
        sock.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/events")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type") == "text/event-stream"
        kinds: list[str] = []
        callsigns: set[str] = set()
        times: list[float] = []
        speeds: set[Any] = set()
        kind = None
        try:
            for raw in response:  # until the replay ends and closes the stream
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                    kinds.append(kind)
                elif line.startswith("data: "):
                    event = json.loads(line[6:])
                    times.append(event["t"])
                    speeds.add(event["speed"])
                    callsigns |= {t["callsign"] for t in event["tracks"] if t["callsign"]}
                    if kind == "snapshot":
                        assert all(len(t["trail"]) <= 20 for t in event["tracks"])
        except (http.client.IncompleteRead, ConnectionError):
            pass  # the process ended mid-chunk
        finally:
            conn.close()
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert kinds[0] == "snapshot" and kinds.count("snapshot") == 1
    assert kinds.count("update") >= 5
    assert speeds == {30.0}
    assert times == sorted(times) and times[-1] - times[0] > 60  # capture time goes on
    written = fused_callsigns(out)
    assert callsigns  # the map showed flights, and only those the replay fused
    assert callsigns <= fused_callsigns(out, states=())
    # every flight confirmed during the replay was on the map (the stream connected
    # within the first seconds: a flight of those first seconds is in the snapshot)
    missing = written - callsigns
    assert len(missing) <= len(written) // 20, sorted(missing)


def _config_with(tmp_path: Path, web: str) -> Path:
    """The border config with a [web] section, beside a copy of its airspace."""
    shutil.copy(CONFIG.parent / "border-airspace.geojson", tmp_path)
    config = tmp_path / "border.toml"
    config.write_text(CONFIG.read_text() + "\n[web]\n" + web)
    return config


def _lines(path: Path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return sum(1 for _ in f)


@pytest.mark.slow
def test_a_browser_that_stops_reading_is_dropped_and_nothing_is_lost(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.jsonl"
    done = replay(baseline)
    _, stderr = done.communicate(timeout=600)
    assert done.returncode == 0, stderr.decode()[-2000:]

    port = free_port()
    config = _config_with(tmp_path, "update_s = 0.1\nclient_queue = 2\n")
    out = tmp_path / "web.jsonl"
    proc = replay(out, "--speed", "max", "--web", f"127.0.0.1:{port}", config=config)
    try:
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting
        deadline = time.monotonic() + CONNECT_WAIT_S
        while True:
            try:
                slow.connect(("127.0.0.1", port))
                break
            except ConnectionRefusedError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        slow.sendall(b"GET /api/events HTTP/1.1\r\nHost: test\r\n\r\n")  # and never reads
        _, stderr = proc.communicate(timeout=600)
        slow.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = stderr.decode()
    assert proc.returncode == 0, text[-2000:]
    dropped = re.search(r"web-clients-dropped=(\d+)", text)
    assert dropped is not None and int(dropped.group(1)) >= 1, text[-2000:]
    assert "fell 2 events behind: disconnected" in text
    assert _lines(out) == _lines(baseline)
    written = re.search(r"messages-written=(\d+)", text)
    assert written is not None and int(written.group(1)) == _lines(baseline)
