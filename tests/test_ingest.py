"""The input layer against real capture files written into tmp_path.

Captures are written by scapy's own writers where it has them (µs and ns pcap) and by hand
with struct where it does not (big-endian pcap, pcapng with several interfaces and sections,
cooked link-layer headers), so a reader bug cannot hide behind a matching writer bug.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest
import scapy.utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP, fragment
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import Raw
from scapy.utils import PcapWriter, RawPcapReader

from gateway.ingest import (
    CaptureError,
    Datagram,
    FrameDecoder,
    IngestStats,
    Reassembler,
    UdpUrl,
    detect_format,
    iter_multicast,
    kernel_drops,
    open_multicast,
    parse_udp_url,
    rcvbuf_granted,
    read_datagrams,
)

T_SEC, T_USEC = 1462433756, 508910
T = 1462433756.508910
SRC, DST = "10.1.2.3", "239.255.0.1"
SPORT, DPORT = 40000, 8600


def payload(i: int, size: int = 48) -> bytes:
    """A plausible CAT048 block, distinct per i."""
    body = i.to_bytes(4, "big") * (size // 4)
    return bytes([48]) + (3 + len(body)).to_bytes(2, "big") + body


def ip_udp(data: bytes, *, src: str = SRC, dst: str = DST, dport: int = DPORT,
           **ip: object) -> IP:
    return IP(src=src, dst=dst, **ip) / UDP(sport=SPORT, dport=dport) / Raw(data)


def ether(data: bytes, **kw: object) -> bytes:
    return bytes(Ether(src="00:11:22:33:44:55", dst="01:00:5e:7f:00:01") / ip_udp(data, **kw))


def write_pcap(path: Path, frames: Iterable[bytes], *, endian: str = "<", nano: bool = False,
               linktype: int = 1, t0: tuple[int, int] = (T_SEC, T_USEC)) -> Path:
    """Classic pcap by hand: used for big-endian files and for link types scapy guesses."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    with open(path, "wb") as f:
        f.write(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype))
        for i, frame in enumerate(frames):
            f.write(struct.pack(endian + "IIII", t0[0] + i, t0[1], len(frame), len(frame)))
            f.write(frame)
    return path


def read(source: object, **kw: object) -> tuple[list[Datagram], IngestStats]:
    stats = IngestStats()
    out = list(read_datagrams(source, stats=stats, **kw))  # type: ignore[arg-type]
    return out, stats


# -- pcapng by hand -----------------------------------------------------------------------


