"""Live input: a UDP socket joined to one multicast group (optionally source-specific).

The socket is bound to the group address, not 0.0.0.0: Linux delivers every group any
socket on the host joined to a wildcard-bound socket on the same port, so two gateways on
one host listening to two radars on the same port would each see both radars.
IP_MULTICAST_ALL=0 closes the same hole from the other side.  The receive buffer is made
large because a radar's scan bursts arrive faster than Python drains them; what the kernel
still drops shows in ``kernel_drops()``.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from gateway.ingest.datagram import Datagram
from gateway.ingest.url import UdpUrl

__all__ = ["open_multicast", "iter_multicast", "kernel_drops", "rcvbuf_granted"]

log = logging.getLogger(__name__)

_LINUX = sys.platform.startswith("linux")
# Not exported by Python's socket module; values from <linux/in.h> and <netinet/in.h>.
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)
IP_ADD_SOURCE_MEMBERSHIP = getattr(
    socket, "IP_ADD_SOURCE_MEMBERSHIP", 39 if _LINUX else 70 if sys.platform == "darwin" else 71
)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33 if _LINUX else None)


def open_multicast(url: UdpUrl, *, rcvbuf: int = 8 << 20) -> socket.socket:
    """A bound, joined, blocking UDP socket for ``url``; the caller owns (closes) it.

    A unicast or wildcard address is bound without joining, for replays sent point-to-point.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _grow_rcvbuf(sock, rcvbuf)
        if _LINUX:
            try:
                sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
            except OSError:  # kernels before 2.6.31
                log.debug("IP_MULTICAST_ALL not available")
        sock.bind((url.group, url.port))
        if url.is_multicast:
            group = socket.inet_aton(url.group)
            iface = socket.inet_aton(url.iface or "0.0.0.0")
            if url.source is None:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group + iface)
            else:
                source = socket.inet_aton(url.source)
                # struct ip_mreq_source: Linux orders it (group, interface, source); the BSDs
                # and macOS order it (group, source, interface).
                mreq = group + iface + source if _LINUX else group + source + iface
                sock.setsockopt(socket.IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, mreq)
    except BaseException:
        sock.close()
        raise
    return sock


def rcvbuf_granted(sock: socket.socket) -> int:
    """SO_RCVBUF as the kernel reports it.  Linux reports twice what was set (half of it is
    bookkeeping), so 8 MiB asked and granted reads back as 16 MiB there."""
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


def _grow_rcvbuf(sock: socket.socket, want: int) -> int:
    """Ask for ``want``; net.core.rmem_max caps SO_RCVBUF, so try the privileged option too."""
    full = 2 * want if _LINUX else want  # what rcvbuf_granted() shows once fully granted
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, want)
    granted = rcvbuf_granted(sock)
    if granted < full and SO_RCVBUFFORCE is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, want)
            granted = rcvbuf_granted(sock)
        except OSError:  # needs CAP_NET_ADMIN
            pass
    if granted < full:
        log.warning("SO_RCVBUF: asked %d bytes, kernel granted %d (as reported); raise "
                    "net.core.rmem_max if bursts are dropped", want, granted)
    else:
        log.info("SO_RCVBUF: asked %d bytes, kernel granted %d (as reported)", want, granted)
    return granted


def iter_multicast(
    url: UdpUrl, *, stop: threading.Event | None = None, timeout: float = 0.2
) -> Iterator[Datagram]:
    """Datagrams as they arrive, stamped with the wall clock on receipt, until ``stop``.

    The short timeout only bounds how late ``stop`` is noticed; it never ends the stream.
    """
    sock = open_multicast(url)
    sock.settimeout(timeout)
    dst = (url.group, url.port)
    try:
        while stop is None or not stop.is_set():
            try:
                payload, src = sock.recvfrom(65535)
            except TimeoutError:
                continue
            yield Datagram(payload, time.time(), src, dst)
    finally:
        sock.close()


def kernel_drops(path: str | Path = "/proc/net/snmp") -> int | None:
    """Host-wide UDP datagrams the kernel dropped for a full receive buffer (RcvbufErrors).

    None where the counter cannot be read (not Linux, no /proc, unexpected layout).
    """
    try:
        lines = [ln.split() for ln in Path(path).read_text().splitlines()]
    except OSError:
        return None
    udp = [ln[1:] for ln in lines if ln and ln[0] == "Udp:"]
    if len(udp) < 2 or "RcvbufErrors" not in udp[0]:
        return None
    try:
        return int(udp[1][udp[0].index("RcvbufErrors")])
    except (IndexError, ValueError):
        return None
