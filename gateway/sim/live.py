"""Send simulated datagrams on the network in real time (or N times faster).

Either everything to one group and port (``udp://GROUP:PORT``: one feed to decode), or each
source to its own group and port (``sites``), as the real radars and SDPS send them.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence

from gateway.sim.feeds import Wire


def sender(iface: str | None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    if iface:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(iface))
    return sock


def send_live(wires: Sequence[Wire], destination: tuple[str, int] | None, *,
              iface: str | None = None, speed: float = 1.0,
              stop: threading.Event | None = None) -> int:
    """Send at the simulated times divided by ``speed``; ``destination`` None: per source."""
    if not wires:
        return 0
    sent = 0
    with sender(iface) as sock:
        start, first = time.monotonic(), wires[0].t
        for w in wires:
            if stop is not None and stop.is_set():
                break
            delay = start + (w.t - first) / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sock.sendto(w.payload, destination or (w.group, w.port))
            sent += 1
    return sent