def _block(e: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    size = len(body) + 12
    return struct.pack(e + "II", btype, size) + body + struct.pack(e + "I", size)


def _opt(e: str, code: int, value: bytes) -> bytes:
    return struct.pack(e + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def shb(e: str = "<") -> bytes:
    return _block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(e: str, linktype: int, tsresol: int | None = None, tsoffset: int | None = None) -> bytes:
    opts = b""
    if tsresol is not None:
        opts += _opt(e, 9, bytes([tsresol]))
    if tsoffset is not None:
        opts += _opt(e, 14, struct.pack(e + "q", tsoffset))
    if opts:
        opts += _opt(e, 0, b"")
    return _block(e, 1, struct.pack(e + "HHI", linktype, 0, 0) + opts)


def epb(e: str, ifid: int, ticks: int, frame: bytes) -> bytes:
    head = struct.pack(e + "IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame))
    return _block(e, 6, head + frame)


def spb(e: str, frame: bytes) -> bytes:
    return _block(e, 3, struct.pack(e + "I", len(frame)) + frame)


# -- cooked and other link-layer headers, by hand -----------------------------------------


def sll(ip_bytes: bytes, proto: int = 0x0800) -> bytes:
    return struct.pack("!HHH8sH", 2, 1, 6, b"\x00\x11\x22\x33\x44\x55\0\0", proto) + ip_bytes


def sll2(ip_bytes: bytes, proto: int = 0x0800) -> bytes:
    mac = b"\x00\x11\x22\x33\x44\x55\0\0"
    return struct.pack("!HHIHBB8s", proto, 0, 3, 1, 2, 6, mac) + ip_bytes


# ==========================================================================================
# Classic pcap: all four magics, exact timestamps
# ==========================================================================================


def test_pcap_microseconds_written_by_scapy(tmp_path: Path) -> None:
    path = tmp_path / "us.pcap"
    with PcapWriter(str(path), linktype=1) as w:
        w.write_header(None)  # write_packet() alone never writes it
        for i in range(5):
            w.write_packet(Ether() / ip_udp(payload(i)), sec=T_SEC + i, usec=T_USEC)
    out, stats = read(path)
    assert [d.payload for d in out] == [payload(i) for i in range(5)]
    assert out[0].t_capture == 1462433756.508910
    assert [d.t_capture for d in out] == [T + i for i in range(5)]
    assert out[0].src == (SRC, SPORT) and out[0].dst == (DST, DPORT)
    assert stats["frames"] == 5 and stats["datagrams"] == 5
    assert stats.summary() == "frames=5, datagrams=5"
    # scapy's reader (right about this format) agrees on the record count.
    assert len(list(RawPcapReader(str(path)))) == 5


def test_pcap_nanoseconds_written_by_scapy(tmp_path: Path) -> None:
    path = tmp_path / "ns.pcap"
    with PcapWriter(str(path), linktype=1, nano=True) as w:
        w.write_header(None)
        w.write_packet(Ether() / ip_udp(payload(1)), sec=T_SEC, usec=508910123)
        w.write_packet(Ether() / ip_udp(payload(2)), sec=T_SEC, usec=999999999)
    out, _ = read(path)
    assert out[0].t_capture == 1462433756.508910123
    assert out[1].t_capture == 1462433756.999999999
    assert out[0].t_capture != 1462433756.508910  # the nanoseconds are not thrown away


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_all_four_magics(tmp_path: Path, endian: str, nano: bool) -> None:
    frac = 508910123 if nano else T_USEC
    path = write_pcap(tmp_path / "m.pcap", [ether(payload(i)) for i in range(3)],
                      endian=endian, nano=nano, t0=(T_SEC, frac))
    assert detect_format(path.read_bytes()[:24]) == "pcap"
    out, stats = read(path)
    expected = 1462433756.508910123 if nano else 1462433756.508910
    assert [d.t_capture for d in out] == [expected + i for i in range(3)]
    assert [d.payload for d in out] == [payload(i) for i in range(3)]
    assert stats.summary() == "frames=3, datagrams=3"


# ==========================================================================================
# pcapng: interfaces with their own link type and clock, several sections
# ==========================================================================================


def test_pcapng_interfaces_tsresol_tsoffset_and_sections(tmp_path: Path) -> None:
    raw_ip = bytes(ip_udp(payload(2)))
    data = (
        shb("<")
        + idb("<", 1)  # if 0: Ethernet, default µs
        + idb("<", 228, tsresol=9, tsoffset=100)  # if 1: raw IPv4, ns, +100 s
        + epb("<", 0, T_SEC * 10**6 + T_USEC, ether(payload(1)))
        + epb("<", 1, T_SEC * 10**9 + 508910123, raw_ip)
        + _block("<", 5, b"\0" * 16)  # an Interface Statistics Block: skipped
        # A second, big-endian section: interface 0 is now SLL2 with a 2^-20 s clock.
        + shb(">")
        + idb(">", 276, tsresol=0x80 | 20)
        + epb(">", 0, (5 << 20) | 1, sll2(raw_ip))
        + spb(">", sll2(bytes(ip_udp(payload(3)))))
    )
    path = tmp_path / "two.pcapng"
    path.write_bytes(data)
    out, stats = read(path)
    assert [d.payload for d in out] == [payload(1), payload(2), payload(2), payload(3)]
    assert out[0].t_capture == 1462433756.508910
    assert out[1].t_capture == 1462433856.508910123
    assert out[2].t_capture == 5 + 2**-20
    assert out[3].t_capture is None  # a Simple Packet Block has no timestamp
    assert stats.summary() == "frames=4, datagrams=4"


def test_pcapng_written_by_scapy(tmp_path: Path) -> None:
    writer = getattr(scapy.utils, "PcapNgWriter", None)
    if writer is None:
        pytest.skip("scapy has no PcapNgWriter")
    path = tmp_path / "scapy.pcapng"
    w = writer(str(path))
    for i in range(3):
        pkt = Ether() / ip_udp(payload(i))
        pkt.time = T + i
        w.write(pkt)
    w.close()
    out, stats = read(path)
    assert [d.payload for d in out] == [payload(i) for i in range(3)]
    # scapy's writer computes int(t * 1e6) in float and may lose the last microsecond.
    assert all(abs(d.t_capture - (T + i)) < 2e-6 for i, d in enumerate(out))
    assert stats["datagrams"] == 3


def test_pcapng_bad_blocks_are_counted(tmp_path: Path) -> None:
    data = (shb() + idb("<", 1) + epb("<", 7, 0, ether(payload(0)))  # no interface 7
            + epb("<", 0, 0, ether(payload(1))))
    out, stats = read(io.BytesIO(data))
    assert [d.payload for d in out] == [payload(1)]
    assert stats["bad-block"] == 1


def test_pcapng_truncated_and_corrupt(tmp_path: Path) -> None:
    good = shb() + idb("<", 1) + b"".join(epb("<", 0, i, ether(payload(i))) for i in range(4))
    out, stats = read(io.BytesIO(good[:-7]))
    assert [d.payload for d in out] == [payload(i) for i in range(3)]
    assert stats["truncated-capture"] == 1
    # An absurd block length: the framing is lost, so reading stops there, counted.
    bad = good + struct.pack("<II", 6, 0xFFFFFFF0) + b"\0" * 64
    out, stats = read(io.BytesIO(bad))
    assert len(out) == 4 and stats["corrupt-capture"] == 1


def test_pcapng_truncated_header_raises(tmp_path: Path) -> None:
    path = tmp_path / "short.pcapng"
    path.write_bytes(shb()[:20])
    with pytest.raises(CaptureError, match="truncated pcapng header") as err:
        read_datagrams(path)
    assert "\n" not in str(err.value)


# ==========================================================================================
# Link layers
# ==========================================================================================


def test_vlan_and_qinq(tmp_path: Path) -> None:
    inner = ip_udp(payload(7))
    frames = [
        bytes(Ether() / Dot1Q(vlan=10) / inner),
        bytes(Ether() / Dot1AD(vlan=20) / Dot1Q(vlan=30) / inner),
        bytes(Ether(type=0x8100) / Dot1Q(vlan=1, type=0x8100) / Dot1Q(vlan=2) / inner),
        bytes(Ether() / ARP()),
        bytes(Ether(type=0x86DD) / (b"\x60" + b"\0" * 39)),
    ]
    out, stats = read(write_pcap(tmp_path / "vlan.pcap", frames))
    assert [d.payload for d in out] == [payload(7)] * 3
    assert stats["non-ip"] == 2


@pytest.mark.parametrize(
    ("linktype", "wrap"),
    [
        (113, sll),
        (276, sll2),
        (101, lambda b: b),
        (228, lambda b: b),
        (12, lambda b: b),
        (14, lambda b: b),
        (0, lambda b: b"\x02\0\0\0" + b),  # NULL, little-endian host
        (0, lambda b: b"\0\0\0\x02" + b),  # NULL, big-endian host
        (108, lambda b: b"\0\0\0\x02" + b),  # LOOP
    ],
)
def test_link_types(tmp_path: Path, linktype: int, wrap: object) -> None:
    frames = [wrap(bytes(ip_udp(payload(i)))) for i in range(3)]  # type: ignore[operator]
    out, stats = read(write_pcap(tmp_path / "lt.pcap", frames, linktype=linktype))
    assert [d.payload for d in out] == [payload(i) for i in range(3)]
    assert out[0].src == (SRC, SPORT)
    assert stats.summary() == "frames=3, datagrams=3"


def test_cooked_non_ip_and_vlan_inside_sll(tmp_path: Path) -> None:
    ip_bytes = bytes(ip_udp(payload(1)))
    frames = [sll(b"\0" * 28, proto=0x0806), sll2(b"\0" * 28, proto=0x0806),
              sll(struct.pack("!HH", 5, 0x0800) + ip_bytes, proto=0x8100)]
    out, stats = read(write_pcap(tmp_path / "c.pcap", frames[:1] + frames[2:], linktype=113))
    assert [d.payload for d in out] == [payload(1)] and stats["non-ip"] == 1
    out, stats = read(write_pcap(tmp_path / "c2.pcap", frames[1:2], linktype=276))
    assert out == [] and stats["non-ip"] == 1


def test_raw_link_type_with_ipv6_and_unsupported_link_type(tmp_path: Path) -> None:
    v6 = b"\x60" + b"\0" * 39
    out, stats = read(write_pcap(tmp_path / "r.pcap", [v6], linktype=101))
    assert out == [] and stats["non-ip"] == 1
    out, stats = read(write_pcap(tmp_path / "w.pcap", [b"\0" * 40] * 2, linktype=105))
    assert out == [] and stats["unsupported-linktype"] == 2 and stats["frames"] == 2


# ==========================================================================================
# IPv4 / UDP header checks
# ==========================================================================================


def test_header_checks(tmp_path: Path) -> None:
    good = bytes(ip_udp(payload(0)))
    bad_version = bytes([0x65]) + good[1:]
    bad_ihl = bytes([0x44]) + good[1:]
    bad_total = good[:2] + struct.pack("!H", 10) + good[4:]
    tcp = bytes(IP(src=SRC, dst=DST, proto=6) / Raw(b"\0" * 20))
    short_udp = bytes(IP(src=SRC, dst=DST, proto=17) / Raw(b"\0" * 4))
    udp_len_small = good[:24] + struct.pack("!H", 7) + good[26:]
    udp_len_big = good[:24] + struct.pack("!H", 1000) + good[26:]
    with_options = bytes(IP(src=SRC, dst=DST, options=b"\x01\x01\x01\x00")
                         / UDP(sport=SPORT, dport=DPORT) / Raw(payload(5)))
    padded = good + b"\0" * 30  # Ethernet minimum-size padding after the IP datagram
    frames = [good, bad_version, bad_ihl, bad_total, tcp, short_udp, udp_len_small,
              udp_len_big, with_options, padded, good[:30], good[:10]]
    eth = struct.pack("!6s6sH", b"\1" * 6, b"\2" * 6, 0x0800)  # says IPv4, whatever follows
    out, stats = read(write_pcap(tmp_path / "h.pcap", [eth + f for f in frames]))
    assert [d.payload for d in out] == [payload(0), payload(5), payload(0)]
    assert stats["bad-ip-header"] == 3
    assert stats["non-udp"] == 1
    assert stats["bad-udp-header"] == 3
    assert stats["truncated-frame"] == 2  # snapped at 30 bytes, and shorter than a header
    assert stats["frames"] == len(frames)


def test_snaplen_cut_frame_is_truncated_frame(tmp_path: Path) -> None:
    frame = ether(payload(0, 400))
    path = tmp_path / "snap.pcap"
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 96, 1))
        f.write(struct.pack("<IIII", T_SEC, T_USEC, 96, len(frame)) + frame[:96])
        f.write(struct.pack("<IIII", T_SEC, T_USEC, len(frame), len(frame)) + frame)
    out, stats = read(path)
    assert [d.payload for d in out] == [payload(0, 400)]
    assert stats["truncated-frame"] == 1


# ==========================================================================================
# Fragment reassembly
# ==========================================================================================


def fragments(data: bytes, ident: int, fragsize: int = 400, **kw: object) -> list[bytes]:
    return [bytes(Ether() / f) for f in fragment(ip_udp(data, id=ident, **kw), fragsize)]


def test_fragments_in_order_reversed_and_shuffled(tmp_path: Path) -> None:
    big = payload(1, 3000)
    frags = fragments(big, 1)
    assert len(frags) > 5
    shuffled = fragments(payload(3, 3000), 3)
    random.Random(4).shuffle(shuffled)
    frames = frags + fragments(payload(2, 3000), 2)[::-1] + shuffled + [ether(payload(9))]
    stats = IngestStats()
    reassembler = Reassembler(stats)
    out = list(read_datagrams(write_pcap(tmp_path / "f.pcap", frames), stats=stats,
                              reassembler=reassembler))
    assert [d.payload for d in out] == [big, payload(2, 3000), payload(3, 3000), payload(9)]
    # A reassembled datagram is stamped with the capture time of its last fragment.
    assert out[0].t_capture == T + len(frags) - 1
    assert out[0].src == (SRC, SPORT) and out[0].dst == (DST, DPORT)
    assert stats["reassembled"] == 3
    assert stats["fragments"] == len(frames) - 1
    assert len(reassembler) == 0 and reassembler.pending_bytes == 0


def test_missing_fragment_times_out_in_capture_time(tmp_path: Path) -> None:
    lost = fragments(payload(1, 3000), 1)
    del lost[2]
    late = fragments(payload(2, 3000), 2)
    path = tmp_path / "lost.pcap"
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, frame in [(T_SEC, fr) for fr in lost] + [(T_SEC + 31, fr) for fr in late]:
            f.write(struct.pack("<IIII", t, 0, len(frame), len(frame)) + frame)
    stats = IngestStats()
    reassembler = Reassembler(stats)
    out = list(read_datagrams(path, stats=stats, reassembler=reassembler))
    assert [d.payload for d in out] == [payload(2, 3000)]
    assert stats["fragments-dropped-timeout"] == len(lost)
    assert len(reassembler) == 0


def test_incomplete_at_end_of_input_is_counted(tmp_path: Path) -> None:
    frags = fragments(payload(1, 3000), 1)[:-1]
    out, stats = read(write_pcap(tmp_path / "end.pcap", frags))
    assert out == [] and stats["fragments-dropped-incomplete"] == len(frags)


def test_overlapping_and_duplicate_fragments(tmp_path: Path) -> None:
    udp = bytes(UDP(sport=SPORT, dport=DPORT) / Raw(payload(1, 64)))

    def frag(ident: int, off: int, data: bytes, more: bool) -> bytes:
        return bytes(Ether() / IP(src=SRC, dst=DST, id=ident, proto=17, frag=off // 8,
                                  flags="MF" if more else 0) / Raw(data))

    frames = [
        frag(1, 0, udp[:32], True), frag(1, 24, udp[24:], False),  # overlap by 8 bytes
        frag(2, 0, udp[:32], True), frag(2, 0, udp[:32], True),  # identical duplicate
        frag(2, 32, udp[32:], False),
        frag(3, 0, udp[:32], True), frag(3, 16, udp[16:24], True),  # inside the first
        frag(3, 32, udp[32:], False),
    ]
    out, stats = read(write_pcap(tmp_path / "ov.pcap", frames))
    assert [d.payload for d in out] == [payload(1, 64)]
    assert stats["fragments-duplicate"] == 1
    assert stats["fragments-dropped-overlap"] == 4  # 2 of datagram 1, 2 of datagram 3
    assert stats["fragments-dropped-incomplete"] == 1  # datagram 3's last fragment


def test_reassembler_is_memory_bounded() -> None:
    stats = IngestStats()
    r = Reassembler(stats, max_pending=16, max_bytes=100_000)
    chunk = b"x" * 1480
    for i in range(5000):  # never-completed datagrams, each with one first fragment
        assert r.add((b"a", b"b", i, 17), 0, True, chunk, float(i) / 1000) is None
        assert len(r) <= 16 and r.pending_bytes <= 100_000
    assert stats["fragments-dropped-overflow"] == 5000 - len(r)
    # Fragments of one datagram count against the byte bound too.
    for k in range(40):
        r.add((b"c", b"d", 1, 17), k * 1480, True, chunk, 10.0)
    assert r.pending_bytes <= 100_000
    # Too big: a fragment reaching past 65535 bytes.
    assert r.add((b"e", b"f", 1, 17), 65000, False, chunk, 10.0) is None
    assert stats["fragments-dropped-too-big"] == 1
    # Too many fragments of one datagram.
    r2 = Reassembler(stats, max_fragments=4)
    for k in range(6):
        r2.add((b"g", b"h", 1, 17), k * 8, True, b"12345678", 0.0)
    assert len(r2) == 1 and stats["fragments-dropped-overflow"] >= 5000 - 16 + 4
    # Invalid: a non-final fragment whose length is not a multiple of 8.
    assert r2.add((b"i", b"j", 1, 17), 0, True, b"123", 0.0) is None
    assert stats["fragments-dropped-invalid"] == 1
    r2.flush()
    assert len(r2) == 0 and r2.pending_bytes == 0


def test_reassembler_completes_without_capture_time() -> None:
    r = Reassembler()
    assert r.add(("s", "d", 1, 17), 8, False, b"tail", None) is None
    assert r.add(("s", "d", 1, 17), 0, True, b"head5678", None) == b"head5678tail"


# ==========================================================================================
# Filters
# ==========================================================================================


def test_port_and_group_filters(tmp_path: Path) -> None:
    frames = [
        ether(payload(1), dst="239.255.0.1", dport=8600),
        ether(payload(2), dst="239.255.0.2", dport=8600),
        ether(payload(3), dst="239.255.0.1", dport=8601),
        *fragments(payload(4, 2000), 9, dst="239.255.0.2", dport=8601),
        *fragments(payload(5, 2000), 10, dst="239.255.0.1", dport=8601),
    ]
    path = write_pcap(tmp_path / "filt.pcap", frames)
    out, stats = read(path, ports={8600})
    assert [d.payload for d in out] == [payload(1), payload(2)]
    assert stats["filtered"] == 3
    out, stats = read(path, groups=["239.255.0.1"])
    assert [d.payload for d in out] == [payload(1), payload(3), payload(5, 2000)]
    # Filtered before reassembly: the unwanted datagram never occupied memory.
    assert stats["reassembled"] == 1
    out, _ = read(path, ports=[8601], groups=["239.255.0.1"])
    assert [d.payload for d in out] == [payload(3), payload(5, 2000)]


# ==========================================================================================
# Truncated, corrupt, garbage, empty inputs
# ==========================================================================================


@pytest.mark.parametrize("cut", [5, 16 + 10, 3])
def test_truncated_capture_delivers_everything_before(tmp_path: Path, cut: int) -> None:
    frames = [ether(payload(i)) for i in range(10)]
    path = write_pcap(tmp_path / "t.pcap", frames)
    data = path.read_bytes()
    # Cut inside the last record's header (cut 5), inside its data (cut 26), or 3 bytes
    # before its end.
    last = len(data) - (16 + len(frames[-1]))
    path.write_bytes(data[:last + cut] if cut != 3 else data[:-3])
    out, stats = read(path)
    assert [d.payload for d in out] == [payload(i) for i in range(9)]
    assert stats["truncated-capture"] == 1
    assert stats["frames"] == 9


def test_absurd_caplen_stops_reading(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "c.pcap", [ether(payload(i)) for i in range(3)])
    with open(path, "ab") as f:
        f.write(struct.pack("<IIII", T_SEC, 0, 0xFFFFFFFF, 60) + b"\0" * 100)
    out, stats = read(path)
    assert len(out) == 3 and stats["corrupt-capture"] == 1


@pytest.mark.parametrize("magic", [b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                                   b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"])
def test_truncated_pcap_header_raises_one_line(tmp_path: Path, magic: bytes) -> None:
    path = tmp_path / "h.pcap"
    path.write_bytes(magic + b"\x02\x00\x04\x00")
    with pytest.raises(CaptureError, match=r"h\.pcap: truncated pcap header$") as err:
        read_datagrams(path)
    assert "\n" not in str(err.value)


def test_missing_file_raises_one_line(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="No such file") as err:
        read_datagrams(tmp_path / "nope.pcap")
    assert "\n" not in str(err.value)


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    out, stats = read(path)
    assert out == [] and stats.summary() == "frames=0, datagrams=0"


def test_garbage_goes_the_raw_path_without_losing_a_byte(tmp_path: Path) -> None:
    garbage = random.Random(1).randbytes(300_000)
    path = tmp_path / "garbage.bin"
    path.write_bytes(garbage)
    out, _ = read(path)
    assert b"".join(d.payload for d in out) == garbage
    assert all(len(d.payload) <= 65536 and d.t_capture is None and d.src is None for d in out)


# ==========================================================================================
# Raw ASTERIX streams
# ==========================================================================================


def test_raw_stream_is_cut_at_block_boundaries(tmp_path: Path) -> None:
    blocks = [payload(i, 4 * (i % 300)) for i in range(2000)]
    data = b"".join(blocks)
    path = tmp_path / "rec.ast"
    path.write_bytes(data)
    out, stats = read(path)
    assert b"".join(d.payload for d in out) == data
    assert len(out) > 1 and stats["datagrams"] == len(out)
    starts = {0}
    pos = 0
    for b in blocks:
        pos += len(b)
        starts.add(pos)
    pos = 0
    for d in out:
        assert len(d.payload) <= 65536
        assert d == Datagram(d.payload, None, None, None)
        pos += len(d.payload)
        assert pos in starts  # every chunk ends on a block boundary


def test_raw_stream_bad_len_yields_the_rest(tmp_path: Path) -> None:
    data = payload(1) + payload(2) + b"\x30\x00\x01" + b"junk" * 10
    out, stats = read(io.BytesIO(data))
    assert [d.payload for d in out] == [payload(1) + payload(2), b"\x30\x00\x01" + b"junk" * 10]
    assert stats["raw-desync"] == 1
    # A last block that runs past the end is handed over as it is.
    out, stats = read(io.BytesIO(payload(1) + payload(2)[:-5]))
    assert [d.payload for d in out] == [payload(1), payload(2)[:-5]]
    assert stats["truncated-capture"] == 1
    # A long desynchronised tail goes out in bounded pieces.
    tail = b"\x30\x00\x00" + bytes(200_000)
    out, _ = read(io.BytesIO(tail))
    assert b"".join(d.payload for d in out) == tail and max(len(d.payload) for d in out) <= 65536


def test_pcapng_magic_without_byte_order_magic_is_raw_cat010() -> None:
    block = b"\x0a\x0d\x0d\x0a" + bytes(0x0D0D - 4)  # a CAT010 block 3341 bytes long
    assert detect_format(block) == "raw"
    out, _ = read(io.BytesIO(block))
    assert [d.payload for d in out] == [block]


# ==========================================================================================
# Other sources: streams, stdin, gzip
# ==========================================================================================


class _PipeLike:
    """Non-seekable, no read1, and returns short reads, like a raw pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, n: int = -1) -> bytes:
        n = min(n, 7) if n >= 0 else len(self._data)
        out, self._data = self._data[:n], self._data[n:]
        return out


def test_binary_streams(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "s.pcap", [ether(payload(i)) for i in range(20)])
    expected = [payload(i) for i in range(20)]
    with open(path, "rb") as f:
        assert [d.payload for d in read_datagrams(f)] == expected
        assert not f.closed  # the caller's stream is the caller's to close
    assert [d.payload for d in read(io.BytesIO(path.read_bytes()))[0]] == expected
    out, _ = read(_PipeLike(path.read_bytes()))
    assert [d.payload for d in out] == expected and out[3].t_capture == T + 3
    out, _ = read(_PipeLike(b"".join(expected)))  # raw stream through short reads
    assert b"".join(d.payload for d in out) == b"".join(expected)


def test_gzipped_capture(tmp_path: Path) -> None:
    plain = write_pcap(tmp_path / "g.pcap", [ether(payload(i)) for i in range(5)])
    packed = tmp_path / "g.pcap.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    out, _ = read(packed)
    assert [d.payload for d in out] == [payload(i) for i in range(5)]
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(packed.read_bytes()[:-30])
    out, stats = read(cut)
    assert len(out) <= 5 and stats["corrupt-gzip"] == 1


def test_unusable_streams_and_filters_raise_one_line(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="text stream"):
        read_datagrams(io.StringIO("abc"))  # type: ignore[arg-type]
    bad_gzip = tmp_path / "bad.gz"
    bad_gzip.write_bytes(b"\x1f\x8b\x08" + b"\xff" * 40)
    with pytest.raises(CaptureError, match="not a valid gzip stream") as err:
        read_datagrams(bad_gzip)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="'eth0' is not an IPv4 address"):
        read_datagrams(io.BytesIO(_SEED_PCAP), groups=["eth0"])


def test_stdin_by_content(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "in.pcap", [ether(payload(i)) for i in range(50)], nano=True,
                      t0=(T_SEC, 508910123))
    code = (
        "from gateway.ingest import read_datagrams, IngestStats\n"
        "s = IngestStats()\n"
        "out = list(read_datagrams('-', stats=s))\n"
        "print(len(out), repr(out[0].t_capture), out[49].payload.hex(), s.summary())\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    res = subprocess.run([sys.executable, "-c", code], input=path.read_bytes(),
                         capture_output=True, timeout=60, env=env, check=True)
    count, t, last, summary = res.stdout.decode().split(" ", 3)
    assert int(count) == 50 and float(t) == 1462433756.508910123
    assert bytes.fromhex(last) == payload(49)
    assert summary.strip() == "frames=50, datagrams=50"


# ==========================================================================================
# Fuzzing: hostile bytes never raise
# ==========================================================================================

_SEED_PCAP = b"".join(
    [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    + [struct.pack("<IIII", T_SEC, i, 82, 82) + ether(payload(i, 36)) for i in range(4)]
)
_SEED_PCAPNG = shb() + idb("<", 1) + b"".join(epb("<", 0, i, ether(payload(i))) for i in range(3))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from([_SEED_PCAP, _SEED_PCAPNG]),
       edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=8),
       cut=st.integers(0, 500))
def test_mutated_captures_never_raise(seed: bytes, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for at, value in edits:
        if at < len(data):
            data[at] = value
    stats = IngestStats()
    try:
        out = list(read_datagrams(io.BytesIO(bytes(data[:cut] if cut else data)), stats=stats))
    except CaptureError as e:
        assert "\n" not in str(e)
        return
    assert all(isinstance(d.payload, bytes) for d in out)


@settings(max_examples=300, deadline=None)
@given(linktype=st.sampled_from([0, 1, 12, 101, 113, 228, 276, 9999]), frame=st.binary(max_size=80))
def test_random_frames_never_raise(linktype: int, frame: bytes) -> None:
    decoder = FrameDecoder()
    result = decoder.decode(linktype, frame, 1.0)
    assert result is None or isinstance(result, Datagram)
    assert sum(decoder.stats.counts.values()) >= (result is None)


# ==========================================================================================
# udp:// URLs
# ==========================================================================================


def test_parse_udp_url() -> None:
    assert parse_udp_url("udp://239.255.0.1:8600") == UdpUrl("239.255.0.1", 8600, None, None)
    url = parse_udp_url("udp://232.1.1.1:5000?iface=10.0.0.2&source=10.0.0.9")
    assert url == UdpUrl("232.1.1.1", 5000, "10.0.0.2", "10.0.0.9")
    assert str(url) == "udp://232.1.1.1:5000?iface=10.0.0.2&source=10.0.0.9"
    assert UdpUrl.parse("UDP://127.0.0.1:9/").is_multicast is False
    with pytest.raises(AttributeError):
        url.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tcp://239.1.1.1:1", "expected udp://"),
        ("239.1.1.1:1", "expected udp://"),
        ("udp://239.1.1.1", "missing GROUP:PORT"),
        ("udp://:8600", "missing GROUP:PORT"),
        ("udp://radar.local:8600", "not an IPv4 address"),
        ("udp://239.1.1.256:8600", "not an IPv4 address"),
        ("udp://239.1.1.1:0", "port"),
        ("udp://239.1.1.1:70000", "port"),
        ("udp://239.1.1.1:x", "port"),
        ("udp://[ff02::1]:8600", "IPv6"),
        ("udp://239.1.1.1:8600?ifce=1.2.3.4", "unknown parameter 'ifce'"),
        ("udp://239.1.1.1:8600?iface=", "needs a value"),
        ("udp://239.1.1.1:8600?iface=eth0", "iface 'eth0' is not an IPv4 address"),
        ("udp://239.1.1.1:8600?iface=1.2.3.4&iface=1.2.3.5", "given twice"),
        ("udp://10.0.0.1:8600?source=10.0.0.2", "needs a multicast group"),
        ("udp://239.1.1.1:8600/path", "no path"),
    ],
)
def test_bad_udp_urls(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as err:
        parse_udp_url(text)
    assert "\n" not in str(err.value)


# ==========================================================================================
# Live multicast on loopback
# ==========================================================================================


def _sender() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    s.bind(("127.0.0.1", 0))
    return s


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _open_or_skip(url: UdpUrl) -> socket.socket:
    try:
        return open_multicast(url)
    except OSError as e:
        pytest.skip(f"cannot join {url.group} on lo in this sandbox ({e}); "
                    "check `ip link show lo` for MULTICAST")


def test_multicast_on_loopback() -> None:
    port = _free_port()
    url = parse_udp_url(f"udp://239.255.77.1:{port}?iface=127.0.0.1")
    other_url = parse_udp_url(f"udp://239.255.77.2:{port}?iface=127.0.0.1")
    rx = _open_or_skip(url)
    other = _open_or_skip(other_url)
    tx = _sender()
    try:
        assert rcvbuf_granted(rx) >= 1 << 16
        rx.settimeout(5)
        other.settimeout(5)
        sent = [payload(i) for i in range(50)]
        for p in sent:
            tx.sendto(p, (url.group, port))
        tx.sendto(b"marker", (other_url.group, port))
        got = [rx.recvfrom(65535) for _ in sent]
        assert [g[0] for g in got] == sent
        assert got[0][1][0] == "127.0.0.1"
        # The socket bound to the other group on the same port saw none of the 50: the
        # first thing it receives is the marker sent after them.
        assert other.recvfrom(65535)[0] == b"marker"
    finally:
        for s in (rx, other, tx):
            s.close()


def test_source_specific_multicast_on_loopback() -> None:
    port = _free_port()
    rx = _open_or_skip(parse_udp_url(
        f"udp://232.255.77.3:{port}?iface=127.0.0.1&source=127.0.0.1"))
    tx = _sender()
    try:
        rx.settimeout(5)
        tx.sendto(b"ssm", ("232.255.77.3", port))
        assert rx.recvfrom(100)[0] == b"ssm"
    finally:
        rx.close()
        tx.close()


def test_iter_multicast_stops_on_event() -> None:
    port = _free_port()
    url = parse_udp_url(f"udp://239.255.77.4:{port}?iface=127.0.0.1")
    _open_or_skip(url).close()
    stop = threading.Event()
    received: list[Datagram] = []
    ready = threading.Event()

    def consume() -> None:
        feed = iter_multicast(url, stop=stop, timeout=0.05)
        ready.set()
        for d in feed:
            received.append(d)
            if len(received) == 5:
                stop.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    ready.wait(5)
    tx = _sender()
    try:
        for _ in range(200):  # resend until the generator's socket has joined
            tx.sendto(b"ping", (url.group, port))
            if stop.wait(0.02):
                break
    finally:
        tx.close()
    thread.join(5)
    assert not thread.is_alive()
    assert len(received) == 5
    d = received[0]
    assert d.payload == b"ping" and d.dst == (url.group, port) and d.src[0] == "127.0.0.1"
    assert isinstance(d.t_capture, float) and d.t_capture > 1.6e9


def test_kernel_drops(tmp_path: Path) -> None:
    value = kernel_drops()
    assert value is None or value >= 0
    snmp = tmp_path / "snmp"
    snmp.write_text("Ip: Forwarding\nIp: 1\nUdp: InDatagrams NoPorts InErrors OutDatagrams "
                    "RcvbufErrors SndbufErrors\nUdp: 10 0 0 5 42 0\n")
    assert kernel_drops(snmp) == 42
    assert kernel_drops(tmp_path / "missing") is None
    snmp.write_text("garbage")
    assert kernel_drops(snmp) is None
