"""What every input source hands to the decoder, and the tally of what it had to skip.

A capture, a raw file and a live socket all reduce to the same record so the decoder never
needs to know where its bytes came from.  Problems in hostile input are not exceptions:
they are counted by kind and skipped, and the tally is what an operator reads afterwards.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple


class Datagram(NamedTuple):
    """One UDP payload (or one chunk of whole ASTERIX blocks from a raw stream).

    ``t_capture`` is epoch seconds as a float: float64 keeps ~0.2 µs at today's epoch
    magnitudes, enough for nanosecond captures.  It is None where the source has no clock
    (raw files, SPB records).  ``src``/``dst`` are ``(ip, port)``, None for raw streams.
    """

    payload: bytes
    t_capture: float | None
    src: tuple[str, int] | None
    dst: tuple[str, int] | None


# The kinds a reader may count, in the order a summary lists them.  Readers may add others.
KINDS: tuple[str, ...] = (
    "frames",  # link-layer records read from a capture
    "datagrams",  # Datagrams handed downstream
    "raw-desync",  # a raw stream whose block LEN was invalid: the rest went out unaligned
    "non-ip",  # frames that carry something other than IPv4 (ARP, IPv6, LLC, ...)
    "non-udp",  # IPv4 packets of another protocol
    "truncated-frame",  # frames cut short by the snap length (or shorter than their headers)
    "bad-ip-header",  # IPv4 version, IHL or total length that cannot be right
    "bad-udp-header",  # UDP length below 8 or beyond the IP payload
    "unsupported-linktype",  # frames of a DLT this reader does not parse
    "fragments",  # IPv4 fragments taken into reassembly
    "reassembled",  # datagrams completed from fragments
    "fragments-duplicate",  # an identical copy of a fragment already held: ignored
    "fragments-dropped-timeout",  # fragments of a datagram never completed in time
    "fragments-dropped-overflow",  # fragments evicted to keep reassembly memory bounded
    "fragments-dropped-overlap",  # fragments of a datagram whose pieces overlap/disagree
    "fragments-dropped-too-big",  # fragments of a datagram that would exceed 65535 bytes
    "fragments-dropped-invalid",  # a non-final fragment whose length is not a multiple of 8
    "fragments-dropped-incomplete",  # fragments still pending when the input ended
    "filtered",  # datagrams not addressed to a wanted port or group
    "bad-block",  # a pcapng block whose fields are inconsistent (skipped)
    "truncated-capture",  # the input ended inside a record
    "corrupt-capture",  # record framing broken (absurd length): reading stopped there
    "corrupt-gzip",  # a gzip-compressed input that ended early or failed to decompress
)


@dataclass
class IngestStats:
    """Counters by kind, shared by every layer that reads one input.

    A plain Counter so callers can merge, compare and serialise it freely; readers flush
    their hot counters into it at chunk boundaries, not per packet.
    """

    counts: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] += n

    def __getitem__(self, kind: str) -> int:
        return self.counts[kind]

    def summary(self) -> str:
        """One line, frames and datagrams always first, then every non-zero kind."""
        known = [k for k in KINDS if k in ("frames", "datagrams") or self.counts[k]]
        extra = sorted(k for k, v in self.counts.items() if v and k not in KINDS)
        return ", ".join(f"{k}={self.counts[k]}" for k in known + extra)

    def __str__(self) -> str:
        return self.summary()
