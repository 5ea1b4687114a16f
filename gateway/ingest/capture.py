"""Files and streams → Datagrams: classic pcap, pcapng, or a raw ASTERIX byte stream.

The format is decided by content, never by name: operators rename files, and stdin has no
name.  Both capture formats are read here with struct over large buffered reads rather than
through scapy's ``RawPcapReader``/``RawPcapNgReader``, which were measured and found short:

* pcapng: scapy keeps interface ids across sections (a second section's interface 0 gets
  the first section's link type and tsresol), ignores ``if_tsoffset``, and reads a block of
  any claimed length into memory (a 4 GiB length on a pipe);
* both: a file that ends inside a record ends the iteration exactly like a clean end, with
  only a logging warning, so the loss could not be counted;
* both: two or more ``read`` calls and a namedtuple per record cost more than the whole of
  our per-frame decoding (scapy's pcapng reader alone does ~330k records/s here).

The formats are small (pcap: a 24-byte header, then 16-byte record headers; pcapng: typed,
length-framed blocks), and the reads below stay bounded whatever the lengths claim.
Timestamps are computed from integers in one correctly rounded division, so a µs capture's
1462433756.508910 comes out as exactly ``float("1462433756.508910")``.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from gateway.ingest.datagram import Datagram, IngestStats
from gateway.ingest.frames import FrameDecoder, FrameFn, Reassembler

__all__ = ["CaptureError", "read_datagrams", "detect_format"]

CHUNK = 1 << 20  # bytes per read: big enough that per-read overhead vanishes
MAX_RECORD = 1 << 20  # a pcap caplen beyond this is corruption (libpcap's own limit: 256 KiB)
MAX_BLOCK = 16 << 20  # a pcapng block beyond this is corruption (Wireshark's limit)
MAX_RAW_CHUNK = 1 << 16  # a raw stream is cut into chunks of whole blocks up to this size

PCAP_MAGICS: dict[bytes, tuple[str, int]] = {  # magic → (byte order, ticks per second)
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
PCAPNG_BOMS = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
GZIP_MAGIC = b"\x1f\x8b\x08"  # with the only compression method gzip defines (deflate)
SNIFF = 24  # bytes read before deciding: a whole pcap header, a pcapng SHB's first 12

Read = Callable[[int], bytes]
_new_datagram = tuple.__new__


class CaptureError(Exception):
    """An input that cannot be read at all; the message is one line naming the input."""


def detect_format(head: bytes) -> str:
    """'pcap', 'pcapng', 'gzip', or 'raw' from an input's first bytes (up to ``SNIFF``).

    pcapng's magic 0A0D0D0A is also a plausible CAT010 block header, so pcapng is claimed
    only if the byte-order magic follows; pcap magics are CAT 161/212/77 headers and gzip's
    a CAT031 block of over 35 KB, none of which a radar sends.
    """
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_MAGIC and (len(head) < 12 or head[8:12] in PCAPNG_BOMS):
        return "pcapng"
    if head[:3] == GZIP_MAGIC:
        return "gzip"
    return "raw"


def read_datagrams(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    ports: Iterable[int] | None = None,
    groups: Iterable[str] | None = None,
    stats: IngestStats | None = None,
    reassembler: Reassembler | None = None,
) -> Iterator[Datagram]:
    """Every UDP datagram of a capture, or whole-block chunks of a raw ASTERIX stream.

    ``source`` is a path, ``"-"`` for stdin, an open binary stream, or a ``udp://`` URL
    (handed to ``iter_multicast``).  The input is opened and its header checked here, so an
    unreadable input raises ``CaptureError`` at the call, not at the first ``next()``.
    Problems inside the input are counted in ``stats`` and skipped.  ``ports`` and
    ``groups`` filter captures only; a raw stream has no addresses.  A ``reassembler``
    passed in (to set its bounds) should count into the same ``stats``.
    """
    stats = stats if stats is not None else IngestStats()
    if isinstance(source, str) and source.startswith("udp://"):
        from gateway.ingest.multicast import iter_multicast
        from gateway.ingest.url import parse_udp_url

        return iter_multicast(parse_udp_url(source))
    stream, name, owned = _open(source)
    checked: object = stream  # typed binary, but an untyped caller can hand over a text stream
    if isinstance(checked, io.TextIOBase):
        raise CaptureError(f"{name}: a text stream; pass a binary one (e.g. sys.stdin.buffer)")
    try:
        read = _reader(stream)
        head = _read_upto(read, SNIFF)
        fmt = detect_format(head)
        if fmt == "gzip":
            # Streamed, so a decompression bomb costs time, never memory.
            inner = gzip.GzipFile(fileobj=_Prefixed(head, read), mode="rb")
            try:
                head = _read_upto(inner.read1, SNIFF)
            except (EOFError, OSError, zlib.error) as e:
                raise CaptureError(f"{name}: not a valid gzip stream ({e})") from None
            read = _gzip_reader(inner, stats)
            fmt = detect_format(head)
            if fmt == "gzip":
                raise CaptureError(f"{name}: gzip inside gzip is not supported")
        if fmt == "pcap":
            records = _pcap(read, head, name, _decoder(stats, ports, groups, reassembler))
        elif fmt == "pcapng":
            records = _pcapng(read, head, name, _decoder(stats, ports, groups, reassembler))
        else:
            records = _raw(read, head, stats)
    except BaseException:
        if owned:
            stream.close()
        raise
    return _closing(records, stream if owned else None)


def _decoder(
    stats: IngestStats,
    ports: Iterable[int] | None,
    groups: Iterable[str] | None,
    reassembler: Reassembler | None,
) -> FrameDecoder:
    return FrameDecoder(stats, ports=ports, groups=groups, reassembler=reassembler)


def _open(source: str | os.PathLike[str] | IO[bytes]) -> tuple[IO[bytes], str, bool]:
    """(stream, name for messages, whether we own and must close it)."""
    if isinstance(source, (str, os.PathLike)):
        if source == "-":
            return sys.stdin.buffer, "<stdin>", False
        name = os.fspath(source)
        try:
            # Unbuffered: our own reads are 1 MiB, a second buffer would only copy.
            return open(name, "rb", buffering=0), name, True
        except OSError as e:
            raise CaptureError(f"{name}: {e.strerror or e}") from None
    return source, str(getattr(source, "name", "<stream>")), False


def _reader(stream: IO[bytes]) -> Read:
    """A read that returns what is available (pipes must not wait for a full MiB)."""
    read1 = getattr(stream, "read1", None)
    return read1 if callable(read1) else stream.read


def _read_upto(read: Read, n: int) -> bytes:
    """Exactly ``n`` bytes, fewer only at end of input."""
    data = read(n)
    if len(data) >= n or not data:
        return data
    pieces = [data]
    have = len(data)
    while have < n:
        more = read(n - have)
        if not more:
            break
        pieces.append(more)
        have += len(more)
    return b"".join(pieces)


def _refill(read: Read, buf: bytes, pos: int, need: int) -> bytes:
    """The unread part of ``buf`` plus at least ``need`` bytes in all, fewer only at EOF."""
    pieces = [buf[pos:]] if pos < len(buf) else []
    have = len(buf) - pos if pos < len(buf) else 0
    while True:
        more = read(max(CHUNK, need - have))
        if not more:
            break
        pieces.append(more)
        have += len(more)
        if have >= need:
            break
    return b"".join(pieces)


class _Prefixed:
    """A read-only stream that replays bytes already consumed while sniffing (for gzip)."""

    def __init__(self, head: bytes, read: Read) -> None:
        self._head = head
        self._read = read

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0 or n >= len(self._head):
                out, self._head = self._head, b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            return out
        if n < 0:
            return _read_all(self._read)
        return self._read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        """Part of the file protocol gzip declares; a streamed input cannot seek."""
        raise io.UnsupportedOperation("a streamed input cannot seek")


def _read_all(read: Read) -> bytes:
    pieces = []
    while more := read(CHUNK):
        pieces.append(more)
    return b"".join(pieces)


def _gzip_reader(stream: gzip.GzipFile, stats: IngestStats) -> Read:
    """Decompression errors end the input (counted) instead of escaping as exceptions.

    Counted as their own kind: the container reader still counts a record it was in the
    middle of as truncated-capture, which is a second, different fact.
    """

    failed = False

    def read(n: int) -> bytes:
        nonlocal failed
        if failed:
            return b""
        try:
            return stream.read1(n)
        except (EOFError, OSError, zlib.error):  # cut short, or not valid gzip after all
            failed = True
            stats.add("corrupt-gzip")
            return b""

    return read


def _closing(records: Iterator[Datagram], stream: IO[bytes] | None) -> Iterator[Datagram]:
    try:
        yield from records
    finally:
        if stream is not None:
            stream.close()


# -- classic pcap -------------------------------------------------------------------------


def _pcap(read: Read, head: bytes, name: str, decoder: FrameDecoder) -> Iterator[Datagram]:
    """Check the header now (so errors raise at the call), then iterate lazily."""
    if len(head) < 24:
        head = _refill(read, head, 0, 24)
        if len(head) < 24:
            raise CaptureError(f"{name}: truncated pcap header")
    endian, ticks = PCAP_MAGICS[head[:4]]
    (linktype,) = struct.unpack_from(endian + "I", head, 20)
    # Bits 16+ carry FCS information; the link type proper is the low 16 bits.
    return _pcap_records(read, head, 24, endian, ticks, decoder.for_linktype(linktype & 0xFFFF),
                         decoder)


def _next_chunk(read: Read, buf: bytes, pos: int, need: int, decoder: FrameDecoder,
                ) -> bytes | None:
    """``buf`` from ``pos`` on, refilled to hold ``need`` bytes; None at the end of input,
    which is counted as a truncated capture when it falls inside a record."""
    buf = _refill(read, buf, pos, need)
    if len(buf) >= need:
        return buf
    if buf:
        decoder.counts["truncated-capture"] += 1
    decoder.finish()
    return None


def _pcap_records(
    read: Read, buf: bytes, pos: int, endian: str, ticks: int, frame: FrameFn,
    decoder: FrameDecoder,
) -> Iterator[Datagram]:
    counts = decoder.counts
    record = struct.Struct(endian + "IIII").unpack_from
    frames = datagrams = 0
    try:
        while True:
            n = len(buf)
            while pos + 16 <= n:
                sec, frac, caplen, _wirelen = record(buf, pos)
                start = pos + 16
                end = start + caplen
                if end > n:
                    if caplen > MAX_RECORD:
                        counts["corrupt-capture"] += 1
                        decoder.finish()
                        return
                    break
                pos = end
                frames += 1
                d = frame(buf, start, end, (sec * ticks + frac) / ticks)
                if d is not None:
                    datagrams += 1
                    yield d
            counts["frames"] += frames
            counts["datagrams"] += datagrams
            frames = datagrams = 0
            need = 16 if pos + 16 > n else 16 + record(buf, pos)[2]
            more = _next_chunk(read, buf, pos, need, decoder)
            if more is None:
                return
            buf, pos = more, 0
    finally:
        counts["frames"] += frames
        counts["datagrams"] += datagrams


# -- pcapng -------------------------------------------------------------------------------

_SHB = 0x0A0D0D0A
_IDB, _PB, _SPB, _EPB = 1, 2, 3, 6


class _Section:
    """Per-section state: pcapng numbers interfaces from 0 again in every section."""

    def __init__(self, endian: str) -> None:
        self.endian = endian
        self.u16 = struct.Struct(endian + "H").unpack_from
        self.u32 = struct.Struct(endian + "I").unpack_from
        self.opt = struct.Struct(endian + "HH").unpack_from
        self.block = struct.Struct(endian + "II").unpack_from
        self.epb = struct.Struct(endian + "IIIII").unpack_from
        self.pb = struct.Struct(endian + "HHIIII").unpack_from
        # (frame function, ticks per second, tsoffset in ticks, snaplen) per interface
        self.interfaces: list[tuple[FrameFn, int, int, int]] = []


def _pcapng(read: Read, head: bytes, name: str, decoder: FrameDecoder) -> Iterator[Datagram]:
    if len(head) < 28:
        head = _refill(read, head, 0, 28)
        if len(head) < 28:
            raise CaptureError(f"{name}: truncated pcapng header")
    if head[8:12] not in PCAPNG_BOMS:
        raise CaptureError(f"{name}: bad pcapng byte-order magic")
    return _pcapng_blocks(read, head, decoder)


def _pcapng_blocks(read: Read, buf: bytes, decoder: FrameDecoder) -> Iterator[Datagram]:
    counts = decoder.counts
    sec = _Section("<")
    pos = 0
    frames = datagrams = 0
    try:
        while True:
            n = len(buf)
            while pos + 12 <= n:
                btype, blen = sec.block(buf, pos)
                if btype == _SHB:  # a palindrome: the same in either byte order
                    endian = PCAPNG_BOMS.get(buf[pos + 8:pos + 12])
                    if endian is None:
                        counts["corrupt-capture"] += 1
                        decoder.finish()
                        return
                    if endian != sec.endian:
                        sec = _Section(endian)
                    (blen,) = sec.u32(buf, pos + 4)
                if blen < 12 or blen & 3 or blen > MAX_BLOCK:
                    counts["corrupt-capture"] += 1
                    decoder.finish()
                    return
                end = pos + blen
                if end > n:
                    break
                if sec.u32(buf, end - 4)[0] != blen:
                    counts["corrupt-capture"] += 1
                    decoder.finish()
                    return
                if btype == _EPB:
                    if blen < 32:
                        counts["bad-block"] += 1
                    else:
                        intid, hi, lo, caplen, _wirelen = sec.epb(buf, pos + 8)
                        if intid >= len(sec.interfaces) or 32 + caplen > blen:
                            counts["bad-block"] += 1
                        else:
                            frame, ticks, offset, _ = sec.interfaces[intid]
                            frames += 1
                            d = frame(buf, pos + 28, pos + 28 + caplen,
                                      ((hi << 32 | lo) + offset) / ticks)
                            if d is not None:
                                datagrams += 1
                                yield d
                elif btype == _SPB or btype == _PB:
                    rec = (_spb if btype == _SPB else _pb)(sec, buf, pos, blen, counts)
                    if rec is not None:
                        frames += 1
                        d = rec[0](buf, rec[1], rec[2], rec[3])
                        if d is not None:
                            datagrams += 1
                            yield d
                elif btype == _IDB:
                    _idb(sec, buf, pos, blen, decoder)
                elif btype == _SHB:
                    if blen < 28 or sec.u16(buf, pos + 12)[0] != 1:
                        counts["corrupt-capture"] += 1  # too short, or not major version 1
                        decoder.finish()
                        return
                    sec.interfaces = []
                pos = end
            counts["frames"] += frames
            counts["datagrams"] += datagrams
            frames = datagrams = 0
            need = 12
            if pos + 12 <= n:
                need = sec.block(buf, pos)[1]
                if buf[pos:pos + 4] == PCAPNG_MAGIC:
                    endian = PCAPNG_BOMS.get(buf[pos + 8:pos + 12], sec.endian)
                    need = struct.unpack_from(endian + "I", buf, pos + 4)[0]
            more = _next_chunk(read, buf, pos, need, decoder)
            if more is None:
                return
            buf, pos = more, 0
    finally:
        counts["frames"] += frames
        counts["datagrams"] += datagrams


PacketRef = tuple[FrameFn, int, int, "float | None"]  # frame function, start, end, time


def _spb(
    sec: _Section, buf: bytes, pos: int, blen: int, counts: dict[str, int]
) -> PacketRef | None:
    """Simple Packet Block: interface 0, no timestamp, length only from the wire length."""
    if blen < 16 or not sec.interfaces:
        counts["bad-block"] += 1
        return None
    frame, _, _, snaplen = sec.interfaces[0]
    caplen = min(sec.u32(buf, pos + 8)[0], blen - 16)
    if snaplen:
        caplen = min(caplen, snaplen)
    return frame, pos + 12, pos + 12 + caplen, None


def _pb(
    sec: _Section, buf: bytes, pos: int, blen: int, counts: dict[str, int]
) -> PacketRef | None:
    """Obsolete Packet Block (pcapng drafts before EPB): like EPB with a 16-bit interface."""
    if blen < 32:
        counts["bad-block"] += 1
        return None
    intid, _drops, hi, lo, caplen, _wirelen = sec.pb(buf, pos + 8)
    if intid >= len(sec.interfaces) or 32 + caplen > blen:
        counts["bad-block"] += 1
        return None
    frame, ticks, offset, _ = sec.interfaces[intid]
    return frame, pos + 28, pos + 28 + caplen, ((hi << 32 | lo) + offset) / ticks


def _idb(sec: _Section, buf: bytes, pos: int, blen: int, decoder: FrameDecoder) -> None:
    """Interface Description Block: link type, snaplen, if_tsresol (9), if_tsoffset (14)."""
    if blen < 20:
        decoder.counts["bad-block"] += 1
        # Keep numbering aligned: later blocks name interfaces by position.
        sec.interfaces.append((decoder.for_linktype(-1), 1_000_000, 0, 0))
        return
    (linktype,) = sec.u16(buf, pos + 8)
    (snaplen,) = sec.u32(buf, pos + 12)
    ticks, offset_s = 1_000_000, 0
    opt, end = pos + 16, pos + blen - 4
    while opt + 4 <= end:
        code, length = sec.opt(buf, opt)
        value = opt + 4
        if code == 0 or value + length > end:
            break
        if code == 9 and length >= 1:
            r = buf[value]
            # High bit: a negative power of two; otherwise a negative power of ten.
            ticks = 2 ** (r & 0x7F) if r & 0x80 else 10 ** (r & 0x7F)
        elif code == 14 and length >= 8:
            (offset_s,) = struct.unpack_from(sec.endian + "q", buf, value)
        opt = value + length + (-length & 3)
    sec.interfaces.append((decoder.for_linktype(linktype), ticks, offset_s * ticks, snaplen))


# -- raw ASTERIX ----------------------------------------------------------------------------


def _raw(read: Read, buf: bytes, stats: IngestStats) -> Iterator[Datagram]:
    """Chunks of whole data blocks (CAT, LEN16, ...), each at most MAX_RAW_CHUNK bytes.

    Aligned chunks let the decoder treat a recording exactly like datagrams.  Once a LEN is
    impossible the stream is out of step and no later boundary can be trusted, so the rest
    goes out as it is (in bounded pieces) for the decoder to count: no byte is dropped.
    """
    counts = stats.counts
    pos = 0
    window = MAX_RAW_CHUNK + 3  # a full chunk plus the next block's header
    while True:
        if len(buf) - pos < window:
            buf = _refill(read, buf, pos, window)
            pos = 0
        n = len(buf)
        if pos >= n:
            return
        start = pos
        limit = min(n, start + MAX_RAW_CHUNK)
        size = 0
        while pos + 3 <= n:
            size = buf[pos + 1] << 8 | buf[pos + 2]
            if size < 3 or pos + size > limit:
                break
            pos += size
        if pos > start:
            counts["datagrams"] += 1
            yield _new_datagram(Datagram, (buf[start:pos], None, None, None))
            continue
        # No whole block at the chunk's start: bad LEN, or the input ends inside a block.
        counts["raw-desync" if pos + 3 <= n and size < 3 else "truncated-capture"] += 1
        yield from _rest(read, buf, pos, counts)
        return


def _rest(read: Read, buf: bytes, pos: int, counts: dict[str, int]) -> Iterator[Datagram]:
    while True:
        while len(buf) - pos >= MAX_RAW_CHUNK:
            counts["datagrams"] += 1
            yield _new_datagram(Datagram, (buf[pos:pos + MAX_RAW_CHUNK], None, None, None))
            pos += MAX_RAW_CHUNK
        buf = _refill(read, buf, pos, MAX_RAW_CHUNK)
        pos = 0
        if len(buf) < MAX_RAW_CHUNK:
            if buf:
                counts["datagrams"] += 1
                yield _new_datagram(Datagram, (buf, None, None, None))
            return

