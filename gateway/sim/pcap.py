"""Write simulated datagrams as a classic pcap of Ethernet/IPv4/UDP multicast frames.

Each site gets its own source MAC and IPv4 address; frames go to the group's multicast MAC.
The IPv4 header checksum is computed; the UDP checksum is 0 (no checksum, legal in IPv4), as
many radar front ends send it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import IO

from gateway.sim.feeds import Wire

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # µs, Ethernet
_RECORD = struct.Struct("<IIII")


def _ip(text: str) -> bytes:
    return bytes(int(x) for x in text.split("."))


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def multicast_mac(group: str) -> bytes:
    g = _ip(group)
    return bytes([0x01, 0x00, 0x5E, g[1] & 0x7F, g[2], g[3]])


class FrameWriter:
    """Frames datagrams from named sources; IPv4 ids count per source like a real stack."""

    def __init__(self, sources: dict[str, tuple[str, bytes]], start_utc: float) -> None:
        self.sources = sources  # name -> (IPv4 address, MAC)
        self.start_utc = start_utc
        self.ids: dict[str, int] = {}

    def frame(self, w: Wire) -> bytes:
        src_ip, src_mac = self.sources[w.source]
        ident = self.ids.get(w.source, 0)
        self.ids[w.source] = (ident + 1) & 0xFFFF
        udp = struct.pack("!HHHH", w.port, w.port, 8 + len(w.payload), 0)
        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(w.payload), ident, 0, 16,
                                   17, 0, _ip(src_ip), _ip(w.group)))
        ip[10:12] = _checksum(bytes(ip)).to_bytes(2, "big")
        eth = multicast_mac(w.group) + src_mac + b"\x08\x00"
        return eth + bytes(ip) + udp + w.payload

    def write(self, out: IO[bytes], wires: Iterable[Wire]) -> int:
        out.write(PCAP_HEADER)
        count = 0
        for w in wires:
            frame = self.frame(w)
            micros = round((self.start_utc + w.t) * 1e6)
            out.write(_RECORD.pack(micros // 1_000_000, micros % 1_000_000, len(frame),
                                   len(frame)))
            out.write(frame)
            count += 1
        return count
