"""Link layer → IPv4 → UDP, sans-IO: bytes in, Datagrams (or a counted reason) out.

Scapy's layer objects cost tens of microseconds a packet; a radar feed is millions of small
datagrams, so the headers are read here with struct at fixed offsets.  Every length is checked
against the captured bytes before it is trusted, because captures are hostile input: a frame
that fails a check is counted by kind in the shared ``IngestStats`` and skipped.

The per-frame functions take ``(buf, start, end, t)`` rather than a sliced frame so a reader
can hand over a slice of its big read buffer without copying; only the payload is copied.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Callable, Iterable

from gateway.ingest.datagram import Datagram, IngestStats

# Link types (DLT_* / LINKTYPE_* values as found in pcap headers and pcapng IDBs).
DLT_NULL = 0  # BSD loopback: 4-byte address family in the capturing host's byte order
DLT_EN10MB = 1  # Ethernet
DLT_RAW_12 = 12  # DLT_RAW's value in most libpcaps' headers
DLT_RAW_14 = 14  # DLT_RAW's value on OpenBSD
DLT_RAW = 101  # LINKTYPE_RAW: raw IPv4 or IPv6
DLT_LOOP = 108  # OpenBSD loopback: like NULL, but the family is always big-endian
DLT_LINUX_SLL = 113  # Linux cooked capture v1 (16-byte header)
DLT_IPV4 = 228  # raw IPv4 only
DLT_LINUX_SLL2 = 276  # Linux cooked capture v2 (20-byte header)

SUPPORTED_LINKTYPES: frozenset[int] = frozenset(
    {DLT_NULL, DLT_EN10MB, DLT_RAW_12, DLT_RAW_14, DLT_RAW, DLT_LOOP,
     DLT_LINUX_SLL, DLT_IPV4, DLT_LINUX_SLL2}
)

ETH_IPV4 = 0x0800
# 802.1Q, 802.1ad (QinQ) and the pre-standard 0x9100 outer tag: each adds 4 bytes.
_VLAN_TPIDS = frozenset({0x8100, 0x88A8, 0x9100})
# BSD AF_INET is 2 everywhere; a NULL header holds it in the capturing host's byte order.
_AF_INET_NULL = frozenset({b"\x02\x00\x00\x00", b"\x00\x00\x00\x02"})

MAX_IP_PAYLOAD = 65535 - 20  # the most a reassembled datagram can carry after a minimal header

FrameFn = Callable[[bytes, int, int, "float | None"], "Datagram | None"]
FragmentKey = tuple[bytes, bytes, int, int]  # an IPv4 datagram: (src, dst, id, proto)

_IP_FIELDS = struct.Struct("!2xHHHxB2x4s4s")  # total length, id, flags+offset, proto, src, dst
_UDP_FIELDS = struct.Struct("!HHH")  # source port, destination port, length
_new_datagram = tuple.__new__


class Reassembler:
    """IPv4 fragment reassembly with hard bounds, keyed by (src, dst, id, proto).

    Memory is bounded three ways (pending datagrams, fragments per datagram, bytes held), so
    a capture full of never-completed fragments cannot grow the process; what is given up is
    counted.  Time is capture time, not wall time: a replayed hour-long capture times out
    fragments exactly as the live network would have.  Any overlap drops the whole datagram
    (as RFC 5722 does for IPv6): overlapping fragments are an evasion technique, never a
    radar's doing, and no "right" answer exists.  An identical duplicate (a capture taken on
    two ports) is ignored instead.
    """

    __slots__ = ("counts", "max_pending", "timeout", "max_fragments", "max_bytes",
                 "_pending", "_bytes")

    def __init__(
        self,
        stats: IngestStats | None = None,
        *,
        max_pending: int = 1024,
        timeout: float = 30.0,
        max_fragments: int = 128,
        max_bytes: int = 32 << 20,
    ) -> None:
        if max_pending < 1 or max_fragments < 2 or max_bytes < 65535:
            raise ValueError("reassembly bounds too small to complete any datagram")
        self.counts = (stats if stats is not None else IngestStats()).counts
        self.max_pending = max_pending
        self.timeout = timeout
        self.max_fragments = max_fragments
        self.max_bytes = max_bytes
        # Insertion order is creation order, so the first entry is the oldest.
        self._pending: dict[FragmentKey, _Pending] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    def add(
        self, key: FragmentKey, offset: int, more: bool, data: bytes, t: float | None
    ) -> bytes | None:
        """Take one fragment's IP payload; return the whole IP payload once complete."""
        counts = self.counts
        counts["fragments"] += 1
        pending = self._pending
        if t is not None and pending:
            self.expire(t)
        size = len(data)
        end = offset + size
        entry = pending.get(key)
        if end > MAX_IP_PAYLOAD:
            self._reject(key, entry, "fragments-dropped-too-big")
            return None
        if more and (size == 0 or size % 8):
            self._reject(key, entry, "fragments-dropped-invalid")
            return None
        if entry is None:
            if len(pending) >= self.max_pending:
                self._drop(next(iter(pending)), "fragments-dropped-overflow")
            entry = pending[key] = _Pending(t)
        else:
            if entry.total >= 0 and (end > entry.total or (not more and end != entry.total)):
                self._reject(key, entry, "fragments-dropped-overlap")
                return None
            for s, e, d in entry.frags:
                if offset < e and s < end:
                    if s == offset and e == end and d == data:
                        counts["fragments-duplicate"] += 1
                        return None
                    self._reject(key, entry, "fragments-dropped-overlap")
                    return None
            if len(entry.frags) >= self.max_fragments:
                self._reject(key, entry, "fragments-dropped-overflow")
                return None
        if not more:
            if any(e > end for _, e, _ in entry.frags):
                self._reject(key, entry, "fragments-dropped-overlap")
                return None
            entry.total = end
        entry.frags.append((offset, end, data))
        entry.have += size
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(pending)), "fragments-dropped-overflow")
        if key not in pending:
            return None
        if entry.have != entry.total:
            return None
        # No overlaps and nothing past the end, so the byte count proves full coverage.
        del pending[key]
        self._bytes -= entry.have
        counts["reassembled"] += 1
        entry.frags.sort()
        return b"".join(d for _, _, d in entry.frags)

    def expire(self, now: float) -> None:
        """Drop datagrams whose first fragment is older than the timeout (capture time)."""
        pending = self._pending
        limit = now - self.timeout
        while pending:
            key = next(iter(pending))
            t0 = pending[key].t0
            if t0 is None or t0 >= limit:
                break
            self._drop(key, "fragments-dropped-timeout")

    def flush(self) -> None:
        """The input ended: whatever is still pending will never complete."""
        for key in list(self._pending):
            self._drop(key, "fragments-dropped-incomplete")

    def _drop(self, key: FragmentKey, kind: str) -> None:
        entry = self._pending.pop(key)
        self._bytes -= entry.have
        self.counts[kind] += len(entry.frags)

    def _reject(self, key: FragmentKey, entry: _Pending | None, kind: str) -> None:
        """Count this fragment and everything held for its datagram under ``kind``."""
        self.counts[kind] += 1
        if entry is not None:
            self._drop(key, kind)


