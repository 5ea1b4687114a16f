"""``simulate --live``: the datagrams of the capture, on real multicast sockets (loopback)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gateway.ingest import read_datagrams
from gateway.ingest.multicast import iter_multicast
from gateway.ingest.url import UdpUrl
from gateway.sim.scenario import BORDER


def _receive(url: UdpUrl, into: list[bytes], ready: threading.Event,
             stop: threading.Event) -> None:
    feed = iter_multicast(url, stop=stop, timeout=0.05)
    ready.set()
    for d in feed:
        into.append(d.payload)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sites", "one-group"])
def test_live_sends_every_datagram_of_the_capture(tmp_path: Path, mode: str) -> None:
    site = BORDER.radars[5]  # Laredo: the fastest antenna, the most datagrams a second
    if mode == "sites":
        url, live = UdpUrl(site.group, site.port, "127.0.0.1"), "sites?iface=127.0.0.1"
    else:
        url = UdpUrl("239.255.77.1", 23999, "127.0.0.1")
        live = "udp://239.255.77.1:23999?iface=127.0.0.1"
    got: list[bytes] = []
    ready, stop = threading.Event(), threading.Event()
    try:
        receiver = threading.Thread(target=_receive, args=(url, got, ready, stop))
        receiver.start()
    except OSError as exc:  # pragma: no cover - a sandbox without multicast on lo
        pytest.skip(f"multicast on loopback unavailable: {exc}")
    assert ready.wait(5)
    out = tmp_path / "live.pcap"
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "simulate", "--scenario",
                           "border", "--duration", "20", "--seed", "3", "--out", str(out),
                           "--live", live, "--speed", "10"], capture_output=True, timeout=120)
    stop.set()
    receiver.join(5)
    assert done.returncode == 0, done.stderr
    sent = [d.payload for d in read_datagrams(out)
            if mode == "one-group" or d.dst == (site.group, site.port)]
    assert len(sent) > 50
    assert got == sent  # every datagram, in order, intact