class _Pending:
    __slots__ = ("t0", "frags", "have", "total")

    def __init__(self, t0: float | None) -> None:
        self.t0 = t0
        self.frags: list[tuple[int, int, bytes]] = []
        self.have = 0
        self.total = -1  # known once the last fragment (MF=0) arrives


def _packed(group: str) -> bytes:
    try:
        return ipaddress.IPv4Address(group).packed
    except ValueError:
        raise ValueError(f"group filter {group!r} is not an IPv4 address") from None


class FrameDecoder:
    """Turns captured frames into Datagrams, counting every frame it has to skip.

    ``ports`` filters on UDP destination port, ``groups`` on IPv4 destination address
    (multicast group); None accepts all.  The group filter runs before reassembly so unwanted
    traffic never occupies reassembly memory; the port filter runs after it because only the
    first fragment carries the UDP header.
    """

    def __init__(
        self,
        stats: IngestStats | None = None,
        *,
        ports: Iterable[int] | None = None,
        groups: Iterable[str] | None = None,
        reassembler: Reassembler | None = None,
    ) -> None:
        self.stats = stats if stats is not None else IngestStats()
        self.counts = self.stats.counts
        self.ports: frozenset[int] | None = None if ports is None else frozenset(ports)
        self.groups: frozenset[bytes] | None = (
            None if groups is None else frozenset(_packed(g) for g in groups)
        )
        self.reassembler = reassembler if reassembler is not None else Reassembler(self.stats)
        self._names: dict[bytes, str] = {}  # packed address → dotted quad, bounded below
        self._by_linktype: dict[int, FrameFn] = {
            DLT_EN10MB: self.ethernet,
            DLT_LINUX_SLL: self.sll,
            DLT_LINUX_SLL2: self.sll2,
            DLT_RAW: self.raw_ip,
            DLT_RAW_12: self.raw_ip,
            DLT_RAW_14: self.raw_ip,
            DLT_IPV4: self.raw_ip,
            DLT_NULL: self.null,
            DLT_LOOP: self.null,
        }

    def for_linktype(self, linktype: int) -> FrameFn:
        """The frame function for one link type, chosen once per interface, not per frame."""
        fn = self._by_linktype.get(linktype)
        if fn is None:
            counts = self.counts

            def unsupported(buf: bytes, start: int, end: int, t: float | None) -> None:
                counts["unsupported-linktype"] += 1

            return unsupported
        return fn

    def decode(self, linktype: int, frame: bytes, t: float | None = None) -> Datagram | None:
        """Convenience for one whole frame; readers use ``for_linktype`` in their loops."""
        return self.for_linktype(linktype)(frame, 0, len(frame), t)

    def finish(self) -> None:
        """End of input: fragments still pending are counted as incomplete."""
        self.reassembler.flush()

    # -- link layers: find the IPv4 header, then hand over to ipv4() ----------------------

    def ethernet(self, buf: bytes, start: int, end: int, t: float | None) -> Datagram | None:
        return self._after_protocol(buf, start + 12, start + 14, end, t)

    def sll(self, buf: bytes, start: int, end: int, t: float | None) -> Datagram | None:
        return self._after_protocol(buf, start + 14, start + 16, end, t)

    def sll2(self, buf: bytes, start: int, end: int, t: float | None) -> Datagram | None:
        return self._after_protocol(buf, start, start + 20, end, t)

    def _after_protocol(
        self, buf: bytes, proto_at: int, off: int, end: int, t: float | None
    ) -> Datagram | None:
        """An ethertype at ``proto_at``, then any 802.1Q/QinQ tags, then IPv4 at ``off``."""
        if off > end:
            self.counts["truncated-frame"] += 1
            return None
        etype = buf[proto_at] << 8 | buf[proto_at + 1]
        while etype in _VLAN_TPIDS:  # tags the kernel did not strip
            off += 4
            if off > end:
                self.counts["truncated-frame"] += 1
                return None
            etype = buf[off - 2] << 8 | buf[off - 1]
        if etype != ETH_IPV4:
            self.counts["non-ip"] += 1
            return None
        return self.ipv4(buf, off, end, t)

    def raw_ip(self, buf: bytes, start: int, end: int, t: float | None) -> Datagram | None:
        if start < end and buf[start] >> 4 != 4:
            self.counts["non-ip"] += 1  # LINKTYPE_RAW also carries IPv6
            return None
        return self.ipv4(buf, start, end, t)

    def null(self, buf: bytes, start: int, end: int, t: float | None) -> Datagram | None:
        if start + 4 > end:
            self.counts["truncated-frame"] += 1
            return None
        if buf[start:start + 4] not in _AF_INET_NULL:
            self.counts["non-ip"] += 1
            return None
        return self.ipv4(buf, start + 4, end, t)

    # -- IPv4 and UDP ----------------------------------------------------------------------

    def ipv4(self, buf: bytes, off: int, end: int, t: float | None) -> Datagram | None:
        counts = self.counts
        if off + 20 > end:
            counts["truncated-frame"] += 1
            return None
        vihl = buf[off]
        if vihl == 0x45:
            ihl = 20
        else:
            ihl = (vihl & 15) << 2
            if vihl >> 4 != 4 or ihl < 20:
                counts["bad-ip-header"] += 1
                return None
            if off + ihl > end:
                counts["truncated-frame"] += 1
                return None
        total, ident, frag, proto, src, dst = _IP_FIELDS.unpack_from(buf, off)
        if total < ihl:
            counts["bad-ip-header"] += 1
            return None
        ip_end = off + total
        if ip_end > end:
            # The header claims more than was captured: the snap length cut it.  Trusting
            # the captured length would hand a partial datagram to the decoder.
            counts["truncated-frame"] += 1
            return None
        if proto != 17:
            counts["non-udp"] += 1
            return None
        if self.groups is not None and dst not in self.groups:
            counts["filtered"] += 1
            return None
        udp = off + ihl
        if frag & 0x3FFF:  # MF set or a non-zero offset: a fragment
            whole = self.reassembler.add(
                (src, dst, ident, proto), (frag & 0x1FFF) << 3, bool(frag & 0x2000),
                buf[udp:ip_end], t,
            )
            if whole is None:
                return None
            return self._udp(whole, 0, len(whole), src, dst, t)
        return self._udp(buf, udp, ip_end, src, dst, t)

    def _udp(
        self, buf: bytes, udp: int, ip_end: int, src: bytes, dst: bytes, t: float | None
    ) -> Datagram | None:
        if udp + 8 > ip_end:
            self.counts["bad-udp-header"] += 1
            return None
        sport, dport, ulen = _UDP_FIELDS.unpack_from(buf, udp)
        if ulen < 8 or udp + ulen > ip_end:
            self.counts["bad-udp-header"] += 1
            return None
        if self.ports is not None and dport not in self.ports:
            self.counts["filtered"] += 1
            return None
        names = self._names
        s = names.get(src)
        if s is None:
            s = self._name(src)
        d = names.get(dst)
        if d is None:
            d = self._name(dst)
        return _new_datagram(Datagram, (buf[udp + 8:udp + ulen], t, (s, sport), (d, dport)))

    def _name(self, packed: bytes) -> str:
        """Dotted quad, cached: a feed has few addresses, a hostile capture may have many."""
        names = self._names
        if len(names) >= 4096:
            names.clear()
        name = names[packed] = socket.inet_ntoa(packed)
        return name
